"""``delight memory ...``: maintenance commands of the memory domain."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer

from app.cli.common import settings_or_exit
from app.core.config import Settings
from app.core.embedding import EmbeddingError
from app.core.logging import configure_logging

app = typer.Typer(help="Companion memory maintenance.", no_args_is_help=True)


@app.command()
def reembed(
    batch_size: Annotated[int, typer.Option(help="Memories per embedding call and commit", min=1)] = 64,
    force: Annotated[bool, typer.Option(help="Re-embed every memory, even those already current")] = False,
    after: Annotated[str | None, typer.Option(help="With --force: resume after this memory id")] = None,
) -> None:
    """Re-embed memories with the configured model (after changing EMBEDDING_PROVIDER/MODEL, or to
    add the sentence embeddings of memories stored before migration 0006).

    Without --force only memories embedded by another model, not at all, or without sentence
    embeddings are done, so running it again after an interruption resumes where it stopped.
    Batches commit as they go; search and writes keep working meanwhile.
    """
    settings = settings_or_exit()
    configure_logging("WARNING", json=settings.json_logs)
    start = uuid.UUID(after) if after else None
    done = asyncio.run(_reembed(settings, batch_size, force, start))
    typer.echo(f"re-embedded {done} memories")


async def _reembed(settings: Settings, batch_size: int, force: bool, after: uuid.UUID | None) -> int:
    from app import memory  # noqa: PLC0415 - the CLI stays light until a command runs
    from app.runtime import create_resources  # noqa: PLC0415

    resources = create_resources(settings)
    try:
        embedder = resources.embedder
        total = await memory.count_to_reembed(resources.sessions, embedder.model_name, force)
        typer.echo(f"{total} memories to embed with {embedder.model_name} ({embedder.dimensions} dimensions)")
        last: list[uuid.UUID] = []
        with typer.progressbar(length=total, label="re-embedding") as bar:

            def progress(count: int, last_id: uuid.UUID) -> None:
                bar.update(count)
                last[:] = [last_id]

            try:
                return await memory.reembed(
                    resources.sessions,
                    embedder,
                    batch_size=batch_size,
                    force=force,
                    after=after,
                    progress=progress,
                )
            except EmbeddingError as exc:
                resume = f" --after {last[0]}" if force and last else ""
                typer.echo(f"\nembedding failed ({exc}); run the command again{resume} to resume", err=True)
                raise typer.Exit(1) from None
    finally:
        await resources.close()
