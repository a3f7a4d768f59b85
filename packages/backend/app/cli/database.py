"""``delight migrate``: the release step, like ``alembic upgrade head``."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from app.cli.common import EXIT_CONFIG
from app.db.migrate import run_migrations


def register(cli: typer.Typer) -> None:
    cli.command()(migrate)


def migrate(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations to DATABASE_URL (same as `alembic upgrade head`)."""
    from dotenv import dotenv_values  # noqa: PLC0415

    # Like alembic and Settings: the environment first, then a .env in the working directory.
    url = os.environ.get("DATABASE_URL") or dotenv_values(".env").get("DATABASE_URL")
    if not url:
        typer.echo("DATABASE_URL is not set.", err=True)
        raise typer.Exit(EXIT_CONFIG)
    run_migrations(url, revision)
    typer.echo(f"database migrated to {revision}")
