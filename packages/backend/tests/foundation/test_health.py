from __future__ import annotations

import httpx


async def test_health_is_healthy_with_database_and_redis_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["database"]["status"] == "up"
    assert body["redis"]["status"] == "up"
    assert body["database"]["latency_ms"] >= 0
    assert body["timestamp"].endswith("+00:00")
