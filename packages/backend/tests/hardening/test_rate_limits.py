"""Per-user limits in Redis: the default limit on every authenticated route, chat and decomposition
limits, keyed by the Clerk user id and shared by every process; 429 with Retry-After."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from redis.asyncio import Redis

from app.core import ratelimit
from app.core.ratelimit import LEASE_MAX, LEASE_SECONDS, RateLeases
from tests.auth.conftest import ApiFactory

GOAL = {"title": "Run a marathon", "goal_type": "concrete", "value_category": "health"}


def assert_429(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert error["details"] == {"retry_after": retry_after}
    return retry_after


async def test_the_default_limit_covers_every_authenticated_route(api: ApiFactory, auth_headers: Any) -> None:
    """Issue 12: 130 requests in a minute got no 429. Every authenticated route counts against
    RATE_LIMIT_PER_MINUTE; the limited request does no work."""
    client = await api(rate_limit_per_minute=5)
    headers = auth_headers("user_busy")
    paths = [
        "/api/v1/users/me",
        "/api/v1/goals",
        "/api/v1/memories",
        "/api/v1/missions",
        "/api/v1/companion/history",
    ]
    for path in paths:
        assert (await client.get(path, headers=headers)).status_code == 200, path
    for path in [*paths, "/api/v1/users/me/export"]:
        assert_429(await client.get(path, headers=headers))
    assert_429(await client.post("/api/v1/goals", json=GOAL, headers=headers))
    # Other users, and routes without a session token, are not affected.
    assert (await client.get("/api/v1/users/me", headers=auth_headers("user_calm"))).status_code == 200
    assert (await client.get("/api/v1/health/live")).status_code == 200


async def test_the_limit_is_checked_after_the_token(api: ApiFactory, auth_headers: Any) -> None:
    client = await api(rate_limit_per_minute=1)
    for _ in range(3):  # invalid tokens are refused (401) and never counted
        response = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer x.y.z"})
        assert response.status_code == 401
    assert (await client.get("/api/v1/users/me", headers=auth_headers("user_a"))).status_code == 200
    assert_429(await client.get("/api/v1/users/me", headers=auth_headers("user_a")))


async def test_every_process_shares_one_limit(api: ApiFactory, auth_headers: Any) -> None:
    """Two app instances (two processes' worth of state) on one Redis count the same requests."""
    first, second = await api(rate_limit_per_minute=4), await api(rate_limit_per_minute=4)
    headers = auth_headers("user_roaming")
    for client in (first, second, first, second):
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    assert_429(await first.get("/api/v1/users/me", headers=headers))
    assert_429(await second.get("/api/v1/users/me", headers=headers))


async def test_erasing_and_recreating_the_account_does_not_reset_the_limit(
    api: ApiFactory, auth_headers: Any
) -> None:
    """Keys use the Clerk user id (sub), which survives DELETE /users/me; the internal id does not."""
    client = await api(rate_limit_per_minute=3)
    headers = auth_headers("user_eraser")
    first_id = (await client.get("/api/v1/users/me", headers=headers)).json()["id"]
    assert (await client.delete("/api/v1/users/me", headers=headers)).status_code == 204
    second = await client.get("/api/v1/users/me", headers=headers)  # a new, empty account
    assert second.status_code == 200 and second.json()["id"] != first_id
    assert_429(await client.get("/api/v1/users/me", headers=headers))


async def test_chat_has_its_own_lower_limit(api: ApiFactory, auth_headers: Any) -> None:
    client = await api(companion_chat_rate_limit_per_minute=2, companion_provider="offline")
    headers = auth_headers("user_chatty")
    accepted = []
    for _ in range(2):
        response = await client.post("/api/v1/companion/chat", json={"message": "hi"}, headers=headers)
        assert response.status_code == 202, response.text
        accepted.append(response.json())
    limited = await client.post("/api/v1/companion/chat", json={"message": "hi"}, headers=headers)
    assert_429(limited)
    assert limited.json()["error"]["message"] == "Too many messages: at most 2 per 60 seconds"
    # Reads are still allowed: only the default limit applies to them.
    assert (await client.get("/api/v1/companion/history", headers=headers)).status_code == 200
    # After erasure and re-provisioning the chat limit still holds (Clerk id keys). The replies are
    # read to their end first: erasing during a reply is another test's subject.
    for reply in accepted:
        assert (await client.get(reply["stream_url"], headers=headers)).status_code == 200
    assert (await client.delete("/api/v1/users/me", headers=headers)).status_code == 204
    assert_429(await client.post("/api/v1/companion/chat", json={"message": "hi"}, headers=headers))


async def test_decompose_keeps_its_limit_keyed_by_the_clerk_id(api: ApiFactory, auth_headers: Any) -> None:
    client = await api(decompose_rate_limit_per_minute=1)
    headers = auth_headers("user_planner")
    goal = (await client.post("/api/v1/goals", json=GOAL, headers=headers)).json()
    assert (await client.post(f"/api/v1/goals/{goal['id']}/decompose", headers=headers)).status_code == 201
    assert_429(await client.post(f"/api/v1/goals/{goal['id']}/decompose", headers=headers))


async def evals(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_eval", {}).get("calls", 0))


async def test_a_busy_user_takes_slots_a_few_at_a_time_and_the_limit_stays_exact(
    api: ApiFactory, auth_headers: Any, redis: Redis
) -> None:
    """The hot path: a busy user's requests do not each ask Redis, and the 101st is still a 429."""
    client = await api(rate_limit_per_minute=100)
    headers = auth_headers("user_quick")
    before = await evals(redis)
    for n in range(100):
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200, n
    asked = await evals(redis) - before
    # Leases of 1, 2, 4, then LEASE_MAX: about a fifth of the requests ask Redis.
    assert asked <= 100 // LEASE_MAX + 3, asked
    assert_429(await client.get("/api/v1/users/me", headers=headers))
    assert await redis.zcard(ratelimit.key_for("user_quick", "requests")) == 100


async def test_leased_slots_never_let_two_processes_exceed_the_limit(
    api: ApiFactory, auth_headers: Any
) -> None:
    first, second = await api(rate_limit_per_minute=60), await api(rate_limit_per_minute=60)
    headers = auth_headers("user_everywhere")
    admitted = refused = 0
    for turn in range(200):  # uneven turns, so each process often holds slots the other lacks
        client = first if turn % 3 else second
        status = (await client.get("/api/v1/users/me", headers=headers)).status_code
        admitted += status == 200
        refused += status == 429
    assert admitted == 60 and refused == 140


async def test_a_lease_lasts_one_second_and_shrinks_when_the_pace_drops(redis: Redis) -> None:
    now = [1000.0]
    leases = RateLeases(clock=lambda: now[0])
    key = ratelimit.key_for("user_pacing", "requests")

    async def request() -> bool:
        """True when Redis was asked."""
        if leases.spend(key):
            return False
        await ratelimit.hit(redis, key, limit=100, leases=leases)
        return True

    assert [await request() for _ in range(7)] == [True, True, False, True, False, False, False]
    assert leases.wanted(key, 100) == LEASE_MAX  # the lease of 4 was spent within its second
    assert await request()  # takes 5, spends 1
    now[0] += LEASE_SECONDS  # its second is over: the 4 left are not spent (they still count)
    assert await request()  # only one of that lease was spent, so this takes one slot
    assert await redis.zcard(key) == 7 + 5 + 1
    assert leases.wanted(key, 100) == 2  # ...spent at once: the next doubles again
    # Small limits are never leased: every request asks Redis.
    assert leases.wanted(ratelimit.key_for("user_small", "requests"), 2 * 20 - 1) == 1


async def test_checks_of_many_users_at_once_share_redis_calls(
    api: ApiFactory, auth_headers: Any, redis: Redis
) -> None:
    """Concurrent requests of different users (no leases help them) are checked in shared calls,
    and each user's limit still holds exactly."""
    client = await api(rate_limit_per_minute=2)
    users = [auth_headers(f"user_crowd_{n}") for n in range(12)]
    for headers in users:  # provision them (and spend one of each user's two requests)
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    before = await evals(redis)
    second = await asyncio.gather(*(client.get("/api/v1/users/me", headers=h) for h in users))
    third = await asyncio.gather(*(client.get("/api/v1/users/me", headers=h) for h in users))
    asked = await evals(redis) - before
    assert [r.status_code for r in second] == [200] * 12
    assert [r.status_code for r in third] == [429] * 12
    assert asked < 12, asked  # 24 checks, far fewer calls


async def test_concurrent_leases_of_one_user_keep_every_slot(redis: Redis) -> None:
    now = [0.0]
    leases = RateLeases(clock=lambda: now[0])
    key = ratelimit.key_for("user_twice", "requests")
    leases.taken(key, 1)  # spent at once: the next two requests each want 2
    await asyncio.gather(*(ratelimit.hit(redis, key, limit=100, leases=leases) for _ in range(2)))
    # 4 slots taken in Redis, 2 spent by the two requests: both leases' spare slots are usable.
    assert await redis.zcard(key) == 4
    assert [leases.spend(key) for _ in range(3)] == [True, True, False]
