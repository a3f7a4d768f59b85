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


async def test_malformed_json_is_422_invalid_json_with_line_and_column(http: httpx.AsyncClient) -> None:
    body = b'{\n  "name": "walk",\n  "minutes": 20,,\n}'
    response = await http.post("/probe/items", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_json"
    [detail] = error["details"]
    # Where it failed: the second comma, line 3, column 17 (offset 36); never a "field" named "36".
    assert detail == {
        "field": "body",
        "location": "body",
        "message": "Expecting property name enclosed in double quotes",
        "type": "json_invalid",
        "line": 3,
        "column": 17,
        "position": 36,
    }
    assert body.decode()[detail["position"]] == ","
    assert "line 3, column 17" in error["message"] and "not valid JSON" in error["message"]


async def test_truncated_json_points_at_its_end(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/probe/items", content=b'{"name": ', headers={"content-type": "application/json; charset=utf-8"}
    )
    error = error_of(response)
    assert (response.status_code, error["code"]) == (422, "invalid_json")
    assert {k: error["details"][0][k] for k in ("line", "column", "position")} == {
        "line": 1,
        "column": 10,
        "position": 9,
    }


@pytest.mark.parametrize(
    ("headers", "received"),
    [
        ({}, None),  # no Content-Type at all
        ({"content-type": "application/x-www-form-urlencoded"}, "application/x-www-form-urlencoded"),
        ({"content-type": "text/plain"}, "text/plain"),
    ],
)
async def test_a_json_body_without_the_json_content_type_is_415_naming_the_header(
    http: httpx.AsyncClient, headers: dict[str, str], received: str | None
) -> None:
    response = await http.post("/probe/items", content=b'{"name": "walk", "minutes": 20}', headers=headers)
    assert response.status_code == 415
    error = error_of(response)
    assert error["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in error["message"]
    expected = {"header": "Content-Type", "expected": "application/json", "received": received}
    assert error["details"] == expected


async def test_json_content_types_with_parameters_or_suffix_are_accepted(http: httpx.AsyncClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await http.post(
            "/probe/items", content=b'{"name": "walk", "minutes": 20}', headers={"content-type": content_type}
        )
        assert response.status_code == 200, content_type


async def test_valid_json_of_the_wrong_shape_and_a_missing_body_stay_validation_errors(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/probe/items", content=b"[1]", headers={"content-type": "application/json"})
    assert (response.status_code, error_of(response)["code"]) == (422, "validation_error")
    response = await http.post("/probe/items")
    error = error_of(response)
    assert (response.status_code, error["code"]) == (422, "validation_error")
    assert [(d["field"], d["type"]) for d in error["details"]] == [("body", "missing")]


async def test_a_real_route_answers_415_and_invalid_json_too(
    http: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    form = await http.post("/api/v1/companion/chat", headers=headers, content=b'{"message": "hi"}')
    assert (form.status_code, error_of(form)["code"]) == (415, "unsupported_media_type")
    broken = await http.post(
        "/api/v1/goals",
        headers={**headers, "content-type": "application/json"},
        content=b'{"title": "Run"',
    )
    assert (broken.status_code, error_of(broken)["code"]) == (422, "invalid_json")


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
