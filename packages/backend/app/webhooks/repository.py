"""Queries for webhook deliveries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.locking import advisory_xact_lock
from app.models import User, WebhookDelivery
from app.models.enums import WebhookOutcome
from app.webhooks.signature import SvixDelivery

RECEIVED = WebhookOutcome.received


async def claim_delivery(
    session: AsyncSession, delivery: SvixDelivery, event_type: str, clerk_user_id: str | None
) -> bool:
    """Record the delivery; ``False`` when its svix-id is already recorded.

    A concurrent transaction inserting the same svix-id waits here until the first one commits
    (then gets ``False``) or rolls back (then inserts): exactly one of them applies the effect.
    """
    inserted = await session.execute(
        insert(WebhookDelivery)
        .values(
            svix_id=delivery.message_id,
            event_type=event_type,
            clerk_user_id=clerk_user_id,
            outcome=RECEIVED,
            sent_at=delivery.sent_at,
        )
        .on_conflict_do_nothing(index_elements=[WebhookDelivery.svix_id])
        .returning(WebhookDelivery.svix_id)
    )
    return inserted.scalar_one_or_none() is not None


async def lock_delivery(session: AsyncSession, svix_id: str) -> WebhookDelivery | None:
    result = await session.execute(
        select(WebhookDelivery).where(WebhookDelivery.svix_id == svix_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def set_outcome(session: AsyncSession, svix_id: str, outcome: str) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.svix_id == svix_id)
        .values(outcome=outcome, updated_at=func.now())
    )


async def lock_clerk_user(session: AsyncSession, clerk_user_id: str) -> None:
    """Serialise the transactions that change one Clerk user (released at commit/rollback)."""
    await advisory_xact_lock(session, "clerk_user:" + clerk_user_id)


async def deliveries_with_outcome(
    session: AsyncSession, event_type: str, outcome: str
) -> list[tuple[str, str]]:
    """(svix_id, clerk_user_id) of the deliveries of ``event_type`` recorded with ``outcome``, oldest
    first."""
    result = await session.execute(
        select(WebhookDelivery.svix_id, WebhookDelivery.clerk_user_id)
        .where(
            WebhookDelivery.event_type == event_type,
            WebhookDelivery.outcome == outcome,
            WebhookDelivery.clerk_user_id.is_not(None),
        )
        .order_by(WebhookDelivery.received_at, WebhookDelivery.svix_id)
    )
    return [(row.svix_id, row.clerk_user_id) for row in result if row.clerk_user_id is not None]


async def deliveries_for_user(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    result = await session.execute(
        select(
            WebhookDelivery.svix_id,
            WebhookDelivery.event_type,
            WebhookDelivery.outcome,
            WebhookDelivery.sent_at,
            WebhookDelivery.received_at,
        )
        .join(User, User.clerk_user_id == WebhookDelivery.clerk_user_id)
        .where(User.id == user_id)
        .order_by(WebhookDelivery.received_at, WebhookDelivery.svix_id)
    )
    return [
        {
            "svix_id": row.svix_id,
            "event_type": row.event_type,
            "outcome": row.outcome,
            "sent_at": row.sent_at.isoformat(),
            "received_at": row.received_at.isoformat(),
        }
        for row in result
    ]
