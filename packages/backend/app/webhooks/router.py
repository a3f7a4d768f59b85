"""/api/v1/webhooks/clerk: Clerk user lifecycle events, authenticated by their Svix signature."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.core.deps import SessionDep, resources_of, settings_of
from app.core.errors import PayloadTooLarge
from app.webhooks import service
from app.webhooks.schemas import WebhookAck
from app.webhooks.signature import verify

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
# Clerk's user events are a few kilobytes; anything far larger is not from Clerk.
MAX_BODY_BYTES = 1024 * 1024


async def _raw_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(MAX_BODY_BYTES, "Webhook body too large")
    return bytes(body)


@router.post(
    "/clerk",
    response_model=WebhookAck,
    summary="Clerk webhook (Svix-signed): user.created, user.updated, user.deleted",
    description="No session token: the Svix signature over the raw body (headers svix-id, "
    "svix-timestamp, svix-signature; 5-minute tolerance) authenticates the call. A bad signature, "
    "malformed headers or an invalid payload answer 400 and write nothing. A redelivered svix-id "
    "answers 200 with no second effect; unknown event types answer 200 and are recorded as ignored.",
    responses={400: {"description": "Bad signature, headers or payload; nothing written"}},
)
async def clerk_webhook(request: Request, session: SessionDep) -> WebhookAck:
    settings = settings_of(request)  # plain calls: sync dependencies would hop to a thread
    body = await _raw_body(request)
    delivery = verify(settings.clerk_webhook_secret.get_secret_value(), request.headers, body)
    event = service.parse_event(body)
    return await service.handle(session, resources_of(request).redis, settings, delivery, event)
