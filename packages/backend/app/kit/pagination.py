"""One page shape for every offset-paginated list (goals, missions, conversations)."""

from __future__ import annotations

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
