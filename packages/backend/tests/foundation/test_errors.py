"""Every error has one JSON shape and carries the request id that is also in X-Request-ID."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, Field

from app.core.config import Settings
from app.core.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized


class Note(BaseModel):
    body: str = Field(max_length=5)


class Item(BaseModel):
    name: str = Field(min_length=1)
    minutes: int = Field(ge=10, le=30)
    note: Note | None = None


def add_probe_routes(app: FastAPI) -> None:
    """Routes that exist only on this test's app object, to reach each kind of failure."""

    @app.post("/probe/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/probe/items/{item_id}")
    async def list_items(item_id: int, limit: int = Query(default=10, le=100)) -> dict[str, int]:
        return {"item_id": item_id, "limit": limit}

    @app.get("/probe/crash")
    async def crash() -> None:
        raise RuntimeError("database password is hunter2")

    @app.get("/probe/unauthorized")
    async def unauthorized() -> None:
        raise Unauthorized("token_expired")

    @app.get("/probe/forbidden")
    async def forbidden() -> None:
        raise Forbidden("Not your mission")

    @app.get("/probe/missing")
    async def missing() -> None:
        raise NotFound("No such goal")

    @app.get("/probe/conflict")
    async def conflict() -> None:
        raise Conflict("Already exists", details={"field": "clerk_user_id"})

    @app.get("/probe/limited")
    async def limited() -> None:
        raise RateLimited(retry_after=30)


@pytest.fixture
async def http(app_factory: Any, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = await app_factory(settings)
    add_probe_routes(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error object, after checking the shape every error shares."""
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"code", "message", "request_id", "details"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["request_id"]
    assert response.headers["x-request-id"] == error["request_id"]
    assert response.headers["content-type"] == "application/json"
    return error  # type: ignore[no-any-return]


async def test_unknown_route_is_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "not_found"
    assert "details" not in error


async def test_wrong_method_is_405(http: httpx.AsyncClient) -> None:
    response = await http.delete("/api/v1/health/live")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET"


async def test_validation_error_is_422_and_names_the_fields(http: httpx.AsyncClient) -> None:
    response = await http.post("/probe/items", json={"name": "", "minutes": 45})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_error"
    fields = {detail["field"]: detail for detail in error["details"]}
    assert set(fields) == {"name", "minutes"}
    assert fields["minutes"]["location"] == "body"
    assert fields["minutes"]["type"] == "less_than_equal"
    assert "30" in fields["minutes"]["message"]


async def test_validation_error_names_nested_query_and_path_fields(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/probe/items", json={"name": "x", "minutes": 20, "note": {"body": "too long"}}
    )
    [detail] = error_of(response)["details"]
    assert (detail["field"], detail["location"]) == ("note.body", "body")

    response = await http.get("/probe/items/seven?limit=1000")
    assert response.status_code == 422
    fields = {(d["field"], d["location"]) for d in error_of(response)["details"]}
    assert fields == {("item_id", "path"), ("limit", "query")}


async def test_malformed_json_is_422(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/probe/items", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "validation_error"


async def test_unhandled_exception_is_a_bare_500(http: httpx.AsyncClient) -> None:
    response = await http.get("/probe/crash")
    assert response.status_code == 500
    error = error_of(response)
    assert error == {
        "code": "internal_error",
        "message": "Internal server error",
        "request_id": error["request_id"],
    }
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text


async def test_unauthorized_is_401_with_challenge(http: httpx.AsyncClient) -> None:
    response = await http.get("/probe/unauthorized")
    assert response.status_code == 401
    assert error_of(response)["code"] == "token_expired"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("path", "status", "code", "message"),
    [
        ("/probe/forbidden", 403, "forbidden", "Not your mission"),
        ("/probe/missing", 404, "not_found", "No such goal"),
        ("/probe/conflict", 409, "conflict", "Already exists"),
    ],
)
async def test_app_errors_carry_status_code_and_message(
    http: httpx.AsyncClient, path: str, status: int, code: str, message: str
) -> None:
    response = await http.get(path)
    assert response.status_code == status
    error = error_of(response)
    assert (error["code"], error["message"]) == (code, message)


async def test_conflict_details_are_returned(http: httpx.AsyncClient) -> None:
    error = error_of(await http.get("/probe/conflict"))
    assert error["details"] == {"field": "clerk_user_id"}


async def test_rate_limited_is_429_with_retry_after(http: httpx.AsyncClient) -> None:
    response = await http.get("/probe/limited")
    assert response.status_code == 429
    error = error_of(response)
    assert error["code"] == "rate_limited"
    assert error["details"] == {"retry_after": 30}
    assert response.headers["retry-after"] == "30"


async def test_a_valid_incoming_request_id_is_echoed(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/nope", headers={"X-Request-ID": "edge-7f3a:42"})
    assert response.headers["x-request-id"] == "edge-7f3a:42"
    assert error_of(response)["request_id"] == "edge-7f3a:42"
    ok = await http.get("/api/v1/health/live", headers={"X-Request-ID": "edge-7f3a:43"})
    assert ok.headers["x-request-id"] == "edge-7f3a:43"


@pytest.mark.parametrize("incoming", ["", "has spaces", "x" * 129, "semi;colon"])
async def test_an_unusable_request_id_is_replaced(http: httpx.AsyncClient, incoming: str) -> None:
    response = await http.get("/api/v1/nope", headers={"X-Request-ID": incoming})
    request_id = error_of(response)["request_id"]
    assert request_id != incoming
    assert len(request_id) == 32


async def test_each_request_gets_its_own_id(http: httpx.AsyncClient) -> None:
    first = await http.get("/api/v1/health/live")
    second = await http.get("/api/v1/health/live")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
