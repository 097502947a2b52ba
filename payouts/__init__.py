"""The top layer and composition root: year-end distribution, statements, statutory reports, the township
auditor's workspace — and the app, settings and command line that put all three packages together.

Layers point down: ``payouts → cooperatives → ledger``; nothing here is imported from below.

Root modules (may import every feature):

* ``app`` — ``create_app(settings)``: every blueprint, CLI group and extension, registered in one place;
* ``settings`` — the frozen ``Settings`` (``from_env`` is the only reader of the environment);
* ``cli`` — the ``coopledger`` command; ``wsgi`` — the gunicorn entry; ``tasks`` — Celery adapters over
  the job functions (the same code the local processes run);
* ``models`` — the tables every feature shares (policies, runs, members' outcomes, statements,
  objections, receipts, render jobs, audit opinions, integrity checks).

Features (same file names in each: ``operations`` writes, ``web/`` or ``web.py`` pages and API, ``cli``
commands, ``labels`` words):

* ``runs/`` — policy, pure computation, snapshot, run operations, pages, API, commands;
* ``statements/`` — statement snapshots, rendering (the only WeasyPrint user), batches and jobs,
  households' and staff pages;
* ``reports/`` — the statutory statements;
* ``oversight/`` — the township auditor's workspace (read-only over the books);
* ``admin/`` — migrations, backup/restore, the demo.

Features import each other's domain modules (``statements`` reads ``runs.snapshot``; ``oversight`` reads
``runs.labels``) but never each other's web modules; no feature imports the root modules but ``models``
and ``settings`` (``tests/test_layering.py`` holds these rules).
"""
