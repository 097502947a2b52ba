"""The bottom layer: an exact double-entry ledger, one book per entity. It imports nothing from
``cooperatives`` or ``payouts`` (only the standard library, SQLAlchemy, Babel; Flask in ``web/`` and
``cli.py`` only).

What it guarantees, in code and again in the database (``ddl``): every entry balances to the fen; posted
entries and postings are never changed or deleted; a closed year takes no entry; voucher numbers are
gapless per book and year; every book is a hash chain that ``verify`` recomputes.

* ``money`` — Decimal arithmetic, half-up rounding, exact largest-remainder ``allocate``; ``numerals`` —
  amounts in Chinese capital numerals;
* ``chart`` — the MOF charts of accounts and the roles records post to; ``entries`` — pure drafts and
  ``check_entry``; ``errors`` — what the ledger refuses;
* ``db`` — SQLAlchemy base, exact money types, engines; ``models`` — books, accounts, parties, entries,
  postings, periods; ``ddl`` — the triggers;
* ``operations`` — posting (the only writer of the ledger's tables); ``queries`` — balances, trial
  balance; ``verify``; ``beancount`` — the export; ``i18n`` — translatable messages and money formats;
* ``cells`` — spreadsheet cells that are never formulas (every XLSX and CSV export writes through it);
  ``nesting`` — how deeply a JSON or TOML text nests, measured before a parser recurses;
* ``web/support`` — the Flask glue every layer's web code shares; ``web/bounds`` — what the app refuses
  before any view (ids beyond 64 bits, JSON nested too deep); ``cli``/``report_cli`` — commands.
"""
