"""``delight dev`` and ``delight dev-token``: local development with nothing to install."""

from __future__ import annotations

from typing import Annotated

import typer


def register(cli: typer.Typer) -> None:
    cli.command()(dev)
    cli.command("dev-token")(dev_token)


def dev(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on")] = 8000,
    reload: Annotated[bool, typer.Option(help="Reload on code changes")] = True,
    worker: Annotated[bool, typer.Option(help="Also run the ARQ worker")] = True,
) -> None:
    """Run everything locally. Without DATABASE_URL/REDIS_URL, embedded PostgreSQL (pgvector) and
    Redis are started, their data kept in packages/backend/.delight/ across restarts."""
    from app.devtools.devserver import run_dev  # noqa: PLC0415 - the CLI stays light until a command runs

    run_dev(host=host, port=port, reload=reload, with_worker=worker)


def dev_token(
    user: Annotated[str, typer.Option(help="Clerk user id (the token's sub)")] = "user_dev",
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds", min=1)] = 3600,
) -> None:
    """Print a development session token signed with the local key pair `delight dev` uses."""
    from app.devtools import devserver  # noqa: PLC0415

    typer.echo(devserver.dev_token(devserver.data_dir(), user, ttl))
