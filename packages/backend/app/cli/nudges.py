"""``delight nudges ...``: run a sweep as of any moment (operators backfill or preview with it), and
print a user's unsubscribe link (support)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated

import typer

from app.cli.common import settings_or_exit
from app.core.config import Settings
from app.core.logging import configure_logging
from app.kit.clock import parse_now
from app.models.enums import NotificationChannel

app = typer.Typer(help="Nudges and notifications (docs/nudges.md).", no_args_is_help=True)


def _settings() -> Settings:
    from app.devtools.devserver import data_dir, use_dev_env  # noqa: PLC0415

    use_dev_env(data_dir())  # next to `delight dev`: its database, secrets and mail sink
    return settings_or_exit()


def _moment(value: str | None) -> datetime:
    try:
        return parse_now(value)
    except ValueError as exc:
        typer.echo(f"--at: {exc} (ISO 8601 with an offset, e.g. 2026-03-02T10:00:00Z)", err=True)
        raise typer.Exit(2) from None


@app.command()
def run(
    at: Annotated[
        str | None, typer.Option(help="Sweep as if it were this moment (ISO 8601); default: now")
    ] = None,
    user: Annotated[str | None, typer.Option(help="Only this user (Clerk user id)")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent and why not; change nothing")
    ] = False,
) -> None:
    """One sweep, like the worker's every 15 minutes: plan the notes due at --at, then deliver them.

    Idempotent: a second run at the same moment sends nothing more. With --user, says why for that
    user; with --dry-run, prints the decisions and writes and sends nothing.
    """
    settings = _settings()
    configure_logging("WARNING", json=settings.json_logs)
    moment = _moment(at)
    code = asyncio.run(_run(settings, moment, user, dry_run))
    raise typer.Exit(code)


async def _run(settings: Settings, moment: datetime, clerk_user_id: str | None, dry_run: bool) -> int:
    from app import nudges, users  # noqa: PLC0415 - the CLI stays light until a command runs
    from app.runtime import create_resources  # noqa: PLC0415

    resources = create_resources(settings)
    try:
        user_id = None
        if clerk_user_id is not None:
            async with resources.sessions() as session:
                found = await users.get_by_clerk_id(session, clerk_user_id)
            if found is None:
                typer.echo(f"no user {clerk_user_id}", err=True)
                return 1
            user_id = found.id
        report = await nudges.run_sweep(resources, moment, user_id=user_id, dry_run=dry_run)
    finally:
        await resources.close()
    for line in report.lines:
        typer.echo(line)
    typer.echo(json.dumps(report.summary(), indent=2))
    return 1 if report.errors else 0


@app.command()
def link(
    user: Annotated[str, typer.Option(help="Clerk user id")],
    channel: Annotated[
        NotificationChannel, typer.Option(help="The channel the link turns off")
    ] = NotificationChannel.email,
) -> None:
    """Print the user's one-click unsubscribe link for one channel (valid NOTIFY_UNSUBSCRIBE_TTL_DAYS)."""
    settings = _settings()
    configure_logging("WARNING", json=settings.json_logs)
    code = asyncio.run(_link(settings, user, channel))
    raise typer.Exit(code)


async def _link(settings: Settings, clerk_user_id: str, channel: NotificationChannel) -> int:
    from app import nudges, users  # noqa: PLC0415
    from app.kit.clock import utcnow  # noqa: PLC0415
    from app.runtime import create_resources  # noqa: PLC0415

    resources = create_resources(settings)
    try:
        async with resources.sessions() as session:
            found = await users.get_by_clerk_id(session, clerk_user_id)
    finally:
        await resources.close()
    if found is None:
        typer.echo(f"no user {clerk_user_id}", err=True)
        return 1
    typer.echo(nudges.unsubscribe_url(settings, found.id, channel, utcnow()))
    return 0
