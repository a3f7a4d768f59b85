"""The ``delight`` command: one module per command group, assembled here."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from app.cli import database, dev, memory, nudges, webhooks, worker
from app.db.migrate import BACKEND_DIR

cli = typer.Typer(
    help="Delight backend: development server, worker, migrations and maintenance.",
    no_args_is_help=True,
    add_completion=False,
)
for group in (dev, worker, database):
    group.register(cli)
cli.add_typer(memory.app, name="memory")
cli.add_typer(nudges.app, name="nudges")
cli.add_typer(webhooks.app, name="webhooks")


def main() -> None:
    # Run from anywhere: main.py, alembic.ini and .env live in packages/backend.
    if Path.cwd() != BACKEND_DIR and str(BACKEND_DIR) not in sys.path:
        sys.path.insert(0, str(BACKEND_DIR))
    cli()
