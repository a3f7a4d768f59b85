"""One page shape for every offset-paginated list (goals, missions, conversations)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

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
