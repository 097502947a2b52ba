"""The ``coopledger`` command: a Flask CLI group holding every package's commands.

Flask's own ``run`` is replaced by ``serve`` because ``coopledger run …`` manages distribution runs.
"""

from __future__ import annotations

import click
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


@cli.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve_command(host: str, port: int):
    """Run the web app with Flask's development server (use gunicorn in production)."""
    from flask import current_app

    current_app.run(host=host, port=port, debug=False, use_reloader=False)


@cli.command("init")
def init_command():
    """Create or upgrade the schema (Alembic upgrade head)."""
    from flask import current_app

    from payouts.migrate import upgrade

    upgrade(current_app.extensions["ledger.sessionmaker"]["engine"])
    click.echo("Schema is at the latest revision.")


def main() -> None:
    cli.main()
