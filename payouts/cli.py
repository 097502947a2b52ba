"""The ``coopledger`` command: a Flask CLI group holding every package's commands.

Flask's own ``run`` is replaced by ``serve`` because ``coopledger run …`` manages distribution runs.
"""

from __future__ import annotations

from flask.cli import FlaskGroup, routes_command, shell_command

from payouts.app import create_app


def _create_app():
    return create_app()


class CoopGroup(FlaskGroup):
    def main(self, *args, **kwargs):
        kwargs.setdefault("prog_name", "coopledger")
        return super().main(*args, **kwargs)


cli = CoopGroup(create_app=_create_app, add_default_commands=False, add_version_option=False,
                load_dotenv=False, help="coopledger — benefit-sharing ledger for village cooperatives.")
cli.add_command(shell_command)
cli.add_command(routes_command)


def main() -> None:
    cli.main()
