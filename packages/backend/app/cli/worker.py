"""``delight worker``: the ARQ worker."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import settings_or_exit
from app.core.logging import configure_logging


def register(cli: typer.Typer) -> None:
    cli.command()(worker)


def worker(burst: Annotated[bool, typer.Option(help="Exit when the queue is empty")] = False) -> None:
    """Run the ARQ worker against REDIS_URL."""
    from app.workers.main import create_worker  # noqa: PLC0415 - imports every domain

    settings = settings_or_exit()
    configure_logging(settings.log_level, json=settings.json_logs)
    create_worker(settings, burst=burst).run()
