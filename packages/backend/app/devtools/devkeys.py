"""Local development session tokens: a key pair made once, tokens shaped like Clerk's.

The private key never leaves the git-ignored data folder. The public exponent is 3 (see
``app.core.keys``) so production refuses this key pair outright.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.core.keys import DEV_KEY_PUBLIC_EXPONENT

DEV_KID = "delight-dev"
DEV_ISSUER = "https://delight.dev.local"


def ensure_key_pair(directory: Path) -> tuple[str, str]:
    """(private PEM, public PEM), generated on first use."""
    private_path, public_path = directory / "dev-jwt-private.pem", directory / "dev-jwt-public.pem"
    if not private_path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=DEV_KEY_PUBLIC_EXPONENT, key_size=2048)
        private_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        private_path.chmod(0o600)
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private_path.read_text(), public_path.read_text()


def mint_token(
    private_pem: str, user_id: str, ttl_seconds: int, authorized_party: str, issuer: str = DEV_ISSUER
) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "sid": "sess_dev_" + secrets.token_hex(8),
        "azp": authorized_party,
        "iss": issuer,
        "iat": now,
        "nbf": now - 5,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": DEV_KID})
