"""Prometheus metrics: on a separate port or behind a bearer token on the API port, covering
requests by route template and status, the database pool, Redis errors, open SSE streams, jobs,
model tokens and cost."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
from arq.connections import ArqRedis
from fastapi.responses import StreamingResponse
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from app.companion.formation import companion_form_memories
from tests.companion.openai_server import OpenAIServer
from tests.companion.support import chat


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_metrics_behind_a_token_on_the_api_port(
    app_factory: Any, settings_factory: Any, auth_headers: Any
) -> None:
    app = await app_factory(settings_factory(metrics_token="scrape-secret"))
    async with client_for(app) as http:
        await http.get("/api/v1/users/me", headers=auth_headers("user_metrics"))
        await http.get("/api/v1/no/such/path/12345")
        refused = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        scraped = await http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert refused.status_code == wrong.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    found = samples(scraped.text)
    me = (("method", "GET"), ("route", "/api/v1/users/me"), ("status", "200"))
    assert found[("delight_http_requests_total", me)] >= 1
    assert found[("delight_http_request_duration_seconds_count", me)] >= 1
    # A path no route matches is one series, not one per path (a scanner cannot explode them).
    unmatched = (("method", "GET"), ("route", "<unmatched>"), ("status", "404"))
    assert found[("delight_http_requests_total", unmatched)] >= 1
    assert not any("no/such/path" in str(labels) for _, labels in found)
    assert ("delight_db_pool_connections", (("state", "in_use"),)) in found
    assert found[("delight_db_pool_capacity", ())] >= 20  # this pool's 10 + 10, and other live apps'


async def test_metrics_are_not_served_on_the_api_port_without_a_token(
    app_factory: Any, settings: Any
) -> None:
    async with client_for(await app_factory(settings)) as http:
        assert (await http.get("/metrics")).status_code == 404


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_metrics_on_their_own_port(app_factory: Any, settings_factory: Any) -> None:
    port = free_port()
    app = await app_factory(settings_factory(metrics_port=port))
    async with client_for(app) as http:
        await http.get("/api/v1/health/live")
    async with httpx.AsyncClient() as scraper:
        response = await scraper.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    live = (("method", "GET"), ("route", "/api/v1/health/live"), ("status", "200"))
    assert samples(response.text)[("delight_http_requests_total", live)] >= 1


async def test_open_sse_streams_are_counted(app_factory: Any, settings: Any) -> None:
    app = await app_factory(settings)
    release = asyncio.Event()

    async def events() -> AsyncIterator[str]:
        yield "data: {}\n\n"
        await release.wait()

    async def probe() -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    app.add_api_route("/probe/sse", probe, methods=["GET"])
    before = value("delight_sse_streams_open")
    body_started = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client never sends anything more
        return {}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            body_started.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/probe/sse", "raw_path": b"/probe/sse", "query_string": b"",
        "root_path": "", "headers": [], "client": ("127.0.0.1", 1), "server": ("t", 80),
    }  # fmt: skip
    request = asyncio.create_task(app(scope, receive, send))
    await asyncio.wait_for(body_started.wait(), 5)
    assert value("delight_sse_streams_open") == before + 1
    release.set()
    await asyncio.wait_for(request, 5)
    assert value("delight_sse_streams_open") == before


async def test_job_runs_and_failures_by_job(settings: Any, pool: ArqRedis, run_worker: Any) -> None:
    succeeded = value("delight_job_runs_total", job="heartbeat", outcome="success")
    failed = value("delight_job_runs_total", job="companion_form_memories", outcome="failure")
    timed = value("delight_job_duration_seconds_count", job="companion_form_memories")
    await companion_form_memories.enqueue(pool, "not-a-message-id")  # fails: not a UUID
    await run_worker(settings)  # the heartbeat runs at start-up
    assert value("delight_job_runs_total", job="heartbeat", outcome="success") == succeeded + 1
    assert value("delight_job_runs_total", job="companion_form_memories", outcome="failure") == failed + 1
    assert value("delight_job_duration_seconds_count", job="companion_form_memories") == timed + 1


async def test_model_tokens_and_cost_by_model(
    app_factory: Any, settings_factory: Any, auth_headers: Any
) -> None:
    with OpenAIServer() as server:
        settings = settings_factory(
            openai_api_key="sk-test-local",
            openai_base_url=server.url,
            companion_model="metered-model",
            companion_max_retries=0,
        )
        app = await app_factory(settings)
        prompt = value("delight_model_tokens_total", model="metered-model", kind="prompt")
        completion = value("delight_model_tokens_total", model="metered-model", kind="completion")
        cost = value("delight_model_cost_usd_total", model="metered-model")
        async with client_for(app) as http:
            _, sse = await chat(http, auth_headers("user_tokens"), "I'm nervous about tomorrow")
    assert sse.last["type"] == "complete"
    # Two calls (emotion, reply), each 42 prompt tokens; 9 completion tokens each (the test server).
    assert value("delight_model_tokens_total", model="metered-model", kind="prompt") == prompt + 84
    assert value("delight_model_tokens_total", model="metered-model", kind="completion") == completion + 18
    expected = (84 * 0.15 + 18 * 0.60) / 1e6
    assert abs(value("delight_model_cost_usd_total", model="metered-model") - cost - expected) < 1e-12
    assert value("delight_model_calls_total", model="metered-model", outcome="success") >= 2


async def test_redis_errors_are_counted(app_factory: Any, settings_factory: Any) -> None:
    before = sum(
        sample.value
        for family in REGISTRY.collect()
        if family.name == "delight_redis_errors"
        for sample in family.samples
        if sample.name == "delight_redis_errors_total"
    )
    await app_factory(settings_factory(redis_url="redis://127.0.0.1:1/0"))
    await asyncio.sleep(0.3)  # the cache listener tries to connect, and fails
    after = sum(
        sample.value
        for family in REGISTRY.collect()
        if family.name == "delight_redis_errors"
        for sample in family.samples
        if sample.name == "delight_redis_errors_total"
    )
    assert after > before
