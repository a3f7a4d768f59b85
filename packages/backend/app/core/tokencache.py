"""Verified session tokens, per process: a client sends the same Clerk token (valid about a minute)
with every request until it refreshes it, and the RS256 check is most of an authenticated read's
own CPU once the user comes from the cache. A token is remembered by its exact text and served
only until its ``exp`` (plus the leeway ``TokenVerifier`` allows), and at most ``max_age`` seconds.
"""

from __future__ import annotations

import time

from app.core.security import SessionClaims


class VerifiedTokens:
    def __init__(self, *, max_entries: int = 10_000, max_age: float = 300.0, leeway: float = 0.0) -> None:
        self._entries: dict[str, tuple[float, SessionClaims]] = {}
        self._max = max_entries
        self._max_age = max_age
        self._leeway = leeway

    def get(self, token: str) -> SessionClaims | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] <= time.time():
            del self._entries[token]
            return None
        return entry[1]

    def put(self, token: str, claims: SessionClaims) -> None:
        deadline = min(claims.expires_at + self._leeway, time.time() + self._max_age)
        if token not in self._entries and len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))  # the oldest
        self._entries[token] = (deadline, claims)

    def __len__(self) -> int:
        return len(self._entries)
