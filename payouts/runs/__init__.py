"""Distribution runs: the articles' distribution clause (``policy``), the pure computation of a year's
distribution (``rules``, ``transitions``, ``explain``), the frozen snapshot a run computes from and
stores (``snapshot``), and what an accountant does with a run (``operations``: draft, approve, post,
publish, reverse), with its pages and API (``web/``) and commands (``cli``). Words for states, checks
and bases: ``labels``."""
