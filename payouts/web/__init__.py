"""Web pages of the payouts package: the statutory statements (``reports``)."""
