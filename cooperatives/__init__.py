"""The middle layer: who keeps books and who takes part (townships, villages, entities, households,
members), the source records accountants think in, and the people who sign in. It may import
``ledger``, never ``payouts``.

* ``models`` — the tables; ``operations`` — every write (registering, recording, importing), each one
  operation with one access rule whatever the channel; ``access`` — who may do what (no Flask);
* ``postings`` — what each record kind posts (pure); ``workbook``/``forms`` — the column rules shared by
  the import, the forms and the API; ``codes`` — one spelling per code, look-alikes refused;
  ``importer`` — the bulk path of a workbook;
* ``queries`` — the read API ``payouts`` builds on; ``privacy`` — encrypted ID and bank numbers;
  ``users`` — passwords and API tokens; ``labels``; ``demo``;
* ``web/`` — pages and the JSON API of this layer, sign-in, the audit log page; ``cli`` — commands.
"""
