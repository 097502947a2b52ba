"""Distribution runs and statements (issue 3 and 4)."""
