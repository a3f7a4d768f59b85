"""Clerk session-token verification: RS256 only, keys from CLERK_JWT_KEY or Clerk's JWKS.

Every failure is an ``Unauthorized`` with a reason code; no code path skips verification.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from app.core.config import Settings
from app.core.errors import Unauthorized
from app.core.keys import load_public_key
from app.core.logging import get_logger

log = get_logger(__name__)
ALGORITHM = "RS256"


@dataclass(frozen=True)
class SessionClaims:
    user_id: str  # Clerk user id (``sub``)
    session_id: str
    authorized_party: str | None
    issuer: str | None
    expires_at: int
    raw: dict[str, Any]


class KeyProvider(Protocol):
    async def get_key(self, kid: str | None) -> RSAPublicKey | None: ...

    async def aclose(self) -> None: ...


class StaticKeyProvider:
    """``CLERK_JWT_KEY``: one PEM public key, verification without any network call."""

    def __init__(self, pem: str) -> None:
        self._key = load_public_key(pem)

    async def get_key(self, kid: str | None) -> RSAPublicKey | None:
        return self._key

    async def aclose(self) -> None:
        return None


class JWKSKeyProvider:
    """Keys from ``{CLERK_API_URL}/v1/jwks``, cached.

    A cached key is always answered at once: past its TTL it is still served while a refresh runs
    in the background, so a slow or blackholed endpoint never stalls a request whose key is known.
    Only an unknown ``kid`` waits, for the fetch in flight or a new one (at most one per
    ``refresh_interval``). When the endpoint is down, cached keys keep working (even past their TTL)
    and unknown kids are simply rejected.
    ``clock`` (seconds, monotonic) measures both intervals.
    """

    def __init__(
        self,
        api_url: str,
        secret_key: str,
        ttl: float,
        refresh_interval: float,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = api_url.rstrip("/") + "/v1/jwks"
        self._headers = {"Authorization": f"Bearer {secret_key}"}
        self._ttl = ttl
        self._refresh_interval = refresh_interval
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        self._clock = clock
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at = 0.0  # last successful fetch
        self._attempted_at = float("-inf")  # last attempt, successful or not
        self._fetch: asyncio.Task[None] | None = None  # the fetch in flight, shared by every waiter

    async def get_key(self, kid: str | None) -> RSAPublicKey | None:
        if kid is None:
            return None
        key = self._keys.get(kid)
        if key is not None:
            if self._clock() - self._fetched_at > self._ttl:
                self._start_fetch()  # in the background: this request is not kept waiting
            return key
        fetch = self._start_fetch()
        if fetch is not None:
            await asyncio.shield(fetch)  # a waiter that gives up does not cancel it for the others
        return self._keys.get(kid)

    def _start_fetch(self) -> asyncio.Task[None] | None:
        """The fetch in flight, else a new one unless the last attempt is younger than the interval."""
        if self._fetch is not None and not self._fetch.done():
            return self._fetch
        if self._clock() - self._attempted_at < self._refresh_interval:
            return None
        self._attempted_at = self._clock()
        self._fetch = asyncio.get_running_loop().create_task(self._refresh(), name="jwks-refresh")
        return self._fetch

    async def _refresh(self) -> None:
        try:
            response = await self._client.get(self._url, headers=self._headers)
            response.raise_for_status()
            keys = _parse_jwks(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            # The cache is kept: tokens signed with known keys keep working while Clerk is away.
            log.warning("jwks_fetch_failed", error=type(exc).__name__, cached_keys=len(self._keys))
            return
        self._keys = keys  # keys Clerk no longer lists (rotated out) stop working here
        self._fetched_at = self._clock()
        log.info("jwks_refreshed", keys=len(keys))

    async def aclose(self) -> None:
        if self._fetch is not None and not self._fetch.done():
            self._fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fetch
        await self._client.aclose()


def _parse_jwks(document: Any) -> dict[str, RSAPublicKey]:
    """The RS256 signing keys of a JWKS document by kid; ``ValueError`` if it holds none."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("not a JWKS document")
    keys: dict[str, RSAPublicKey] = {}
    for jwk in entries:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            key = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            log.warning("jwks_key_skipped", kid=jwk["kid"])
            continue
        if isinstance(key, RSAPublicKey):
            keys[jwk["kid"]] = key
    if not keys:
        # An empty answer is treated as a failed fetch rather than as "revoke every key".
        raise ValueError("JWKS document holds no RS256 key")
    return keys


def create_key_provider(settings: Settings) -> KeyProvider:
    if settings.clerk_jwt_key:
        return StaticKeyProvider(settings.clerk_jwt_key)
    return JWKSKeyProvider(
        settings.clerk_api_url,
        settings.clerk_secret_key.get_secret_value(),
        ttl=settings.clerk_jwks_cache_ttl_seconds,
        refresh_interval=settings.clerk_jwks_refresh_interval_seconds,
    )


# First match wins: InvalidSignatureError is a DecodeError, so it must come first.
_PYJWT_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),  # nbf, or iat in the future
    (jwt.InvalidSignatureError, "invalid_signature"),
    (jwt.InvalidIssuerError, "invalid_issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidAlgorithmError, "invalid_algorithm"),
    (jwt.DecodeError, "malformed_token"),
]


class TokenVerifier:
    def __init__(self, settings: Settings, keys: KeyProvider) -> None:
        self._keys = keys
        self._leeway = settings.clerk_jwt_leeway_seconds
        self._issuer = settings.clerk_issuer
        self._parties = frozenset(settings.authorized_parties)
        self._jwt = jwt.PyJWT(options={"require": ["exp", "iat", "nbf", "sub"]})

    async def verify(self, token: str) -> SessionClaims:
        header = _unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("invalid_algorithm")
        kid = header.get("kid")
        key = await self._keys.get_key(kid if isinstance(kid, str) else None)
        if key is None:
            raise Unauthorized("unknown_key")
        try:
            claims: dict[str, Any] = self._jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                leeway=self._leeway,
                issuer=self._issuer,
                options={"verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(_reason(exc)) from None
        sub, sid, azp = claims.get("sub"), claims.get("sid"), claims.get("azp")
        if not isinstance(sub, str) or not sub:
            raise Unauthorized("missing_claim")
        if not isinstance(sid, str) or not sid:
            raise Unauthorized("missing_claim")
        if not isinstance(azp, str) or azp not in self._parties:
            raise Unauthorized("invalid_authorized_party")
        return SessionClaims(sub, sid, azp, claims.get("iss"), int(claims["exp"]), claims)


_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, only to pick the key: PyJWT re-parses and validates the whole token once
    (its ``get_unverified_header`` would decode all three segments a second time)."""
    segment, dot, _ = token.partition(".")
    if not dot or not _BASE64URL.fullmatch(segment):
        raise Unauthorized("malformed_token")
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):
        raise Unauthorized("malformed_token") from None
    # Clerk sends neither a non-string kid nor critical extensions; refuse both outright.
    if not isinstance(header, dict) or not isinstance(header.get("kid", ""), str) or "crit" in header:
        raise Unauthorized("malformed_token")
    return header


def _reason(exc: Exception) -> str:
    if isinstance(exc, jwt.MissingRequiredClaimError) and exc.claim == "iss":
        return "invalid_issuer"  # CLERK_ISSUER is set and the token names no issuer
    for kind, reason in _PYJWT_REASONS:
        if isinstance(exc, kind):
            return reason
    return "invalid_token"


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header, or ``Unauthorized``."""
    if not authorization:
        raise Unauthorized("missing_token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("invalid_authorization_header")
    token = token.strip()
    if not token:
        raise Unauthorized("missing_token")
    return token
