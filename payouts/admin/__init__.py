"""Running an installation: schema migrations (``migrate``), backup and restore (``backup``), the demo
world (``demo``, ``demo_anomalies``) and their commands (``cli``: init, serve, backup, restore, demo)."""
