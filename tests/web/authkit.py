"""Test helpers for signed-in clients: real users through the real login, or tokens minted
with the app's secret for tests whose subject is not access control (their user is created
in the database if missing, since a token of a missing user is refused)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from dispatch.db.engine import make_engine
from web.security.accounts import Principal, Role, UserStore, issue_token
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
    engine = make_engine(settings.database_url)
    try:
        token = minted_token(UserStore(engine), username, role, unit_id, settings.secret_key)
    finally:
        engine.dispose()
    return f"Bearer {token}"


def minted_token(
    users: UserStore, username: str, role: Role, unit_id: str | None, secret_key: str
) -> str:
    """A token of the user's current generation, the user created first if missing."""
    status = users.status(username)
    if status is None:
        users.create(username, PASSWORD, role=role, unit_id=unit_id)
        status = users.status(username)
        assert status is not None
    principal = Principal(username, role, unit_id, generation=status.generation)
    return issue_token(principal, secret_key=secret_key, ttl_s=3600)


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
