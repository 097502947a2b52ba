"""The statutory statements of a year (会农社01–03, the collective's forms, the 成员账户): built from the
ledger and the records (``statutory``), shown as pages, JSON and Excel (``web``)."""
