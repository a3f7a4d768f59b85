"""/api/v1/memories: the signed-in user's companion memories (thin: rules live in the service)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from app.core.deps import ResourcesDep, SessionDep, SettingsDep
from app.core.embedding import Embedder
from app.core.errors import invalid_field
from app.core.openapi import ErrorOut
from app.kit.pagination import decode_cursor, encode_cursor
from app.memory import repository, service
from app.memory.schemas import (
    MemoryCreate,
    MemoryOut,
    MemoryPage,
    MemoryUpdate,
    RememberOut,
    SearchHit,
    SearchResults,
)
from app.models import MemoryTier
from app.users import CurrentUser

router = APIRouter(prefix="/memories", tags=["memories"])


async def _embedder(resources: ResourcesDep) -> Embedder:
    return resources.embedder


EmbedderDep = Annotated[Embedder, Depends(_embedder)]


def _position(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        return decode_cursor(cursor)
    except ValueError:
        raise invalid_field("cursor", "not a cursor this API returned", location="query") from None


@router.post(
    "",
    response_model=RememberOut,
    status_code=201,
    summary="Store a memory (201), or refresh the identical/near-identical one already stored (200)",
    responses={
        200: {"model": RememberOut, "description": "An identical or near-identical memory was refreshed"},
        409: {"model": ErrorOut, "description": "MAX_MEMORIES_PER_USER reached (limit_reached)"},
    },
)
async def create_memory(
    body: MemoryCreate,
    user: CurrentUser,
    session: SessionDep,
    embedder: EmbedderDep,
    response: Response,
    settings: SettingsDep,
) -> Any:
    result = await service.remember(
        session,
        embedder,
        user_id=user.id,
        tier=body.tier.value,
        content=body.content,
        source=body.source,
        metadata=body.metadata,
        goal_id=body.goal_id,
        conversation_id=body.conversation_id,
        max_memories=settings.max_memories_per_user,
        max_metadata_bytes=settings.max_memory_metadata_bytes,
    )
    if not result.created:
        response.status_code = 200
    return RememberOut(**MemoryOut.of(result.memory).model_dump(), created=result.created)


@router.get("", response_model=MemoryPage, summary="List memories, newest first")
async def list_memories(
    user: CurrentUser,
    session: SessionDep,
    tier: MemoryTier | None = None,
    source: Annotated[str | None, Query(max_length=service.MAX_SOURCE_CHARS)] = None,
    goal_id: uuid.UUID | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    after = _position(cursor) if cursor else None
    rows = await repository.list_page(
        session, user.id, tier=tier, source=source, goal_id=goal_id, after=after, limit=limit + 1
    )
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return MemoryPage(items=[MemoryOut.of(m) for m in page], next_cursor=next_cursor)


@router.get(
    "/search", response_model=SearchResults, summary="Hybrid recall, best first, with score breakdowns"
)
async def search_memories(
    user: CurrentUser,
    session: SessionDep,
    embedder: EmbedderDep,
    q: Annotated[str, Query(min_length=1, max_length=service.MAX_QUERY_CHARS)],
    tier: Annotated[list[MemoryTier] | None, Query(description="repeat to search several tiers")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_RECALL_LIMIT)] = 5,
) -> Any:
    hits = await service.recall(
        session,
        embedder,
        user_id=user.id,
        query=q,
        tiers=[t.value for t in tier] if tier else None,
        limit=limit,
    )
    return SearchResults(query=q, results=[SearchHit.of(hit) for hit in hits])


@router.get("/{memory_id}", response_model=MemoryOut)
async def get_memory(memory_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Any:
    return MemoryOut.of(await service.get_memory(session, user_id=user.id, memory_id=memory_id))


@router.patch("/{memory_id}", response_model=MemoryOut)
async def patch_memory(
    memory_id: uuid.UUID,
    body: MemoryUpdate,
    user: CurrentUser,
    session: SessionDep,
    embedder: EmbedderDep,
    settings: SettingsDep,
) -> Any:
    memory = await service.update_memory(
        session,
        embedder,
        user_id=user.id,
        memory_id=memory_id,
        changes=body.model_dump(exclude_unset=True),
        max_metadata_bytes=settings.max_memory_metadata_bytes,
    )
    return MemoryOut.of(memory)


@router.delete("/{memory_id}", status_code=204)
async def delete_memory(memory_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    await service.delete_memory(session, user_id=user.id, memory_id=memory_id)
    return Response(status_code=204)
