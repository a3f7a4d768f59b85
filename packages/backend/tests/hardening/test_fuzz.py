"""Schemathesis against the real app (uvicorn on loopback, real PostgreSQL and Redis) with a valid
session token: every operation of the OpenAPI schema, a bounded number of generated requests each.
No response may be a 5xx, and every response must conform to the schema: a documented status code,
content type, headers and body."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.core.config import Settings
from app.main import create_app
from tests.companion.test_live_stream import LiveServer
from tests.conftest import SIGNING_KEY, make_settings
from tests.support.auth import bearer
from tests.support.services import ServiceURLs

# Examples per operation: enough to reach each operation's failure paths, small enough that the
# whole run (~40 operations) stays well under a minute.
EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_api(services: ServiceURLs) -> Iterator[LiveServer]:
    settings = make_settings(
        services,
        companion_provider="offline",
        rate_limit_per_minute=1_000_000,
        companion_chat_rate_limit_per_minute=1_000_000,
        decompose_rate_limit_per_minute=1_000_000,
        max_streams_per_user=1_000,
        companion_reply_timeout_seconds=10,
        # The suite empties the tables after every test, behind this long-lived server's back:
        # a cached user would outlive its row.
        user_cache_ttl_seconds=0,
        environment="test",
    )
    server = LiveServer(settings)
    with server:
        yield server


@pytest.fixture
def api_url(live_api: LiveServer) -> Iterator[str]:
    """The server's URL; after each operation, waits for the replies it started (chat) to end, so
    that the tables are not truncated under them."""
    yield live_api.url
    registry = live_api.app.state.resources.tasks
    for _ in range(600):
        if len(registry) == 0:
            return
        time.sleep(0.05)
    raise AssertionError("replies started by the fuzzer did not finish")


def _openapi() -> dict[str, Any]:
    """The schema the app serves at /openapi.json (building the app connects to nothing)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="postgresql://unused@localhost/unused",
        clerk_secret_key="sk_test_schema",
        clerk_webhook_secret="whsec_schema",
        environment="test",
    )
    return create_app(settings).openapi()


schema = schemathesis.openapi.from_dict(_openapi())


@schema.parametrize()
# Raised by schemathesis' own strategies (hypothesis deprecates the random module in them).
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_and_never_fails(case: Any, api_url: str) -> None:
    headers = bearer(SIGNING_KEY.mint("user_fuzz"))
    case.call_and_validate(base_url=api_url, headers=headers, checks=CHECKS, timeout=30)


# --- stateful: sequences of calls along the links schemathesis infers (POST /goals → its id →
# GET/PATCH/decompose/missions ..., chat → its conversation → stream, history, ...) -------------------

STEPS = 12
SCENARIOS = 15


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_stateful_sequences_conform_and_never_fail(api_url: str) -> None:
    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": api_url, "headers": bearer(SIGNING_KEY.mint("user_stateful")), "timeout": 30}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
