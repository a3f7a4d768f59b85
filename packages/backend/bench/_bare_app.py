"""The floor for per-request overhead: a FastAPI app with one route and nothing else (no middleware,
no logging, no database), served by the same uvicorn as the real app in ``bench auth``. Its JSON
body has the size and shape of the real ``GET /`` so both serialise the same amount."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()

BODY = {
    "name": "Delight API",
    "version": "0.1.0",
    "environment": "production",
    "links": {"health": "/api/v1/health", "docs": "/docs", "redoc": "/redoc", "openapi": "/openapi.json"},
}


@app.get("/")
async def root() -> dict[str, object]:
    return BODY
