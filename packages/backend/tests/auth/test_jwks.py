"""Keys from Clerk's JWKS endpoint, served by a local server speaking the same protocol.

Time-dependent behaviour (refetch interval, cache TTL) runs the app's verifier over a provider whose
clock the test moves, so nothing waits on the wall clock."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from app.core.config import CLERK_API_URL, Settings
from app.core.errors import Unauthorized
from app.core.security import JWKSKeyProvider, TokenVerifier, create_key_provider
from tests.auth.conftest import ApiFactory
from tests.auth.test_tokens import ME, assert_401
from tests.support.auth import JWKSServer, TestKey, bearer
from tests.support.clock import ManualClock

SECRET = "sk_test_jwks_server_secret"
KEY_1 = TestKey(kid="ins_key_1")
KEY_2 = TestKey(kid="ins_key_2")
KEY_3 = TestKey(kid="ins_key_3")


@pytest.fixture
def jwks() -> Iterator[JWKSServer]:
    with JWKSServer(SECRET) as server:
        server.keys = [KEY_1.jwk]
        yield server


def jwks_settings(server: JWKSServer, **overrides: Any) -> dict[str, Any]:
    return {
        "clerk_jwt_key": None,
        "clerk_api_url": server.url,
        "clerk_secret_key": SECRET,
        "clerk_jwks_refresh_interval_seconds": 0,
        **overrides,
    }


async def get_me(client: httpx.AsyncClient, key: TestKey, sub: str = "user_a") -> httpx.Response:
    return await client.get(ME, headers=bearer(key.mint(sub)))


def test_jwks_is_the_default_key_source_at_clerks_backend_api(settings_factory: Any) -> None:
    settings = settings_factory(clerk_jwt_key=None)
    provider = create_key_provider(settings)
    assert isinstance(provider, JWKSKeyProvider)
    assert provider._url == f"{CLERK_API_URL}/v1/jwks"
    assert provider._headers == {"Authorization": "Bearer sk_test_delight_tests"}
    assert (provider._ttl, provider._refresh_interval) == (3600, 30)
    assert provider._clock is time.monotonic


async def test_keys_are_fetched_once_and_cached(api: ApiFactory, jwks: JWKSServer) -> None:
    client = await api(**jwks_settings(jwks))
    for sub in ("user_a", "user_b", "user_a", "user_c"):
        assert (await get_me(client, KEY_1, sub)).status_code == 200
    assert jwks.requests == 1


async def test_concurrent_first_requests_share_one_fetch(api: ApiFactory, jwks: JWKSServer) -> None:
    client = await api(**jwks_settings(jwks))
    responses = await asyncio.gather(*(get_me(client, KEY_1, f"user_{i}") for i in range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    assert jwks.requests == 1


async def test_the_fetch_is_authenticated_with_the_secret_key(api: ApiFactory, jwks: JWKSServer) -> None:
    client = await api(**jwks_settings(jwks, clerk_secret_key="sk_test_wrong"))
    assert_401(await get_me(client, KEY_1), "unknown_key")
    assert jwks.requests == 1


async def test_key_rotation_new_kid_is_fetched(api: ApiFactory, jwks: JWKSServer) -> None:
    client = await api(**jwks_settings(jwks))
    assert (await get_me(client, KEY_1)).status_code == 200
    jwks.keys = [KEY_1.jwk, KEY_2.jwk]  # Clerk publishes the next key
    assert (await get_me(client, KEY_2)).status_code == 200
    assert (await get_me(client, KEY_1)).status_code == 200
    assert jwks.requests == 2


async def test_unknown_kid_refetch_is_rate_limited(api: ApiFactory, jwks: JWKSServer) -> None:
    client = await api(**jwks_settings(jwks, clerk_jwks_refresh_interval_seconds=300))
    assert (await get_me(client, KEY_1)).status_code == 200
    # A flood of tokens with made-up kids cannot turn into a flood of requests to Clerk: the last
    # fetch is younger than the interval, so none of these refetches.
    for _ in range(5):
        assert_401(await get_me(client, KEY_3), "unknown_key")
    responses = await asyncio.gather(*(get_me(client, KEY_3) for _ in range(10)))
    for response in responses:
        assert_401(response, "unknown_key")
    assert jwks.requests == 1
    assert (await get_me(client, KEY_1)).status_code == 200


async def verdict(verifier: TokenVerifier, key: TestKey, sub: str = "user_a") -> str:
    """``ok``, or the reason code the app would answer 401 with."""
    try:
        await verifier.verify(key.mint(sub))
    except Unauthorized as exc:
        return exc.code
    return "ok"


@pytest.fixture
async def clocked(
    jwks: JWKSServer, settings: Settings
) -> AsyncIterator[Callable[..., Awaitable[tuple[TokenVerifier, ManualClock]]]]:
    """``await clocked(ttl=..., refresh_interval=...)`` → the app's verifier over a JWKS provider that
    fetches from the local server and reads time from a clock the test moves (no real waiting)."""
    providers: list[JWKSKeyProvider] = []

    async def make(*, ttl: float, refresh_interval: float) -> tuple[TokenVerifier, ManualClock]:
        clock = ManualClock()
        provider = JWKSKeyProvider(jwks.url, SECRET, ttl=ttl, refresh_interval=refresh_interval, clock=clock)
        providers.append(provider)
        return TokenVerifier(settings, provider), clock

    yield make
    for provider in providers:
        await provider.aclose()


async def test_unknown_kid_refetches_once_per_interval(clocked: Any, jwks: JWKSServer) -> None:
    verifier, clock = await clocked(ttl=3600, refresh_interval=30)
    assert await verdict(verifier, KEY_1) == "ok"
    assert jwks.requests == 1
    clock.advance(30)
    verdicts = await asyncio.gather(*(verdict(verifier, KEY_2) for _ in range(6)))
    assert verdicts == ["unknown_key"] * 6  # not published yet
    assert jwks.requests == 2  # six tokens, one refetch
    jwks.keys = [KEY_1.jwk, KEY_2.jwk]
    clock.advance(29.9)
    assert await verdict(verifier, KEY_2) == "unknown_key"  # within the interval: no refetch
    assert jwks.requests == 2
    clock.advance(0.1)
    assert await verdict(verifier, KEY_2) == "ok"
    assert jwks.requests == 3


async def test_jwks_down_past_the_cache_ttl_keeps_cached_keys(clocked: Any, jwks: JWKSServer) -> None:
    verifier, clock = await clocked(ttl=600, refresh_interval=30)
    assert await verdict(verifier, KEY_1) == "ok"
    jwks.failing = True
    clock.advance(600)
    assert await verdict(verifier, KEY_1) == "ok"  # still fresh: no fetch
    assert jwks.requests == 1
    clock.advance(0.5)
    assert await verdict(verifier, KEY_1) == "ok"  # stale: served at once, refreshed behind it
    await until(lambda: jwks.requests == 2)
    await asyncio.sleep(0.05)  # let the failed refresh finish
    assert await verdict(verifier, KEY_1) == "ok"  # the refetch failed: still trusted
    clock.advance(10)
    assert await verdict(verifier, KEY_1) == "ok"  # the failed attempt counts for the interval
    assert jwks.requests == 2
    jwks.failing = False
    clock.advance(20)
    assert await verdict(verifier, KEY_1) == "ok"
    await until(lambda: jwks.requests == 3)


async def until(condition: Any, seconds: float = 5.0) -> None:
    """Wait (briefly, for real) until the background JWKS fetch has done what ``condition`` checks."""
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_a_key_clerk_stops_publishing_stops_working(clocked: Any, jwks: JWKSServer) -> None:
    jwks.keys = [KEY_1.jwk, KEY_2.jwk]
    verifier, clock = await clocked(ttl=60, refresh_interval=30)
    assert await verdict(verifier, KEY_2) == "ok"
    jwks.keys = [KEY_1.jwk]  # KEY_2 rotated out
    clock.advance(60)
    assert await verdict(verifier, KEY_2) == "ok"  # cached until the TTL has passed
    assert jwks.requests == 1
    clock.advance(0.5)
    # Past the TTL the cached key is still served at once while the refresh runs in the background...
    assert await verdict(verifier, KEY_2) == "ok"
    # ...which drops it once Clerk's answer arrives.
    await until(lambda: jwks.requests == 2)
    for _ in range(100):
        if await verdict(verifier, KEY_2) == "unknown_key":
            break
        await asyncio.sleep(0.01)
    assert await verdict(verifier, KEY_2) == "unknown_key"
    assert await verdict(verifier, KEY_1) == "ok"
    assert jwks.requests == 2


async def test_a_blackholed_jwks_endpoint_never_stalls_requests_with_a_cached_key(
    api: ApiFactory, jwks: JWKSServer
) -> None:
    """Issue 12: past the TTL the refresh used to run inside the request, so an endpoint that
    accepts connections and never answers held every request for the client's timeout (5 s)."""
    client = await api(**jwks_settings(jwks, clerk_jwks_cache_ttl_seconds=1))
    assert (await get_me(client, KEY_1)).status_code == 200
    jwks.blackhole.set()
    jwks.keys = [KEY_1.jwk, KEY_2.jwk]
    await asyncio.sleep(1.05)
    try:
        # A token with a new kid has to wait for Clerk's answer: it waits on the hanging fetch.
        waiting = asyncio.create_task(get_me(client, KEY_2, "user_new"))
        await until(lambda: jwks.requests == 2)
        # Tokens whose key is cached are answered meanwhile, far within the fetch's 5 s timeout.
        async with asyncio.timeout(2):
            responses = await asyncio.gather(*(get_me(client, KEY_1, f"user_{i}") for i in range(20)))
        assert [r.status_code for r in responses] == [200] * 20
        assert not waiting.done()
        assert jwks.requests == 2  # one fetch in flight, shared: no pile-up on the endpoint
    finally:
        jwks.release.set()
    assert (await waiting).status_code == 200  # Clerk answered: the new key is known


async def test_jwks_unreachable_from_the_start_is_401_not_500(api: ApiFactory) -> None:
    with JWKSServer(SECRET) as server:
        url = server.url
    client = await api(**jwks_settings(server, clerk_api_url=url))
    assert_401(await get_me(client, KEY_1), "unknown_key")


async def test_token_without_kid_is_refused_under_jwks(api: ApiFactory, jwks: JWKSServer) -> None:
    client = await api(**jwks_settings(jwks))
    token = KEY_1.mint("user_a")
    from tests.auth.tokens import b64url, b64url_decode

    head, body, signature = token.split(".")
    header = json.loads(b64url_decode(head))
    del header["kid"]
    no_kid = f"{b64url(json.dumps(header).encode())}.{body}.{signature}"
    assert_401(await client.get(ME, headers=bearer(no_kid)), "unknown_key")
    assert jwks.requests == 0


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"keys": "nope"}),
        httpx.Response(200, json={"keys": []}),
        httpx.Response(200, json={"keys": [{"kty": "RSA", "kid": "ins_bad", "n": "!!", "e": "AQAB"}]}),
        httpx.Response(200, json={"keys": [{"kty": "EC", "kid": "ins_ec"}]}),
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(500, json={"errors": []}),
    ],
)
async def test_unusable_jwks_answers_keep_the_cache(answer: httpx.Response) -> None:
    """Whatever the endpoint answers, verification degrades to 'unknown key', never to an error."""
    answers = [httpx.Response(200, json={"keys": [KEY_1.jwk]}), answer]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {SECRET}"
        return answers.pop(0) if answers else httpx.Response(503)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    provider = JWKSKeyProvider("https://clerk.test", SECRET, ttl=3600, refresh_interval=0, client=client)
    try:
        assert await provider.get_key(KEY_1.kid) is not None
        assert await provider.get_key(KEY_2.kid) is None  # refetch gets the unusable answer
        assert await provider.get_key(KEY_1.kid) is not None
    finally:
        await provider.aclose()
