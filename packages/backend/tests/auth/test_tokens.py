"""Session-token verification through the real app: what is accepted and everything that is not."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from tests.auth import tokens
from tests.auth.conftest import ApiFactory
from tests.support.auth import TestKey, bearer

ME = "/api/v1/users/me"
# Unauthorized answers carry a fixed, generic message: the reason code is the only variable part.
GENERIC_MESSAGE = "Authentication required"


def assert_401(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == reason
    assert error["details"] == {"reason": reason}
    assert error["message"] == GENERIC_MESSAGE
    assert error["request_id"] == response.headers["x-request-id"]
    assert set(error) == {"code", "message", "request_id", "details"}


async def test_valid_token_is_accepted(client: httpx.AsyncClient, signing_key: TestKey) -> None:
    response = await client.get(ME, headers=bearer(signing_key.mint("user_ok")))
    assert response.status_code == 200, response.text
    assert response.json()["clerk_user_id"] == "user_ok"


async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient, signing_key: TestKey) -> None:
    response = await client.get(ME, headers={"Authorization": "bearer " + signing_key.mint("user_ok")})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_token"),
        ({"Authorization": ""}, "missing_token"),
        ({"Authorization": "Bearer"}, "missing_token"),
        ({"Authorization": "Bearer    "}, "missing_token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_authorization_header"),
        ({"Authorization": "Bearer garbage"}, "malformed_token"),
        ({"Authorization": "Bearer a.b.c"}, "malformed_token"),
        ({"Authorization": "Bearer " + "x" * 5000}, "malformed_token"),
    ],
)
async def test_missing_or_garbage_credentials(
    client: httpx.AsyncClient, headers: dict[str, str], reason: str
) -> None:
    assert_401(await client.get(ME, headers=headers), reason)


def _forge_alg_none(key: TestKey) -> str:
    return tokens.unsigned({"alg": "none", "typ": "JWT", "kid": key.kid}, tokens.claims())


def _forge_alg_none_with_signature(key: TestKey) -> str:
    return tokens.with_header(key.mint("user_attacker"), alg="none")


def _forge_hs256_with_public_key(key: TestKey) -> str:
    # The classic key-confusion attack: HMAC keyed with the (public) PEM the server verifies with.
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    return tokens.hs256(header, tokens.claims(), key.public_pem.encode())


def _forge_rs512(key: TestKey) -> str:
    return jwt.encode(tokens.claims(), key.private_key, algorithm="RS512", headers={"kid": key.kid})


def _forge_ps256(key: TestKey) -> str:
    return jwt.encode(tokens.claims(), key.private_key, algorithm="PS256", headers={"kid": key.kid})


def _tampered_sub(key: TestKey) -> str:
    return tokens.with_payload(key.mint("user_victim_a"), sub="user_victim_b")


def _tampered_exp(key: TestKey) -> str:
    return tokens.with_payload(key.mint("user_a"), exp=int(time.time()) + 10**6)


def _other_key_same_kid(key: TestKey) -> str:
    return TestKey(kid=key.kid).mint("user_a")


def _signature_stripped(key: TestKey) -> str:
    head, body, _ = key.mint("user_a").split(".")
    return f"{head}.{body}."


def _expired(key: TestKey) -> str:
    now = int(time.time())
    return key.mint("user_a", iat=now - 600, nbf=now - 600, exp=now - 60)


def _not_yet_valid(key: TestKey) -> str:
    now = int(time.time())
    return key.mint("user_a", nbf=now + 120, exp=now + 180)


def _issued_in_future(key: TestKey) -> str:
    now = int(time.time())
    return key.mint("user_a", iat=now + 120, exp=now + 180)


def _wrong_azp(key: TestKey) -> str:
    return key.mint("user_a", azp="https://evil.example")


def _missing_azp(key: TestKey) -> str:
    return key.mint("user_a", drop=("azp",))


def _azp_list(key: TestKey) -> str:
    return key.mint("user_a", azp=["http://localhost:3000"])


def _kid_not_a_string(key: TestKey) -> str:
    return tokens.with_header(key.mint("user_a"), kid=123)


def _crit_header(key: TestKey) -> str:
    return key.mint("user_a", headers={"crit": ["urn:example:unknown"]})


def _sub_not_a_string(key: TestKey) -> str:
    return jwt.encode(
        {**tokens.claims(), "sub": 12345}, key.private_key, algorithm="RS256", headers={"kid": key.kid}
    )


def _iat_not_a_number(key: TestKey) -> str:
    return key.mint("user_a", iat="yesterday")


def _payload_not_an_object(key: TestKey) -> str:
    return jwt.api_jws.encode(b"[1, 2, 3]", key.private_key, algorithm="RS256", headers={"kid": key.kid})


def _missing(claim: str) -> Callable[[TestKey], str]:
    def forge(key: TestKey) -> str:
        return key.mint("user_a", drop=(claim,))

    forge.__name__ = f"missing_{claim}"
    return forge


def _empty(claim: str) -> Callable[[TestKey], str]:
    def forge(key: TestKey) -> str:
        return key.mint("") if claim == "sub" else key.mint("user_a", **{claim: ""})

    forge.__name__ = f"empty_{claim}"
    return forge


REJECTED: list[tuple[Callable[[TestKey], str], str]] = [
    (_forge_alg_none, "invalid_algorithm"),
    (_forge_alg_none_with_signature, "invalid_algorithm"),
    (_forge_hs256_with_public_key, "invalid_algorithm"),
    (_forge_rs512, "invalid_algorithm"),
    (_forge_ps256, "invalid_algorithm"),
    (_tampered_sub, "invalid_signature"),
    (_tampered_exp, "invalid_signature"),
    (_other_key_same_kid, "invalid_signature"),
    (_signature_stripped, "invalid_signature"),
    (_expired, "expired"),
    (_not_yet_valid, "not_yet_valid"),
    (_issued_in_future, "not_yet_valid"),
    (_wrong_azp, "invalid_authorized_party"),
    (_missing_azp, "invalid_authorized_party"),
    (_azp_list, "invalid_authorized_party"),
    (_kid_not_a_string, "malformed_token"),
    (_crit_header, "malformed_token"),
    (_sub_not_a_string, "invalid_token"),
    (_iat_not_a_number, "invalid_token"),
    (_payload_not_an_object, "malformed_token"),
    (_missing("sub"), "missing_claim"),
    (_missing("sid"), "missing_claim"),
    (_missing("exp"), "missing_claim"),
    (_missing("iat"), "missing_claim"),
    (_missing("nbf"), "missing_claim"),
    (_empty("sub"), "missing_claim"),
    (_empty("sid"), "missing_claim"),
]


@pytest.mark.parametrize(("forge", "reason"), REJECTED, ids=[f.__name__.strip("_") for f, _ in REJECTED])
async def test_rejected_tokens(
    client: httpx.AsyncClient, signing_key: TestKey, forge: Callable[[TestKey], str], reason: str, db: Any
) -> None:
    assert_401(await client.get(ME, headers=bearer(forge(signing_key))), reason)
    # A rejected token never provisions anything.
    from sqlalchemy import func, select

    from app.models import User

    assert await db.scalar(select(func.count()).select_from(User)) == 0


async def test_leeway_tolerates_small_clock_skew(api: ApiFactory, signing_key: TestKey) -> None:
    client = await api(clerk_jwt_leeway_seconds=30)
    now = int(time.time())
    skewed = signing_key.mint("user_a", iat=now + 10, nbf=now + 10, exp=now + 70)
    assert (await client.get(ME, headers=bearer(skewed))).status_code == 200
    just_expired = signing_key.mint("user_a", iat=now - 70, nbf=now - 70, exp=now - 10)
    assert (await client.get(ME, headers=bearer(just_expired))).status_code == 200
    long_expired = signing_key.mint("user_a", iat=now - 100, nbf=now - 100, exp=now - 40)
    assert_401(await client.get(ME, headers=bearer(long_expired)), "expired")


async def test_zero_leeway_rejects_a_token_expired_a_second_ago(
    api: ApiFactory, signing_key: TestKey
) -> None:
    client = await api(clerk_jwt_leeway_seconds=0)
    now = int(time.time())
    token = signing_key.mint("user_a", iat=now - 61, nbf=now - 61, exp=now - 1)
    assert_401(await client.get(ME, headers=bearer(token)), "expired")


async def test_issuer_is_checked_when_configured(api: ApiFactory, signing_key: TestKey) -> None:
    client = await api(clerk_issuer="https://clerk.delight.example")
    good = signing_key.mint("user_a", iss="https://clerk.delight.example")
    assert (await client.get(ME, headers=bearer(good))).status_code == 200
    assert_401(await client.get(ME, headers=bearer(signing_key.mint("user_a"))), "invalid_issuer")
    no_iss = signing_key.mint("user_a", drop=("iss",))
    assert_401(await client.get(ME, headers=bearer(no_iss)), "invalid_issuer")


async def test_issuer_is_not_checked_when_unset(client: httpx.AsyncClient, signing_key: TestKey) -> None:
    token = signing_key.mint("user_a", iss="https://anything.example")
    assert (await client.get(ME, headers=bearer(token))).status_code == 200


async def test_authorized_parties_setting_replaces_cors_default(
    api: ApiFactory, signing_key: TestKey
) -> None:
    client = await api(clerk_authorized_parties="https://app.delight.example, https://beta.delight.example")
    for azp in ("https://app.delight.example", "https://beta.delight.example"):
        assert (await client.get(ME, headers=bearer(signing_key.mint("user_a", azp=azp)))).status_code == 200
    # The CORS default no longer applies once the allow-list is explicit.
    localhost = signing_key.mint("user_a", azp="http://localhost:3000")
    assert_401(await client.get(ME, headers=bearer(localhost)), "invalid_authorized_party")


async def test_authorized_parties_default_to_cors_origins(api: ApiFactory, signing_key: TestKey) -> None:
    client = await api(cors_origins="https://web.delight.example")
    ok = signing_key.mint("user_a", azp="https://web.delight.example")
    assert (await client.get(ME, headers=bearer(ok))).status_code == 200
    assert_401(await client.get(ME, headers=bearer(signing_key.mint("user_a"))), "invalid_authorized_party")


async def test_a_key_other_than_the_configured_one_is_refused(api: ApiFactory) -> None:
    configured, other = TestKey(kid="ins_a"), TestKey(kid="ins_b")
    client = await api(clerk_jwt_key=configured.public_pem)
    assert (await client.get(ME, headers=bearer(configured.mint("user_a")))).status_code == 200
    assert_401(await client.get(ME, headers=bearer(other.mint("user_a"))), "invalid_signature")


async def test_pem_with_literal_newlines_is_accepted(api: ApiFactory) -> None:
    key = TestKey(kid="ins_env")
    client = await api(clerk_jwt_key=key.public_pem.replace("\n", "\\n"))
    assert (await client.get(ME, headers=bearer(key.mint("user_a")))).status_code == 200


async def test_401_reveals_nothing_but_the_reason(client: httpx.AsyncClient, signing_key: TestKey) -> None:
    response = await client.get(ME, headers=bearer(_tampered_sub(signing_key)))
    text = response.text.lower()
    for leak in ("signature verification failed", "traceback", "pyjwt", "rsa", "kid", "ins_test"):
        assert leak not in text
