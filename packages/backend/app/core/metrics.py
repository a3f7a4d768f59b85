"""Prometheus metrics of one process (API or worker), in prometheus-client's default registry.

The metric objects are defined here once (creating them connects to nothing); the code that does
the work updates them: the request middleware, the database pool, the Redis client, the caches,
the job wrapper, the model client. ``MetricsServer`` exposes them on their own port;
``exposition`` is what ``GET /metrics`` answers on the API port (behind a bearer token).
Metric names and alert rules are listed in docs/runbook/backend-configuration.md ("Metrics").
"""

from __future__ import annotations

import hmac
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, start_http_server
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# --- HTTP -----------------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "delight_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "delight_http_request_duration_seconds",
    "Time from receiving a request to the end of its response, by method, route template and status",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
SSE_STREAMS = Gauge("delight_sse_streams_open", "Server-Sent Event streams open in this process")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"  # a request no route matched (404s, scans): one series, not one per path


class HttpMetrics:
    """Counts one answered request; label children are looked up once per label set."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            if method not in _METHODS:  # any other method is one series (and one key here)
                method = "other"
                key = (method, route, status)
            labels = (method, route, str(status))
            children = (HTTP_REQUESTS.labels(*labels), HTTP_DURATION.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


# --- database pool --------------------------------------------------------------------------------

DB_POOL_WAIT = Histogram(
    "delight_db_pool_wait_seconds",
    "Time a checkout waited for a pooled connection when every connection was in use",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_POOL_TIMEOUTS = Counter(
    "delight_db_pool_timeouts", "Checkouts that gave up waiting (DATABASE_POOL_TIMEOUT_SECONDS): 503s"
)
_ENGINES: weakref.WeakSet[Any] = weakref.WeakSet()


def watch_pool(engine: AsyncEngine) -> None:
    """Report ``engine``'s pool in ``delight_db_pool_connections`` (read at scrape time)."""
    _ENGINES.add(engine.sync_engine)


class _PoolCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        connections = GaugeMetricFamily(
            "delight_db_pool_connections", "Pooled database connections by state", labels=["state"]
        )
        capacity = GaugeMetricFamily(
            "delight_db_pool_capacity", "Most connections the pool may open (size + max overflow)"
        )
        in_use = idle = limit = 0
        for engine in list(_ENGINES):
            pool = engine.pool
            in_use += pool.checkedout()
            idle += pool.checkedin()
            limit += pool.size() + max(getattr(pool, "_max_overflow", 0), 0)
        connections.add_metric(["in_use"], in_use)
        connections.add_metric(["idle"], idle)
        capacity.add_metric([], limit)
        yield connections
        yield capacity


REGISTRY.register(_PoolCollector())

# --- Redis ----------------------------------------------------------------------------------------

REDIS_ERRORS = Counter(
    "delight_redis_errors", "Failed Redis commands and connection attempts, by error class", ["error"]
)

# --- caches ---------------------------------------------------------------------------------------

CACHE_LOOKUPS = Counter(
    "delight_cache_lookups",
    "Cache lookups by cache and result: hit, miss (read from the database), bypass (cache off, or "
    "not trusted while its invalidation channel is down)",
    ["cache", "result"],
)
CACHE_INVALIDATIONS = Counter(
    "delight_cache_invalidations",
    "Keys dropped from a cache, by origin: local (a change committed here) or remote (another process)",
    ["cache", "origin"],
)

# --- jobs -----------------------------------------------------------------------------------------

JOB_RUNS = Counter("delight_job_runs", "Job runs by job name and outcome", ["job", "outcome"])
JOB_DURATION = Histogram(
    "delight_job_duration_seconds",
    "Job run time by job name",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 600.0),
)

# --- language models ------------------------------------------------------------------------------

MODEL_CALLS = Counter(
    "delight_model_calls", "Language-model calls by model and outcome", ["model", "outcome"]
)
MODEL_TOKENS = Counter("delight_model_tokens", "Language-model tokens by model and kind", ["model", "kind"])
MODEL_COST = Counter(
    "delight_model_cost_usd",
    "Estimated spend in USD by model (MODEL_INPUT/OUTPUT_COST_PER_MILLION_TOKENS)",
    ["model"],
)


class ModelMeter:
    """Records a model call's tokens and estimated cost (prices per million tokens)."""

    def __init__(self, input_price: float, output_price: float) -> None:
        self._prices = (input_price / 1e6, output_price / 1e6)

    def record(self, model: str, prompt_tokens: int, completion_tokens: int, *, ok: bool = True) -> None:
        MODEL_CALLS.labels(model, "success" if ok else "failure").inc()
        if prompt_tokens:
            MODEL_TOKENS.labels(model, "prompt").inc(prompt_tokens)
        if completion_tokens:
            MODEL_TOKENS.labels(model, "completion").inc(completion_tokens)
        cost = prompt_tokens * self._prices[0] + completion_tokens * self._prices[1]
        if cost:
            MODEL_COST.labels(model).inc(cost)


# --- exposition -----------------------------------------------------------------------------------


class MetricsServer:
    """``/metrics`` on its own port, in a thread of this process."""

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - a scrape target
        self._server, self._thread = start_http_server(port, addr=host)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric of this process, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def token_matches(authorization: str | None, token: str) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
