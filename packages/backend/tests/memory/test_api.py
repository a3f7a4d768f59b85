"""/api/v1/memories over the real app, database and local embedding model."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Memory

URL = "/api/v1/memories"


async def add(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    body.setdefault("tier", "personal")
    return await client.post(URL, json=body, headers=headers)


async def test_create_get_and_list(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    goal = str(uuid.uuid4())
    created = await add(
        client,
        headers,
        tier="project",
        content="  I want to run a half marathon in April.  ",
        source="chat",
        metadata={"emotion": "hopeful"},
        goal_id=goal,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["created"] is True
    assert body["content"] == "I want to run a half marathon in April."
    assert body["tier"] == "project"
    assert body["metadata"] == {"emotion": "hopeful"}
    assert body["goal_id"] == goal
    assert body["embedded"] is True
    assert body["embedding_model"] == "all-MiniLM-L6-v2-onnx-int8"
    assert body["access_count"] == 0

    fetched = await client.get(f"{URL}/{body['id']}", headers=headers)
    assert fetched.status_code == 200
    assert fetched.json()["id"] == body["id"]

    listed = await client.get(URL, headers=headers)
    assert [m["id"] for m in listed.json()["items"]] == [body["id"]]
    assert listed.json()["next_cursor"] is None


async def test_list_filters_and_cursor_pagination(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    goal = str(uuid.uuid4())
    ids = []
    for i in range(7):
        tier = "task" if i % 2 else "personal"
        response = await add(
            client,
            headers,
            tier=tier,
            content=f"Fact number {i} about the user: item {i * 17}",
            source="chat" if i < 4 else "mission",
            goal_id=goal if i == 3 else None,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(URL, params=params, headers=headers)).json()
        seen.extend(m["id"] for m in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(ids))  # newest first, each exactly once

    tasks = (await client.get(URL, params={"tier": "task"}, headers=headers)).json()["items"]
    assert {m["tier"] for m in tasks} == {"task"} and len(tasks) == 3
    missions = (await client.get(URL, params={"source": "mission"}, headers=headers)).json()["items"]
    assert len(missions) == 3
    by_goal = (await client.get(URL, params={"goal_id": goal}, headers=headers)).json()["items"]
    assert [m["id"] for m in by_goal] == [ids[3]]


async def test_exact_duplicate_refreshes_instead_of_adding(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    headers = auth_headers("user_a")
    first = await add(client, headers, content="My sister Priya lives in Toronto.", metadata={"a": 1})
    again = await add(client, headers, content="my sister priya   lives in toronto.", metadata={"b": 2})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["access_count"] == 1
    assert again.json()["metadata"] == {"a": 1, "b": 2}
    # The same text in another tier is another memory.
    other_tier = await add(client, headers, tier="task", content="My sister Priya lives in Toronto.")
    assert other_tier.status_code == 201
    count = await db.scalar(select(func.count()).select_from(Memory))
    assert count == 2


async def test_near_duplicate_refreshes_but_a_different_fact_is_added(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    first = await add(client, headers, content="I am allergic to peanuts.")
    near = await add(client, headers, content="I'm allergic to peanuts!")
    assert near.status_code == 200, near.text
    assert near.json()["id"] == first.json()["id"]
    different = await add(client, headers, content="I am allergic to cats.")
    assert different.status_code == 201


async def test_search_ranks_with_breakdown_and_updates_access(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    contents = [
        "I get very anxious before giving presentations at work.",
        "My favourite food is spicy ramen.",
        "I go climbing at the bouldering gym on Thursdays.",
    ]
    ids = [(await add(client, headers, content=c)).json()["id"] for c in contents]
    response = await client.get(
        f"{URL}/search", params={"q": "public speaking makes me nervous", "limit": 2}, headers=headers
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0]["memory"]["id"] == ids[0]
    assert len(results) <= 2
    breakdown = results[0]["breakdown"]
    assert set(breakdown) == {
        "similarity",
        "dense_rank",
        "lexical",
        "bm25",
        "lexical_rank",
        "coverage",
        "relevance",
        "recency",
        "frequency",
        "score",
        "strategy",
    }
    bounded = ("similarity", "lexical", "coverage", "relevance", "recency", "frequency", "score")
    assert all(0.0 <= breakdown[k] <= 1.0 for k in bounded)
    # The best semantic match, no shared search term: first among the dense candidates only.
    assert breakdown["dense_rank"] == 1
    assert breakdown["lexical_rank"] is None and breakdown["bm25"] == 0.0
    assert breakdown["strategy"] is None
    assert results[0]["score"] == pytest.approx(breakdown["score"])
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    # Returned memories count as accessed.
    fetched = (await client.get(f"{URL}/{ids[0]}", headers=headers)).json()
    assert fetched["access_count"] == 1
    # Nothing unrelated passes the similarity floor.
    unrelated = await client.get(
        f"{URL}/search", params={"q": "quantum chromodynamics lattice"}, headers=headers
    )
    assert unrelated.json()["results"] == []


async def test_search_keeps_keyword_matches_and_filters_tiers(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    name = (await add(client, headers, content="Zorblat is the name of my cat.")).json()["id"]
    task = (
        await add(client, headers, tier="task", content="Finished the Zorblat vet appointment booking.")
    ).json()
    response = await client.get(f"{URL}/search", params={"q": "zorblat"}, headers=headers)
    found = [r["memory"]["id"] for r in response.json()["results"]]
    assert name in found and task["id"] in found
    only_task = await client.get(f"{URL}/search", params={"q": "zorblat", "tier": "task"}, headers=headers)
    assert [r["memory"]["id"] for r in only_task.json()["results"]] == [task["id"]]
    both = await client.get(
        f"{URL}/search", params=[("q", "zorblat"), ("tier", "task"), ("tier", "personal")], headers=headers
    )
    assert len(both.json()["results"]) == 2


async def test_patch_reembeds_and_rejects_a_clash(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    memory = (await add(client, headers, content="I drink coffee every morning.")).json()
    other = (await add(client, headers, content="I prefer tea in the evening.")).json()
    patched = await client.patch(
        f"{URL}/{memory['id']}",
        json={"content": "I quit coffee and drink water now.", "tier": "project", "metadata": {"x": 1}},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["content"], body["tier"], body["metadata"], body["embedded"]) == (
        "I quit coffee and drink water now.",
        "project",
        {"x": 1},
        True,
    )
    search = await client.get(f"{URL}/search", params={"q": "water instead of coffee"}, headers=headers)
    assert search.json()["results"][0]["memory"]["id"] == memory["id"]
    clash = await client.patch(
        f"{URL}/{other['id']}", json={"content": "I prefer tea in the evening."}, headers=headers
    )
    assert clash.status_code == 200  # unchanged content is not a clash with itself
    clash = await client.patch(
        f"{URL}/{other['id']}",
        json={"content": "i quit coffee and drink water now.", "tier": "project"},
        headers=headers,
    )
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "conflict"


async def test_delete(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    memory = (await add(client, headers, content="Delete me")).json()
    assert (await client.delete(f"{URL}/{memory['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"{URL}/{memory['id']}", headers=headers)).status_code == 404
    assert (await client.delete(f"{URL}/{memory['id']}", headers=headers)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tier": "personal", "content": ""}, "content"),
        ({"tier": "personal", "content": "   \n "}, "content"),
        ({"tier": "personal", "content": "x" * 4001}, "content"),
        ({"tier": "cosmic", "content": "hello"}, "tier"),
        ({"content": "hello"}, "tier"),
        ({"tier": "task", "content": "hello", "source": "not valid!"}, "source"),
        ({"tier": "task", "content": "hello", "unknown": 1}, "unknown"),
        ({"tier": "task", "content": "hello", "metadata": {"blob": "x" * 20_000}}, "metadata"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    client: httpx.AsyncClient, auth_headers: Any, body: dict[str, Any], field: str
) -> None:
    response = await client.post(URL, json=body, headers=auth_headers("user_a"))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in {d["field"] for d in error["details"]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "x" * 1001}, "q"),
        ({"q": "hello", "limit": 0}, "limit"),
        ({"q": "hello", "limit": 51}, "limit"),
        ({"q": "hello", "tier": "cosmic"}, "tier"),
        ({}, "q"),
    ],
)
async def test_bad_search_is_422(
    client: httpx.AsyncClient, auth_headers: Any, params: dict[str, Any], field: str
) -> None:
    response = await client.get(f"{URL}/search", params=params, headers=auth_headers("user_a"))
    assert response.status_code == 422, response.text
    assert any(field in d["field"].split(".") for d in response.json()["error"]["details"])


async def test_bad_list_parameters_are_422(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    for params in (
        {"limit": 0},
        {"limit": 101},
        {"tier": "nope"},
        {"cursor": "!!not-a-cursor"},
        {"goal_id": "x"},
    ):
        response = await client.get(URL, params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
    assert (await client.get(f"{URL}/not-a-uuid", headers=headers)).status_code == 422


async def test_requires_authentication(client: httpx.AsyncClient) -> None:
    assert (await client.get(URL)).status_code == 401
    assert (await client.post(URL, json={"tier": "task", "content": "x"})).status_code == 401
    assert (await client.get(f"{URL}/search", params={"q": "x"})).status_code == 401


async def test_cross_tenant_every_endpoint(client: httpx.AsyncClient, auth_headers: Any) -> None:
    alice, bob = auth_headers("user_alice"), auth_headers("user_bob")
    secret = (await add(client, bob, content="Bob's secret: the safe code is 4711.")).json()
    url = f"{URL}/{secret['id']}"
    assert (await client.get(url, headers=alice)).status_code == 404
    assert (await client.patch(url, json={"content": "hijacked"}, headers=alice)).status_code == 404
    assert (await client.delete(url, headers=alice)).status_code == 404
    assert (await client.get(URL, headers=alice)).json()["items"] == []
    search = await client.get(f"{URL}/search", params={"q": "safe code 4711"}, headers=alice)
    assert search.json()["results"] == []
    # Alice storing the same text creates her own memory; Bob's is untouched.
    mine = await add(client, alice, content="Bob's secret: the safe code is 4711.")
    assert mine.status_code == 201 and mine.json()["id"] != secret["id"]
    still = (await client.get(url, headers=bob)).json()
    assert still["content"] == "Bob's secret: the safe code is 4711." and still["access_count"] == 0


async def test_export_and_erasure(client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession) -> None:
    headers = auth_headers("user_a")
    await add(client, headers, content="I love sunrise walks.")
    await add(client, auth_headers("user_b"), content="Someone else's memory.")
    export = (await client.get("/api/v1/users/me/export", headers=headers)).json()
    assert [m["content"] for m in export["memories"]] == ["I love sunrise walks."]
    assert "embedding" not in export["memories"][0]

    assert (await client.delete("/api/v1/users/me", headers=headers)).status_code == 204
    remaining = (await db.execute(select(Memory.content))).scalars().all()
    assert remaining == ["Someone else's memory."]
