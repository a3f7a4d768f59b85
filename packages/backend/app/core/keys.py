"""RSA public-key helpers shared by settings validation and token verification."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

# Development keys (``delight dev``) use public exponent 3 so any deployment can recognise and
# refuse them without knowing the key itself; Clerk's keys use 65537.
DEV_KEY_PUBLIC_EXPONENT = 3


def load_public_key(pem: str) -> RSAPublicKey:
    # Dashboards and env files often carry the PEM with literal "\n" sequences.
    key = load_pem_public_key(pem.replace("\\n", "\n").strip().encode())
    if not isinstance(key, RSAPublicKey):
        raise ValueError("CLERK_JWT_KEY must be an RSA public key")
    return key


def is_development_key(key: RSAPublicKey) -> bool:
    return key.public_numbers().e == DEV_KEY_PUBLIC_EXPONENT
