"""Sign-in (`POST /api/v1/auth/login`), sign out everywhere, who am I, the audit log and
users for admins, the login page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from web.audit import AuditLog
from web.security.accounts import (
    Principal,
    Role,
    UserStatus,
    UserStore,
    current_principal,
    issue_token,
)
from web.security.ratelimit import LoginLimiter
from web.security.revocation import Revocation

router = APIRouter(tags=["auth"])
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


@dataclass
class Security:
    """What the security routes need, kept on `app.state.security`."""

    engine: sa.Engine
    users: UserStore
    revocation: Revocation
    limiter: LoginLimiter
    audit: AuditLog
    secret_key: str
    token_ttl_s: float


class Login(BaseModel):
    """Username and password."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def get_security(request: Request) -> Security:
    """FastAPI dependency: the app's security collaborators."""
    security: Security = request.app.state.security
    return security


def get_principal() -> Principal:
    """FastAPI dependency: the caller (the middleware has already checked the token)."""
    principal = current_principal.get()
    if principal is None:
        raise HTTPException(status_code=401, detail="not signed in")
    return principal


Sec = Annotated[Security, Depends(get_security)]
Me = Annotated[Principal, Depends(get_principal)]


@router.post(
    "/api/v1/auth/login",
    summary="Sign in: a bearer token for REST (Authorization header) and the websocket",
    responses={401: {"description": "wrong credentials"}, 429: {"description": "too many"}},
)
async def login(body: Login, request: Request, security: Sec) -> dict[str, Any]:
    ip = request.client.host if request.client else "?"
    wait_s = security.limiter.check(body.username, ip)
    if wait_s:
        raise HTTPException(
            status_code=429,
            detail=f"too many sign-in attempts: try again in {int(wait_s) + 1} s",
            headers={"Retry-After": str(int(wait_s) + 1)},
        )
    principal = await run_in_threadpool(security.users.authenticate, body.username, body.password)
    if principal is None:
        raise HTTPException(status_code=401, detail="wrong username or password")
    status = UserStatus(active=True, generation=principal.generation)
    security.revocation.remember(principal.username, status)  # the new token works here at once
    token = issue_token(principal, secret_key=security.secret_key, ttl_s=security.token_ttl_s)
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": int(security.token_ttl_s),
        "username": principal.username,
        "role": principal.role.value,
        "unit_id": principal.unit_id,
    }


@router.post(
    "/api/v1/auth/logout-all",
    summary="Sign out everywhere: every token of the caller stops working",
)
async def logout_all(security: Sec, principal: Me) -> dict[str, Any]:
    generation = await run_in_threadpool(security.users.revoke_tokens, principal.username)
    security.revocation.forget(principal.username)  # other processes: within recheck_s
    return {"username": principal.username, "signed_out": True, "token_generation": generation}


@router.get("/api/v1/auth/me", summary="The signed-in user")
def me(principal: Me) -> dict[str, Any]:
    return {
        "username": principal.username,
        "role": principal.role.value,
        "unit_id": principal.unit_id,
        "personal_data": principal.sees_personal_data(),
    }


@router.get("/api/v1/audit", summary="Audit log, newest first (admins)")
def audit_entries(
    security: Sec,
    principal: Me,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    if principal.role != Role.ADMIN:
        raise HTTPException(status_code=403, detail="admins only")
    return security.audit.recent(limit=limit, actor=actor)


@router.get("/api/v1/users", summary="Users and their roles (admins)")
def list_users(security: Sec, principal: Me) -> list[dict[str, Any]]:
    if principal.role != Role.ADMIN:
        raise HTTPException(status_code=403, detail="admins only")
    return security.users.list()


@router.get("/login", include_in_schema=False)
def login_page() -> FileResponse:
    return FileResponse(TEMPLATES / "login.html", headers={"Cache-Control": "no-cache"})
