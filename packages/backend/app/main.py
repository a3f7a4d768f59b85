"""Application factory: middleware, routers, error handlers and the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import __version__
from app.api import api_router
from app.core.config import Settings, load_settings
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging, get_logger
from app.core.middleware import RequestContextMiddleware
from app.memory import detect_pgvector
from app.runtime import create_resources

log = get_logger("delight")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    resources = create_resources(settings)  # lazy: connects on first use, never here
    app.state.resources = resources
    log.info("startup", environment=settings.environment.value, redis=bool(settings.redis_url))
    await detect_pgvector(resources.engine, settings.health_timeout_seconds)
    try:
        yield
    finally:
        await resources.close()
        log.info("shutdown")


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
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level, json=settings.json_logs)
    _init_sentry(settings)
    app = FastAPI(
        title="Delight API",
        version=__version__,
        description="Backend of Delight, the AI self-improvement companion (Eliza).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)  # ids, the access log and JSON 500s for the app below
    # Outermost, so that errors (even the 500s above) carry CORS headers a browser can read.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "Retry-After"],
    )
    app.include_router(api_router, prefix="/api/v1")

    @app.get("/", tags=["meta"], summary="Service name, version and links")
    async def root() -> dict[str, Any]:
        return {
            "name": "Delight API",
            "version": __version__,
            "environment": settings.environment.value,
            "links": {
                "health": "/api/v1/health",
                "docs": "/docs",
                "redoc": "/redoc",
                "openapi": "/openapi.json",
            },
        }

    return app
