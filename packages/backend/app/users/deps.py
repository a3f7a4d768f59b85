"""``CurrentUser``: the verified Clerk session's user, provisioned just in time."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.core.deps import SessionDep, resources_of
from app.core.errors import Unauthorized
from app.core.logging import user_id_var
from app.core.security import SessionClaims, bearer_token
from app.models import User
from app.users import repository

# Declared for the OpenAPI security scheme only; the raw header is parsed below so that every
# failure gets our 401 body and reason code.
_bearer_scheme = HTTPBearer(auto_error=False, description="Clerk session token")


async def session_claims(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
) -> SessionClaims:
    # resources_of is called, not declared as a dependency: FastAPI runs sync dependencies in
    # its thread pool, a hand-off that cost every authenticated request more than RSA verification.
    verifier = resources_of(request).verifier
    claims = await verifier.verify(bearer_token(request.headers.get("authorization")))
    user_id_var.set(claims.user_id)
    return claims


async def current_user(
    claims: Annotated[SessionClaims, Depends(session_claims)], session: SessionDep
) -> User:
    user = await repository.get_by_clerk_id(session, claims.user_id)
    if user is None:
        # A still-valid token of a user Clerk deleted (user.deleted erased the account) must not
        # bring the account back.
        if await repository.deleted_in_clerk(session, claims.user_id):
            raise Unauthorized("user_deleted", "This account was deleted")
        # Webhooks are eventually consistent: the first request may arrive before user.created.
        user = await repository.provision(session, claims.user_id)
    return user


Claims = Annotated[SessionClaims, Depends(session_claims)]
CurrentUser = Annotated[User, Depends(current_user)]
