"""``delight webhooks ...``: maintenance of the Clerk webhook's effects."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from app.cli.common import settings_or_exit
from app.core.config import Settings
from app.core.logging import configure_logging

app = typer.Typer(help="Clerk webhook maintenance.", no_args_is_help=True)


@app.command("replay-deletions")
def replay_deletions(
    dry_run: Annotated[bool, typer.Option(help="Only count the deletions waiting to be applied")] = False,
) -> None:
    """Apply the user.deleted deliveries recorded while CLERK_WEBHOOK_DELETE_ENABLED was off.

    Needs CLERK_WEBHOOK_DELETE_ENABLED=true (the decision to erase accounts Clerk deleted) and
    REDIS_URL (erasure also removes the user's data in Redis). Idempotent: each delivery is applied
    once, in its own transaction; run it again after an interruption.
    """
    settings = settings_or_exit()
    configure_logging("WARNING", json=settings.json_logs)
    if not dry_run and not settings.clerk_webhook_delete_enabled:
        typer.echo(
            "CLERK_WEBHOOK_DELETE_ENABLED is off: turn it on to erase the accounts Clerk deleted "
            "(or use --dry-run to count them)",
            err=True,
        )
        raise typer.Exit(2)
    if not dry_run and not settings.redis_url:
        typer.echo("REDIS_URL is not set: erasure also removes the users' data in Redis", err=True)
        raise typer.Exit(2)
    found, deleted, absent = asyncio.run(_replay(settings, dry_run))
    if dry_run:
        typer.echo(f"{found} deletions recorded while CLERK_WEBHOOK_DELETE_ENABLED was off")
    else:
        typer.echo(f"{found} deletions found: {deleted} accounts erased, {absent} already absent")


async def _replay(settings: Settings, dry_run: bool) -> tuple[int, int, int]:
    from app import webhooks  # noqa: PLC0415 - the CLI stays light until a command runs
    from app.runtime import create_resources  # noqa: PLC0415

    resources = create_resources(settings)
    try:
        report = await webhooks.replay_deletions(resources.sessions, resources.redis, dry_run=dry_run)
    finally:
        await resources.close()
    return report.found, report.deleted, report.already_absent
