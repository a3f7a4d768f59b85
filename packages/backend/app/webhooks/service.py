"""Clerk webhook events: parse, de-duplicate by svix-id, apply to users."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import users
from app.core.config import Settings
from app.core.errors import BadRequest
from app.core.jobs import transaction
from app.core.logging import get_logger, user_id_var
from app.models.enums import WebhookOutcome
from app.users import export_section
from app.webhooks import repository
from app.webhooks.schemas import ClerkDeletedUser, ClerkEvent, ClerkUser, WebhookAck
from app.webhooks.signature import SvixDelivery

log = get_logger(__name__)

USER_UPSERT_EVENTS = frozenset({"user.created", "user.updated"})
USER_DELETED = "user.deleted"

# Outcomes recorded on the delivery row (app.models.enums.WebhookOutcome).
PROCESSED = WebhookOutcome.processed
SKIPPED_STALE = WebhookOutcome.skipped_stale
SKIPPED_DELETED = WebhookOutcome.skipped_deleted
DELETED = WebhookOutcome.deleted
ALREADY_ABSENT = WebhookOutcome.already_absent
DELETION_DISABLED = WebhookOutcome.deletion_disabled
IGNORED = WebhookOutcome.ignored


@dataclass(frozen=True)
class ParsedEvent:
    type: str
    user: ClerkUser | None = None
    deleted: ClerkDeletedUser | None = None

    @property
    def clerk_user_id(self) -> str | None:
        if self.user is not None:
            return self.user.id
        return self.deleted.id if self.deleted is not None else None


def parse_event(body: bytes) -> ParsedEvent:
    """The validated event, or ``BadRequest`` naming the offending fields."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("Webhook body is not JSON", code="invalid_payload") from None
    try:
        event = ClerkEvent.model_validate(document)
    except ValidationError as exc:
        raise _invalid(exc, within=None) from None
    try:
        if event.type in USER_UPSERT_EVENTS:
            return ParsedEvent(event.type, user=ClerkUser.model_validate(event.data))
        if event.type == USER_DELETED:
            return ParsedEvent(event.type, deleted=ClerkDeletedUser.model_validate(event.data))
    except ValidationError as exc:
        raise _invalid(exc, within="data") from None
    return ParsedEvent(event.type)


def _invalid(exc: ValidationError, within: str | None) -> BadRequest:
    details = [
        {
            "field": ".".join(str(part) for part in (within, *error["loc"]) if part is not None) or "body",
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]
    return BadRequest("Invalid webhook payload", code="invalid_payload", details=details)


async def handle(
    session: AsyncSession, redis: Any, settings: Settings, delivery: SvixDelivery, event: ParsedEvent
) -> WebhookAck:
    """Apply a verified event once per svix-id, in the caller's transaction."""
    if event.clerk_user_id is not None:
        user_id_var.set(event.clerk_user_id)
    fields = {"svix_id": delivery.message_id, "event_type": event.type}
    if not await repository.claim_delivery(session, delivery, event.type, event.clerk_user_id):
        existing = await repository.lock_delivery(session, delivery.message_id)
        outcome = existing.outcome if existing is not None else "unknown"
        # A user.deleted recorded while deletion was disabled is applied when re-sent after the
        # flag is turned on (its first delivery had no effect); every other redelivery is a no-op.
        if not (outcome == DELETION_DISABLED and settings.clerk_webhook_delete_enabled):
            log.info("clerk_webhook_duplicate", outcome=outcome, **fields)
            return WebhookAck(outcome=outcome, duplicate=True)
    outcome = await _apply(session, redis, settings, event)
    await repository.set_outcome(session, delivery.message_id, outcome)
    log.info("clerk_webhook", outcome=outcome, **fields)
    return WebhookAck(outcome=outcome, duplicate=False)


async def _apply(session: AsyncSession, redis: Any, settings: Settings, event: ParsedEvent) -> str:
    if event.user is not None:
        user = event.user
        await repository.lock_clerk_user(session, user.id)
        if await users.deleted_in_clerk(session, user.id):
            return SKIPPED_DELETED
        user_id = await users.upsert_from_clerk(
            session,
            user.id,
            email=user.primary_email,
            display_name=user.display_name,
            clerk_updated_at=user.updated_at,
        )
        return PROCESSED if user_id is not None else SKIPPED_STALE
    if event.deleted is not None:
        if not settings.clerk_webhook_delete_enabled:
            log.warning(
                "clerk_user_deletion_disabled",
                clerk_user_id=event.deleted.id,
                hint="user.deleted recorded, nothing erased; see CLERK_WEBHOOK_DELETE_ENABLED",
            )
            return DELETION_DISABLED
        return await _erase(session, redis, event.deleted.id)
    return IGNORED


async def _erase(session: AsyncSession, redis: Any, clerk_user_id: str) -> WebhookOutcome:
    await repository.lock_clerk_user(session, clerk_user_id)
    existing = await users.get_by_clerk_id(session, clerk_user_id)
    if existing is None:
        return ALREADY_ABSENT
    await users.erase_user(session, redis, existing)
    return DELETED


@dataclass(frozen=True)
class ReplayReport:
    found: int  # deliveries recorded as deletion_disabled when the run started
    deleted: int  # accounts erased
    already_absent: int  # nothing left to erase (the tombstone is recorded all the same)


async def replay_deletions(
    sessions: async_sessionmaker[AsyncSession], redis: Any, *, dry_run: bool = False
) -> ReplayReport:
    """Apply the ``user.deleted`` deliveries recorded while CLERK_WEBHOOK_DELETE_ENABLED was off.

    Each delivery is applied in its own transaction, exactly as a re-sent delivery would be: the
    row is locked and re-read (a concurrent run or a re-sent delivery may have applied it), the
    user erased (database rows and Redis data), the outcome recorded. A second run finds nothing:
    the command is idempotent and can be interrupted and run again.
    """
    async with sessions() as session:
        pending = await repository.deliveries_with_outcome(session, USER_DELETED, DELETION_DISABLED)
    counts = {DELETED: 0, ALREADY_ABSENT: 0}
    if dry_run:
        return ReplayReport(len(pending), 0, 0)
    for svix_id, clerk_user_id in pending:
        async with transaction(sessions, redis) as session:
            delivery = await repository.lock_delivery(session, svix_id)
            if delivery is None or delivery.outcome != DELETION_DISABLED:
                continue  # applied meanwhile
            outcome = await _erase(session, redis, clerk_user_id)
            await repository.set_outcome(session, svix_id, outcome)
        counts[outcome] += 1
        log.info("clerk_deletion_replayed", svix_id=svix_id, clerk_user_id=clerk_user_id, outcome=outcome)
    return ReplayReport(len(pending), counts[DELETED], counts[ALREADY_ABSENT])


@export_section("webhook_deliveries")
async def _export_deliveries(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    return await repository.deliveries_for_user(session, user_id)
