"""The ``delight`` command: dev server, worker, migrations and maintenance."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.core.config import ConfigError, Settings, load_settings
from app.core.logging import configure_logging
from app.memory.cli import memory_cli

BACKEND_DIR = Path(__file__).resolve().parent.parent
cli = typer.Typer(
    help="Delight backend: development server, worker, migrations and maintenance.",
    no_args_is_help=True,
    add_completion=False,
)


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(78) from None


def run_migrations(database_url: str, revision: str = "head") -> None:
    """``alembic upgrade`` against ``database_url`` using the project's alembic.ini."""
    from alembic import command  # noqa: PLC0415
    from alembic.config import Config  # noqa: PLC0415

    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    command.upgrade(config, revision)


@cli.command()
def dev(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on")] = 8000,
    reload: Annotated[bool, typer.Option(help="Reload on code changes")] = True,
    worker: Annotated[bool, typer.Option(help="Also run the ARQ worker")] = True,
) -> None:
    """Run everything locally. Without DATABASE_URL/REDIS_URL, embedded PostgreSQL (pgvector) and
    Redis are started, their data kept in packages/backend/.delight/ across restarts."""
    from app.devtools.devserver import run_dev  # noqa: PLC0415

    run_dev(host=host, port=port, reload=reload, with_worker=worker)


@cli.command()
def worker(burst: Annotated[bool, typer.Option(help="Exit when the queue is empty")] = False) -> None:
    """Run the ARQ worker against REDIS_URL."""
    from app.workers.main import create_worker  # noqa: PLC0415

    settings = _settings_or_exit()
    configure_logging(settings.log_level, json=settings.json_logs)
    create_worker(settings, burst=burst).run()


@cli.command("dev-token")
def dev_token(
    user: Annotated[str, typer.Option(help="Clerk user id (the token's sub)")] = "user_dev",
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds", min=1)] = 3600,
) -> None:
    """Print a development session token signed with the local key pair `delight dev` uses."""
    from app.devtools import devserver  # noqa: PLC0415

    typer.echo(devserver.dev_token(devserver.data_dir(), user, ttl))


@cli.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations to DATABASE_URL (same as `alembic upgrade head`)."""
    from dotenv import dotenv_values  # noqa: PLC0415

    # Like alembic and Settings: the environment first, then a .env in the working directory.
    url = os.environ.get("DATABASE_URL") or dotenv_values(".env").get("DATABASE_URL")
    if not url:
        typer.echo("DATABASE_URL is not set.", err=True)
        raise typer.Exit(78)
    run_migrations(url, revision)
    typer.echo(f"database migrated to {revision}")


cli.add_typer(memory_cli, name="memory")


def main() -> None:
    # Run from anywhere: main.py, alembic.ini and .env live in packages/backend.
    if Path.cwd() != BACKEND_DIR and str(BACKEND_DIR) not in sys.path:
        sys.path.insert(0, str(BACKEND_DIR))
    cli()


if __name__ == "__main__":
    main()
