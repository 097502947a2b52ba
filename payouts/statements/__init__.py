"""Statements: what each household is shown, frozen with the run, rendered to HTML and PDF."""
