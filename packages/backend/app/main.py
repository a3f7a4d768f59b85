"""Application factory: middleware, routers, error handlers and the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response

from app import __version__
from app.api import WEBHOOK_PATH, add_api_routes
from app.core import metrics
from app.core.bodylimit import BodyGuardMiddleware
from app.core.config import Settings, load_settings
from app.core.errors import Unauthorized, install_error_handlers
from app.core.logging import configure_logging, get_logger
from app.core.middleware import Cors, RequestContextMiddleware
from app.core.shutdown import notice_shutdown
from app.memory import detect_pgvector
from app.runtime import create_resources

log = get_logger("delight")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    resources = create_resources(settings)  # lazy: connects on first use, never here
    app.state.resources = resources
    restore_signals = notice_shutdown(resources.draining)
    await resources.start()
    metrics_server = _metrics_server(settings.metrics_port)
    log.info("startup", environment=settings.environment.value, redis=bool(settings.redis_url))
    await detect_pgvector(resources.engine, settings.health_timeout_seconds)
    try:
        yield
    finally:
        resources.draining.set()  # reply streams still open end with a reconnect event
        restore_signals()
        await resources.close()
        if metrics_server is not None:
            metrics_server.close()
        log.info("shutdown")


def _metrics_server(port: int | None) -> metrics.MetricsServer | None:
    if port is None:
        return None
    try:
        return metrics.MetricsServer(port)
    except OSError as exc:  # e.g. a second process on the same host: serve the API anyway
        log.warning("metrics_port_unavailable", port=port, error=type(exc).__name__)
        return None


def _init_sentry(settings: Settings) -> None:
    if not settings.sentry_dsn:
        return
    import sentry_sdk  # noqa: PLC0415 - only imported when configured

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment.value,
        release=f"delight-backend@{__version__}",
        send_default_pii=False,
        traces_sample_rate=0.0,
        # Frames' local variables can hold message bodies, tokens or memories; request bodies are
        # what users wrote. Neither leaves the process.
        include_local_variables=False,
        max_request_body_size="never",
        before_send=_scrub_event,
        before_breadcrumb=_scrub_breadcrumb,
    )


def _scrub_event(event: Any, _: Any) -> Any:
    """Keep what locates the error (type, stack frames, route); drop what could carry user text."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
        request.pop("query_string", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: v for k, v in headers.items() if k.lower() in _SAFE_HEADERS}
    for exception in (event.get("exception") or {}).get("values") or []:
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    event.pop("extra", None)
    return event


def _scrub_breadcrumb(crumb: Any, _: Any) -> Any:
    crumb.pop("data", None)
    return crumb


_SAFE_HEADERS = {"content-type", "content-length", "user-agent", "x-request-id"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level, json=settings.json_logs)
    _init_sentry(settings)
    docs = settings.docs_enabled  # off in production unless API_DOCS_ENABLED=true
    app = FastAPI(
        title="Delight API",
        version=__version__,
        description="Backend of Delight, the AI self-improvement companion (Eliza).",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        # FastAPI's built-in OpenTelemetry hooks cost ≈ 30 µs per request even with nothing
        # configured; this service reports through Prometheus (app/core/metrics.py) instead.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    install_error_handlers(app)
    # Inner: bodies are capped before any route (or token check) reads them.
    app.add_middleware(
        BodyGuardMiddleware,
        max_body_bytes=settings.max_request_body_bytes,
        own_limit=frozenset({WEBHOOK_PATH}),
    )
    # CORS, request ids, the access log, metrics and JSON 500s, in one layer around everything, so
    # that errors (even its own 500s) carry the CORS headers a browser needs to read them.
    cors = Cors(settings.cors_origins, expose_headers=["X-Request-ID", "Retry-After"])
    app.add_middleware(RequestContextMiddleware, cors=cors)

    links = {"health": "/api/v1/health"}
    if docs:
        links.update(docs="/docs", redoc="/redoc", openapi="/openapi.json")

    @app.get("/", tags=["meta"], summary="Service name, version and links")
    async def root() -> dict[str, Any]:
        return {
            "name": "Delight API",
            "version": __version__,
            "environment": settings.environment.value,
            "links": links,
        }

    # The root first (FastAPI registered its docs routes already): the router tries routes in
    # order, and the cheapest request should stay cheap.
    app.router.routes.insert(0, app.router.routes.pop())
    add_api_routes(app)
    if settings.metrics_token is not None:
        _add_metrics_route(app, settings.metrics_token.get_secret_value())
    return app


def _add_metrics_route(app: FastAPI, token: str) -> None:
    """``GET /metrics`` on the API port, for a scraper holding METRICS_TOKEN (Bearer)."""

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        if not metrics.token_matches(request.headers.get("authorization"), token):
            raise Unauthorized("invalid_token")
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)
