"""The API's routes are registered flat on the app (``app.api.add_api_routes``: cheaper to match
than nested routers); the documented API must be exactly what ``include_router`` would give."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.api import API_PREFIX, MOUNTS
from app.core.config import Settings
from app.main import create_app


def _included(settings: Settings, reference: FastAPI) -> dict[str, Any]:
    app = FastAPI(title=reference.title, version=reference.version, description=reference.description)
    for mount in MOUNTS:
        app.include_router(
            mount.router, prefix=API_PREFIX, dependencies=list(mount.dependencies), responses=mount.errors
        )
    return app.openapi()


def test_flat_routes_document_the_same_api_as_included_routers(settings: Settings) -> None:
    app = create_app(settings)
    flat = app.openapi()
    included = _included(settings, app)
    flat_paths = {path: item for path, item in flat["paths"].items() if path.startswith(API_PREFIX)}
    assert flat_paths == included["paths"]
    assert flat["components"] == included["components"]
    assert list(flat_paths) == list(included["paths"])  # the same order, too
