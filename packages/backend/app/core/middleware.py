"""The request stack, in one pure-ASGI layer: CORS, a request id on every log line and response, one
access log line, the request metrics, and a JSON answer for anything unhandled (503 when the
database is unreachable, 500 otherwise; stack traces stay in the logs).

It runs on every request, so it is written for cost (measured by ``./scripts/bench auth``: the
trivial endpoint must keep ≥ 0.8× a bare FastAPI app's throughput): one pass over the request
headers, no Request/Headers objects, metric children looked up once per label set, the access
line rendered in one step (``log_request``). Its CORS answers are those of Starlette's
``CORSMiddleware`` (whose configuration and preflight answer it reuses); being the outermost
layer of the app, even its own 500s carry the headers a browser needs to read them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.errors import DependencyUnavailable, dependency_of, error_response
from app.core.logging import get_logger, log_request, request_id_var, user_id_var

log = get_logger("delight.request")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_EVENT_STREAM = b"text/event-stream"


def route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label values), or ``UNMATCHED``."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    if "endpoint" in scope:  # a plain Starlette route (docs): its path has no parameters
        return str(scope["path"])
    return metrics.UNMATCHED


class Cors:
    """Starlette's CORS policy (credentials allowed, every method and header), applied to raw
    header lists."""

    def __init__(self, origins: Sequence[str], expose_headers: Sequence[str]) -> None:
        self.policy = CORSMiddleware(
            app=_no_app,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=expose_headers,
        )
        self._simple = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.policy.simple_headers.items()
        ]

    def preflight(self, scope: Scope) -> ASGIApp:
        return self.policy.preflight_response(request_headers=Headers(scope=scope))

    def apply(self, headers: list[tuple[bytes, bytes]], origin: bytes | None) -> list[tuple[bytes, bytes]]:
        vary = [value for name, value in headers if name == b"vary"]
        if vary:
            headers = [(name, value) for name, value in headers if name != b"vary"]
        if origin is not None:
            headers.extend(self._simple)
            text = origin.decode("latin-1")
            policy = self.policy
            if (policy.allow_all_origins and policy.allow_credentials) or (
                not policy.allow_all_origins and policy.is_allowed_origin(origin=text)
            ):
                headers.append((b"access-control-allow-origin", origin))
        headers.append((b"vary", b", ".join([*vary, b"Origin"])))
        return headers


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
    raise RuntimeError("the CORS policy object is not an app")


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware) so streaming responses are not buffered."""

    def __init__(self, app: ASGIApp, cors: Cors | None = None) -> None:
        self.app = app
        self.cors = cors
        self.metrics = metrics.HttpMetrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = origin = None
        preflight = False
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                if _VALID_ID.match(incoming):
                    request_id = incoming
            elif name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                preflight = True
        if request_id is None:
            request_id = os.urandom(16).hex()
        # Reset afterwards: an in-process caller (ASGI test clients, mounted apps) shares this context.
        request_token = request_id_var.set(request_id)
        user_token = user_id_var.set(None)
        started = time.perf_counter()
        status = 500
        response_started = streaming = False
        cors = self.cors
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started, streaming
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", ()))
                for name, value in headers:
                    if name == b"content-type":
                        if value.startswith(_EVENT_STREAM):
                            streaming = True
                            metrics.SSE_STREAMS.inc()
                        break
                headers.append(id_header)
                message["headers"] = headers if cors is None else cors.apply(headers, origin)
            await send(message)

        try:
            if cors is not None and preflight and origin is not None and scope["method"] == "OPTIONS":
                # Preflights carry their own CORS headers: sent as they are.
                cors = None
                await self.cors.preflight(scope)(scope, receive, send_with_id)  # type: ignore[union-attr]
            else:
                await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                log.exception("unhandled_error", path=scope["path"], method=scope["method"])
                raise
            dependency = dependency_of(exc)
            if dependency is not None:
                # Expected while the database or Redis restarts or is unreachable: the client retries
                # (raised outside an endpoint, e.g. by a dependency or the commit, so no handler ran).
                log.warning("dependency_unavailable", dependency=dependency, error=type(exc).__name__,
                            path=scope["path"])  # fmt: skip
                error = DependencyUnavailable(dependency)
                response = error_response(error.status_code, error.code, error.message, error.details,
                                          error.headers)  # fmt: skip
            else:
                log.exception("unhandled_error", path=scope["path"], method=scope["method"])
                response = error_response(500, "internal_error", "Internal server error")
            await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            if streaming:
                metrics.SSE_STREAMS.dec()
            self.metrics.observe(scope["method"], route_template(scope), status, elapsed)
            log_request(scope["method"], scope["path"], status, round(elapsed * 1000, 2))
            user_id_var.reset(user_token)
            request_id_var.reset(request_token)
