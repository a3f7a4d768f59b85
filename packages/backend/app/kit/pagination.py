"""One page shape for every offset-paginated list (goals, missions, conversations), and the opaque
keyset cursor of lists paginated newest first on (timestamp, id) (notifications)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

# Far past any real list, and within PostgreSQL's OFFSET (bigint): a larger value is a 422, not a
# driver overflow (a 500).
MAX_OFFSET = 1_000_000
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of ``items``, with the ``total`` count and the ``limit``/``offset`` that produced it.

    Subclass it per resource (``class GoalPage(Page[GoalOut])``) so the OpenAPI schema keeps a
    readable name.
    """

    items: list[T]
    total: int
    limit: int
    offset: int


def encode_cursor(moment: datetime, item_id: uuid.UUID) -> str:
    """An opaque cursor for the position after (``moment``, ``item_id``)."""
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{item_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor names; ``ValueError`` if it is not one ``encode_cursor`` made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, item_id = raw.partition("|")
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            raise ValueError("cursor without a time zone")
        return moment, uuid.UUID(item_id)
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor") from exc
