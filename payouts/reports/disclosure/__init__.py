"""财务公开: an entity's disclosure of income and spending for a quarter or a month, for the village board
(公开栏) and a public page (农村集体经济组织财务公开规定 农经发〔2011〕13号: 至少每季度公开一次, 财务往来较多的每月
公开一次; 村民委员会组织法 Art. 30; domain.md §4.4).

* :mod:`.build` — the disclosure of a period read from the books (Session in, frozen dataclass of Decimal out):
  income and spending by account, the money accounts' movement, the notable payments with persons' names masked;
* :mod:`.operations` — :func:`~.operations.publish_disclosure`, the accountant's one write: the figures frozen as
  JSON with their hash, the moment, who, and a public code; a republication supersedes, never edits;
* :mod:`.queries` — publications, their standing against the books as they are now, and the quarters an
  entity has not published (the township's ``missing_disclosure`` anomaly rule);
* :mod:`.document` — the A3 print for the board (:func:`~.document.disclosure_pdf`);
* :mod:`.web` — the entity's staff page (``/e/<code>/disclosure``) and the public page (``/d/<code>``).
"""
