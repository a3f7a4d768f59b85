"""Request bodies are capped before anything reads them, and text PostgreSQL cannot store is refused.

``BodyGuardMiddleware`` (pure ASGI, inside the request-context middleware so its errors carry the
request id) answers, in the common error shape:

- **413** when ``Content-Length`` exceeds ``MAX_REQUEST_BODY_BYTES``, without reading the body, or as
  soon as a chunked body passes the cap (at most the cap is ever buffered);
- **422** when the JSON body or the query string holds U+0000, which neither ``text`` nor ``jsonb``
  columns accept (an escaped ``\\u0000`` in JSON, ``%00`` in the query).

Requests without a body pass through untouched. The body of every other request is read here (at
most the cap, which FastAPI would read whole anyway before checking the token) and handed on; later
``receive`` calls reach the server, so streaming responses still see the client disconnect.
Paths in ``own_limit`` (the Clerk webhook) enforce their own cap and are passed through.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PayloadTooLarge, error_response, validation_detail

# An escaped NUL in a JSON string: "\u0000" preceded by an even number of backslashes (an odd
# number would make it the literal text "\u0000").
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_NUL_MESSAGE = "must not contain the NUL character (U+0000)"


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, own_limit: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.own_limit = own_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.own_limit:
            await self.app(scope, receive, send)
            return
        if b"%00" in scope["query_string"] or "\x00" in scope["path"]:
            location = "query" if b"%00" in scope["query_string"] else "path"
            await _refuse_nul(location, scope, receive, send)
            return
        length, chunked = _body_framing(scope)
        if length is None and not chunked:
            await self.app(scope, receive, send)
            return
        if length is not None and length > self.max_body_bytes:
            await _too_large(self.max_body_bytes, scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its body: nobody to answer
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await _too_large(self.max_body_bytes, scope, receive, send)
                return
        if _JSON_NUL.search(body):
            await _refuse_nul("body", scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)


def _body_framing(scope: Scope) -> tuple[int | None, bool]:
    """(Content-Length, chunked) from the request headers; a malformed length counts as chunked,
    so the body is still read with the cap applied."""
    length: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                chunked = True
        elif name == b"transfer-encoding":
            chunked = True
    if length == 0 and not chunked:
        return None, False
    return length, chunked


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    error = PayloadTooLarge(limit)
    # The connection closes after the answer, so the rest of the body is never read.
    response = error_response(
        error.status_code, error.code, error.message, error.details, {"Connection": "close"}
    )
    await response(scope, receive, send)


async def _refuse_nul(location: str, scope: Scope, receive: Receive, send: Send) -> None:
    detail = validation_detail(location, _NUL_MESSAGE, location, "string_nul")  # type: ignore[arg-type]
    response = error_response(422, "validation_error", f"The request {location} {_NUL_MESSAGE}", [detail])
    await response(scope, receive, send)
