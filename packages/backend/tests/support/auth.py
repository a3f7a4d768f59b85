"""Test session tokens shaped like Clerk's, signed with test key pairs, and a local JWKS server
that speaks Clerk's Backend API format so the real fetching code runs."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.local_server import JSONHandler, LocalServer

AZP = "http://localhost:3000"


@dataclass
class TestKey:
    __test__ = False  # not a test class, whatever its name says

    kid: str
    private_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @cached_property
    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    @property
    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def mint(
        self,
        sub: str = "user_test",
        *,
        headers: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "sub": sub,
            "sid": "sess_" + sub,
            "azp": AZP,
            "iss": "https://clerk.test",
            "iat": now,
            "nbf": now - 1,
            "exp": now + 60,
        }
        payload.update(claims)
        for name in drop:
            payload.pop(name, None)
        return jwt.encode(
            payload, self.private_key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})}
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class JWKSServer(LocalServer):
    """``GET /v1/jwks`` on 127.0.0.1, requiring ``Authorization: Bearer <secret>``."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.keys: list[dict[str, Any]] = []
        self.requests = 0
        self.failing = False
        # While set, requests hang (a blackholed endpoint) until ``release`` is set.
        self.blackhole = threading.Event()
        self.release = threading.Event()
        server = self

        class Handler(JSONHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if server.blackhole.is_set():
                    server.release.wait(30)
                if server.failing:
                    self.send_error(503)
                    return
                if self.path != "/v1/jwks" or self.headers.get("Authorization") != f"Bearer {server.secret}":
                    self.send_error(401 if self.path == "/v1/jwks" else 404)
                    return
                self.send_json(200, {"keys": server.keys})

        super().__init__(Handler)
