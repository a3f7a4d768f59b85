"""The authenticated hot path: the verified Clerk ``sub`` → user without a database round trip, kept
coherent across processes through Redis, bypassed when Redis cannot tell it about changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.cache import CoherentCache
from app.core.deps import SessionDep
from app.core.tokencache import VerifiedTokens
from tests.webhooks.conftest import event as clerk_event
from tests.webhooks.conftest import post as post_webhook
from tests.webhooks.conftest import user_data

ME = "/api/v1/users/me"


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def trusted(app: Any) -> Any:
    """The app once its cache listener is subscribed (a fresh process bypasses the cache until then)."""
    cache = app.state.resources.user_cache
    for _ in range(200):
        if cache.trusted:
            return app
        await asyncio.sleep(0.01)
    raise AssertionError("the user cache never subscribed to its invalidation channel")


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 2.0) -> float:
    """Poll ``check`` until it holds; the time it took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not true within {seconds} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def lookups(result: str) -> float:
    return REGISTRY.get_sample_value("delight_cache_lookups_total", {"cache": "users", "result": result}) or 0


async def test_a_cached_user_is_served_without_the_database(
    app_factory: Any, settings: Any, auth_headers: Any, db: AsyncSession
) -> None:
    app = await trusted(await app_factory(settings))
    headers = auth_headers("user_cached")
    async with client_for(app) as http:
        first = (await http.get(ME, headers=headers)).json()  # provisioned, then cached
        # Changed behind the service's back: a cached read does not see it (no database read).
        await db.execute(
            text("UPDATE users SET display_name = 'Behind its back' WHERE clerk_user_id = :s"),
            {"s": "user_cached"},
        )
        await db.commit()
        hits = lookups("hit")
        cached = (await http.get(ME, headers=headers)).json()
        assert cached == first and lookups("hit") == hits + 1

        # A change through the service drops the entry: the next read is fresh.
        patched = await http.patch(ME, json={"display_name": "Ada"}, headers=headers)
        assert patched.status_code == 200 and patched.json()["display_name"] == "Ada"
        assert (await http.get(ME, headers=headers)).json()["display_name"] == "Ada"


async def test_changes_on_another_process_reach_this_one_at_once(
    app_factory: Any, settings: Any, auth_headers: Any
) -> None:
    """Two app instances with their own resources (caches, pools, Redis clients), like two
    processes: a profile update, a Clerk webhook and an erasure on B invalidate A's cache."""
    a = await trusted(await app_factory(settings))
    b = await trusted(await app_factory(settings))
    headers = auth_headers("user_coherent")
    async with client_for(a) as on_a, client_for(b) as on_b:
        original = (await on_a.get(ME, headers=headers)).json()
        assert (await on_a.get(ME, headers=headers)).json() == original  # cached on A

        await on_b.patch(ME, json={"display_name": "Grace"}, headers=headers)

        async def renamed() -> bool:
            return bool((await on_a.get(ME, headers=headers)).json()["display_name"] == "Grace")

        assert await eventually(renamed) < 1.0

        webhook = await post_webhook(
            on_b, clerk_event("user.updated", user_data("user_coherent", first_name="Hopper", last_name=None))
        )
        assert webhook.json()["outcome"] == "processed"

        async def from_clerk() -> bool:
            return bool((await on_a.get(ME, headers=headers)).json()["display_name"] == "Hopper")

        await eventually(from_clerk)

        assert (await on_b.delete(ME, headers=headers)).status_code == 204

        async def erased() -> bool:
            # A later request provisions a new, empty account: A must not keep serving the old one.
            return bool((await on_a.get(ME, headers=headers)).json()["id"] != original["id"])

        await eventually(erased)


async def test_without_redis_every_read_goes_to_the_database(
    app_factory: Any, settings_factory: Any, auth_headers: Any, db: AsyncSession
) -> None:
    app = await app_factory(settings_factory(redis_url="redis://127.0.0.1:1/0"))
    assert not app.state.resources.user_cache.trusted
    headers = auth_headers("user_no_redis")
    async with client_for(app) as http:
        await http.get(ME, headers=headers)
        await db.execute(
            text("UPDATE users SET display_name = 'Fresh' WHERE clerk_user_id = 'user_no_redis'")
        )
        await db.commit()
        bypassed = lookups("bypass")
        assert (await http.get(ME, headers=headers)).json()["display_name"] == "Fresh"
        assert lookups("bypass") == bypassed + 1


async def test_the_cache_distrusts_itself_while_its_channel_is_down(redis: Redis, services: Any) -> None:
    """Redis drops the listener's connection (here: CLIENT KILL, as on a Redis restart): the cache
    empties and is bypassed until it has subscribed again; then it starts empty."""
    client = Redis.from_url(services.redis_url)
    cache: CoherentCache[str] = CoherentCache("probe", client, ttl_seconds=30, max_entries=10)
    await cache.start()
    try:
        await eventually(lambda: _true(cache.trusted))
        assert cache.put("k", "v", cache.version()) and cache.get("k") == "v"
        await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        await eventually(lambda: _true(not cache.trusted or cache.get("k") is None))
        assert cache.get("k") is None  # gone, not served from before the outage
        await eventually(lambda: _true(cache.trusted), seconds=5)
        assert cache.get("k") is None
    finally:
        await cache.aclose()
        await client.aclose()


async def _true(value: bool) -> bool:
    return value


async def test_a_read_that_raced_a_change_is_not_cached(redis: Redis, services: Any) -> None:
    client = Redis.from_url(services.redis_url)
    here: CoherentCache[str] = CoherentCache("race", client, ttl_seconds=30, max_entries=10)
    there: CoherentCache[str] = CoherentCache("race", client, ttl_seconds=30, max_entries=10)
    await here.start()
    try:
        await eventually(lambda: _true(here.trusted))
        version = here.version()  # a read of "k" begins…
        await there.publish(["k"])  # …another process commits a change to it meanwhile
        await eventually(lambda: _true(here.version() != version))
        assert not here.put("k", "stale", version)  # the old value stays out
        assert here.get("k") is None
        assert here.put("k", "fresh", here.version())
    finally:
        await here.aclose()
        await client.aclose()


def test_the_cache_is_bounded() -> None:
    cache: CoherentCache[int] = CoherentCache("bounded", None, ttl_seconds=30, max_entries=3)
    cache._trusted = True  # no Redis in this unit test: pretend the channel is live
    for n in range(5):
        cache.put(f"k{n}", n, cache.version())
    assert len(cache) == 3 and cache.get("k0") is None and cache.get("k4") == 4


async def test_an_expired_token_is_not_served_from_the_verified_tokens(
    app_factory: Any, settings_factory: Any, signing_key: Any
) -> None:
    app = await app_factory(settings_factory(clerk_jwt_leeway_seconds=0))
    # Valid for 2–3 s: long enough for the first request on a loaded machine.
    expires = int(time.time()) + 3
    token = signing_key.mint("user_short", exp=expires)
    async with client_for(app) as http:
        assert (await http.get(ME, headers={"Authorization": f"Bearer {token}"})).status_code == 200
        assert len(app.state.resources.verified_tokens) == 1
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
        response = await http.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "expired"


def test_verified_tokens_are_bounded() -> None:
    tokens = VerifiedTokens(max_entries=2)
    claims = type("Claims", (), {"expires_at": int(time.time()) + 60})()
    for name in ("a", "b", "c"):
        tokens.put(name, claims)  # type: ignore[arg-type]
    assert len(tokens) == 2 and tokens.get("a") is None and tokens.get("c") is claims


async def test_reads_run_without_a_transaction(app_factory: Any, settings: Any) -> None:
    """GET/HEAD use autocommit sessions: no BEGIN/COMMIT round trips; other methods a transaction."""
    app = await app_factory(settings)

    async def in_transaction(session: SessionDep) -> bool:
        await session.execute(text("SELECT 1"))
        raw = await (await session.connection()).get_raw_connection()
        return bool(raw.driver_connection.is_in_transaction())  # type: ignore[union-attr]

    app.add_api_route("/probe/transaction", in_transaction, methods=["GET", "POST"])
    async with client_for(app) as http:
        assert (await http.get("/probe/transaction")).json() is False
        assert (await http.post("/probe/transaction")).json() is True


@pytest.mark.parametrize("ttl", [0])
async def test_the_cache_can_be_turned_off(
    app_factory: Any, settings_factory: Any, auth_headers: Any, ttl: float
) -> None:
    app = await app_factory(settings_factory(user_cache_ttl_seconds=ttl))
    await asyncio.sleep(0.05)
    assert not app.state.resources.user_cache.trusted
    async with client_for(app) as http:
        assert (await http.get(ME, headers=auth_headers("user_off"))).status_code == 200
