"""Fixtures of the nudges tests: the app with email over a real in-process SMTP server, a clock,
an API client per user, and sweeps at chosen moments."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.models import Notification, NudgeState, User
from app.nudges import SweepReport, run_sweep
from tests.goals.support import api as api
from tests.goals.support import clock as clock
from tests.support.smtp import SMTPServer

EMAIL_FROM = "Eliza at Delight <eliza@delight.test>"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def nudge_overrides() -> dict[str, Any]:
    """Settings a test changes: ``@pytest.mark.parametrize("nudge_overrides", [{...}])``."""
    return {}


@pytest.fixture
def nudge_settings(settings_factory: Any, smtp: SMTPServer, nudge_overrides: dict[str, Any]) -> Settings:
    return settings_factory(  # type: ignore[no-any-return]
        **{
            "notify_smtp_url": smtp.url,
            "notify_email_from": EMAIL_FROM,
            "notify_smtp_timeout_seconds": 2,
            "public_base_url": "http://testserver",
            # The tests move a fake clock by days within real seconds; the Redis gate counts real
            # seconds, so it is off here and tested on its own (test_activity.py).
            "nudge_activity_coalesce_seconds": 0,
            **nudge_overrides,
        }
    )


@pytest.fixture
async def app(app_factory: Any, nudge_settings: Settings) -> Any:
    return await app_factory(nudge_settings)


@pytest.fixture
def sweep(app: Any) -> Any:
    """``await sweep(at)``: one sweep as of ``at`` with the app's resources (as the worker runs it)."""

    async def run(at: datetime, **options: Any) -> SweepReport:
        return await run_sweep(app.state.resources, at, **options)

    return run


class Store:
    """Reads and arranges rows directly (the test's own session)."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def user(self, sub: str) -> User:
        self.db.expire_all()
        return (await self.db.execute(select(User).where(User.clerk_user_id == sub))).scalar_one()

    async def set_email(self, sub: str, email: str) -> None:
        # Clerk's user.created webhook fills this in; the tests set it directly.
        await self.db.execute(update(User).where(User.clerk_user_id == sub).values(email=email))
        await self.db.commit()

    async def notes(self, sub: str) -> list[Notification]:
        user_id = (await self.user(sub)).id
        query = (
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at, Notification.step, Notification.kind)
        )
        return list((await self.db.execute(query)).scalars())

    async def state(self, sub: str) -> NudgeState:
        user_id = (await self.user(sub)).id
        return (await self.db.execute(select(NudgeState).where(NudgeState.user_id == user_id))).scalar_one()

    async def summary(self, sub: str) -> list[tuple[str, int, str, str, str | None]]:
        """(kind, step, channel, state, reason) of the user's notes, oldest first."""
        return [
            (n.kind.value, n.step, n.channel.value, n.state.value, n.reason.value if n.reason else None)
            for n in await self.notes(sub)
        ]


@pytest.fixture
def store(db: AsyncSession) -> Store:
    return Store(db)
