"""The ``coopledger`` command: a Flask CLI group holding every package's commands.

Flask's own ``run`` is replaced by ``serve`` because ``coopledger run …`` manages distribution runs.
"""

from __future__ import annotations

#: commands that serve no page and render nothing through a view: the command line builds the app for them
#: without its blueprints (start-up in about half the time; they are timed in bench/run.py)
LEAN_COMMANDS = frozenset({"import", "trial-balance", "verify", "export", "init", "close-year", "distribute"})


def _create_app():
    import sys

    from payouts.app import create_app  # here, not at import: `trial-balance` never builds the app

    return create_app(web=not (len(sys.argv) > 1 and sys.argv[1] in LEAN_COMMANDS))


def build_cli():
    """The ``coopledger`` command group (Flask's CLI; imported here so that ``trial-balance`` never loads Flask)."""
    from flask.cli import FlaskGroup, routes_command, shell_command

    class CoopGroup(FlaskGroup):
        def main(self, *args, **kwargs):
            kwargs.setdefault("prog_name", "coopledger")
            return super().main(*args, **kwargs)

    cli = CoopGroup(create_app=_create_app, add_default_commands=False, add_version_option=False,
                    load_dotenv=False, help="coopledger — benefit-sharing ledger for village cooperatives.")
    cli.add_command(shell_command)
    cli.add_command(routes_command)
    return cli


def main() -> None:
    import sys

    if sys.argv[1:2] == ["trial-balance"]:
        # the county-scale report (bench/run.py): answered without building the app at all
        import os

        from ledger.report_cli import standalone_trial_balance
        from payouts.settings import database_url_from

        standalone_trial_balance(database_url_from(os.environ), sys.argv[2:])
        return
    build_cli().main()
