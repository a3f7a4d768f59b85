"""The Daily Consistency Index: its terms, zero denominators, clamping and the 7-day gate."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from app.planning import dci
from tests.goals.support import Api, FakeClock


def test_combine_clamps_every_term() -> None:
    assert dci.combine(0, 0.0, 0.0, 0.0) == 0.0
    assert dci.combine(30, 1.0, 1.0, 1.0) == 1.0
    assert dci.combine(365, 2.0, 1.5, 9.0) == 1.0  # streak capped at 30 days, terms at 1
    assert dci.combine(-3, -1.0, -0.5, -2.0) == 0.0
    assert dci.combine(15, 0.5, 0.5, 0.5) == pytest.approx(0.35 * 0.5 + 0.35 * 0.5 + 0.2 * 0.5 + 0.1 * 0.5)
    assert dci.ratio(3, 0) == 0.0
    assert dci.ratio(5, 4) == 1.0


async def test_no_activity_gives_zero_terms(api: Any, clock: FakeClock, db: AsyncSession) -> None:
    me: Api = api("user_a")
    await me.get("/users/me")
    user_id = await user_id_of(db, "user_a")
    terms = await dci.compute(db, user_id, date(2025, 1, 15), 30, live=True, now=clock.now)
    # No note was sent, but an idle user did not keep going on their own either: nudge_response 0.
    assert (terms.streak, terms.completion_rate, terms.engagement_depth, terms.nudge_response, terms.dci) == (
        0,
        0.0,
        0.0,
        0.0,
        0.0,
    )
    assert terms.counts["nudges"] == 0


async def test_the_dci_appears_after_seven_active_days(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    for n in range(12):
        await me.mission(goal["id"], title=f"Mission {n}", estimated_minutes=15)

    for day in range(1, 8):
        if day == 7:
            gated = await me.get("/progress/dci")
            assert gated["available"] is False
            assert gated["dci"] is None and gated["terms"] is None and gated["history"] == []
            assert gated["active_days"] == 6 and gated["required_active_days"] == 7
            assert "after 7 days" in gated["message"] and "6" in gated["message"]
        triad = await me.get("/missions/triad")
        mission_id = triad["missions"][0]["mission"]["id"]
        await me.post(f"/missions/{mission_id}/start")
        clock.advance(minutes=5)  # shorter than the 15-minute estimate
        body = {"notes": "went fine"} if day <= 4 else None
        await me.post(f"/missions/{mission_id}/complete", body)
        if day == 3:
            await me.post(f"/missions/{triad['missions'][1]['mission']['id']}/defer")
        clock.advance(days=1, minutes=-5)
    clock.advance(days=-1)  # back to the 7th day

    report = await me.get("/progress/dci", params={"days": "7"})
    assert report["available"] is True and report["message"] is None
    assert report["start"] == "2025-01-15" and report["end"] == "2025-01-21"
    terms = report["terms"]
    assert terms["streak"] == 7
    assert terms["completion_rate"] == pytest.approx(7 / 8, abs=1e-4)  # one deferral
    assert terms["engagement_depth"] == pytest.approx(4 / 7, abs=1e-4)  # notes on 4 of 7
    assert terms["nudge_response"] == 1.0  # no note was sent: none to answer
    assert terms["counts"] == {
        "completed": 7,
        "deferred": 1,
        "abandoned": 0,
        "completed_sessions": 7,
        "deep_sessions": 4,
        "nudges": 0,
        "nudges_followed": 0,
    }
    expected = 0.35 * 7 / 30 + 0.35 * 7 / 8 + 0.2 * 4 / 7 + 0.1 * 1.0
    assert report["dci"] == pytest.approx(expected, abs=1e-4)
    assert report["weights"] == {
        "streak": 0.35,
        "completion_rate": 0.35,
        "engagement_depth": 0.2,
        "nudge_response": 0.1,
    }

    wide = await me.get("/progress/dci", params={"days": "90"})
    assert wide["start"] == "2024-10-24" and wide["dci"] == report["dci"]


async def user_id_of(db: AsyncSession, sub: str) -> uuid.UUID:
    return (await db.execute(select(User.id).where(User.clerk_user_id == sub))).scalar_one()  # type: ignore[no-any-return]


@pytest.mark.parametrize("days", ["0", "10", "abc", "-7"])
async def test_dci_window_must_be_7_30_or_90(api: Any, clock: FakeClock, days: str) -> None:
    me: Api = api("user_a")
    error = await me.get("/progress/dci", params={"days": days}, expect=422)
    assert error["error"]["details"][0]["field"] == "days"
