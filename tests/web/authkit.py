"""Test helpers for signed-in clients: real users through the real login, or tokens minted
with the app's secret for tests whose subject is not access control."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from web.security.accounts import Principal, Role, issue_token
from web.settings import Settings

PASSWORD = "correct horse battery"


def minted_bearer(
    settings: Settings,
    *,
    role: Role = Role.ADMIN,
    username: str = "test-admin",
    unit_id: str | None = None,
) -> str:
    """An `Authorization` header value for a token signed with the settings' secret."""
    principal = Principal(username=username, role=role, unit_id=unit_id)
    token = issue_token(principal, secret_key=settings.secret_key, ttl_s=3600)
    return f"Bearer {token}"


def make_user(app: Any, username: str, role: str, unit_id: str | None = None) -> None:
    """Create a user in the app's database (the app must have started)."""
    app.state.security.users.create(username, PASSWORD, role=role, unit_id=unit_id)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the API; returns the bearer token."""
    res = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert res.status_code == 200, res.text
    token: str = res.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
