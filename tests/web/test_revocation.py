"""Token revocation for real: disabling a user, a new password or role, and "sign out
everywhere" cut REST access and open sockets on every server process within the recheck time."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from alembic import command
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from dispatch.db.engine import make_engine
from dispatch.db.errors import StorageUnavailable
from dispatch.db.migrate import alembic_config, current_revision, upgrade
from tests.web.authkit import PASSWORD, bearer
from tests.web.conftest import LiveServer
from web.cli import main
from web.security.accounts import (
    TOKEN_ALGORITHM,
    AuthError,
    Principal,
    Role,
    UserStatus,
    UserStore,
)
from web.security.revocation import DISABLED, REVOKED, Revocation

pytestmark = pytest.mark.server  # real uvicorn servers on loopback
RECHECK_S = 1.0
NEW_PASSWORD = "another horse battery"


def login_response(server: LiveServer, username: str, password: str) -> httpx.Response:
    body = {"username": username, "password": password}
    return httpx.post(f"{server.base}/api/v1/auth/login", json=body, timeout=10)


def sign_in(server: LiveServer, username: str, password: str = PASSWORD) -> str:
    res = login_response(server, username, password)
    assert res.status_code == 200, res.text
    token: str = res.json()["access_token"]
    return token


def me(server: LiveServer, token: str) -> httpx.Response:
    return httpx.get(f"{server.base}/api/v1/auth/me", headers=bearer(token), timeout=10)


def refused_after(server: LiveServer, token: str, *, limit_s: float) -> tuple[float, str]:
    """Seconds until `token` gets 401 (polling; at most `limit_s`), and the reason given."""
    started = time.monotonic()
    while (res := me(server, token)).status_code == 200:
        assert time.monotonic() - started < limit_s, "the token still works"
        time.sleep(0.05)
    elapsed_s = time.monotonic() - started
    assert res.status_code == 401 and elapsed_s < limit_s, res.text
    assert res.headers["www-authenticate"].startswith("Bearer")
    detail: str = res.json()["detail"]
    return elapsed_s, detail


def database_url(server: LiveServer) -> str:
    url: str = server.app.state.security.engine.url.render_as_string(hide_password=False)
    return url


def admin_command(monkeypatch: pytest.MonkeyPatch, url: str, *argv: str, stdin: str = "") -> int:
    """`hanoi115 user ...` against the servers' database, as an operator runs it."""
    monkeypatch.setenv("H115_DATABASE_URL", url)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["user", *argv])


def servers_on(request: pytest.FixtureRequest, backend: str) -> Callable[[], LiveServer]:
    """Start servers on the test's SQLite file or a fresh PostGIS database (dropped after the
    servers stop: fixtures are torn down in reverse order)."""
    overrides: dict[str, Any] = {"token_recheck_s": RECHECK_S}
    if backend == "postgis":
        overrides["database_url"] = request.getfixturevalue("postgis_url")
    serve: Callable[..., LiveServer] = request.getfixturevalue("serve")
    return lambda: serve(**overrides)


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def two_workers(request: pytest.FixtureRequest) -> tuple[LiveServer, LiveServer, str]:
    """Two server processes' apps (each with its own cache) on one database, and its URL."""
    start = servers_on(request, request.param)
    first, second = start(), start()
    users = first.app.state.security.users
    users.create("dana", PASSWORD, role=Role.DISPATCHER)
    users.create("paula", PASSWORD, role=Role.PLANNER)
    return first, second, database_url(first)


def test_disabling_a_user_refuses_its_tokens_on_every_process_within_the_recheck_time(
    two_workers: tuple[LiveServer, LiveServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, url = two_workers
    token = sign_in(first, "dana")
    other = sign_in(second, "paula")
    assert me(first, token).status_code == me(second, token).status_code == 200  # both cached
    assert admin_command(monkeypatch, url, "disable", "dana") == 0
    for server in (first, second):  # the limit: one cache period and a request's latency
        assert refused_after(server, token, limit_s=RECHECK_S + 2.0)[1] == DISABLED
    assert login_response(first, "dana", PASSWORD).status_code == 401
    assert me(second, other).status_code == 200  # another user is not touched
    assert admin_command(monkeypatch, url, "enable", "dana") == 0
    time.sleep(RECHECK_S + 0.2)
    for server in (first, second):  # enabled again: the old token stays revoked
        res = me(server, token)
        assert (res.status_code, res.json()["detail"]) == (401, REVOKED)
    fresh = sign_in(first, "dana")
    assert me(second, fresh).json()["username"] == "dana"  # newer than its cache: read at once


def test_new_password_or_role_revokes_tokens(
    serve: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(token_recheck_s=RECHECK_S)
    url = database_url(server)
    users = server.app.state.security.users
    users.create("dana", PASSWORD, role=Role.DISPATCHER)
    users.create("carl", PASSWORD, role=Role.CREW, unit_id="hq-A1")
    dana, carl = sign_in(server, "dana"), sign_in(server, "carl")
    code = admin_command(monkeypatch, url, "passwd", "dana", "--password-stdin", stdin=NEW_PASSWORD)
    assert code == 0
    assert refused_after(server, dana, limit_s=RECHECK_S + 2.0)[1] == REVOKED
    assert login_response(server, "dana", PASSWORD).status_code == 401  # the old password
    assert me(server, sign_in(server, "dana", NEW_PASSWORD)).status_code == 200
    assert admin_command(monkeypatch, url, "role", "carl", "--role", "crew", "--unit", "hq-A2") == 0
    assert refused_after(server, carl, limit_s=RECHECK_S + 2.0)[1] == REVOKED
    assert me(server, sign_in(server, "carl")).json()["unit_id"] == "hq-A2"
    assert admin_command(monkeypatch, url, "role", "carl", "--role", "crew") == 2  # no unit
    assert admin_command(monkeypatch, url, "disable", "nobody") == 2


def test_sign_out_everywhere_revokes_the_callers_tokens_only(
    serve: Callable[..., LiveServer],
) -> None:
    server = serve(token_recheck_s=RECHECK_S)
    users = server.app.state.security.users
    users.create("dana", PASSWORD, role=Role.DISPATCHER)
    users.create("paula", PASSWORD, role=Role.PLANNER)
    laptop, tablet, paula = (
        sign_in(server, "dana"),
        sign_in(server, "dana"),
        sign_in(server, "paula"),
    )
    assert httpx.post(f"{server.base}/api/v1/auth/logout-all").status_code == 401
    res = httpx.post(f"{server.base}/api/v1/auth/logout-all", headers=bearer(tablet))
    assert res.status_code == 200, res.text
    assert res.json() == {"username": "dana", "signed_out": True, "token_generation": 1}
    for token in (laptop, tablet):  # at once on the process that served it
        res = me(server, token)
        assert (res.status_code, res.json()["detail"]) == (401, REVOKED)
    assert me(server, paula).status_code == 200
    assert me(server, sign_in(server, "dana")).status_code == 200


def test_tokens_without_a_good_generation_are_refused_with_401(
    serve: Callable[..., LiveServer],
) -> None:
    server = serve()
    server.app.state.security.users.create("dana", PASSWORD, role=Role.DISPATCHER)
    secret = server.app.state.security.secret_key
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "dana", "role": "dispatcher", "iat": now, "exp": now + 60}
    for extra, detail in (
        ({}, "invalid token"),  # issued before generations: sign in again
        ({"gen": "0"}, "invalid token: bad generation"),
        ({"gen": 5}, REVOKED),
        ({"gen": 0, "sub": "ghost"}, REVOKED),
    ):
        token = jwt.encode(claims | extra, secret, algorithm=TOKEN_ALGORITHM)
        res = me(server, token)
        assert (res.status_code, res.json()["detail"]) == (401, detail)


def frames_of(text: str | bytes) -> list[dict[str, Any]]:
    """The messages of one websocket frame (a frame is a message or an array of them)."""
    data = json.loads(text)
    return data if isinstance(data, list) else [data]


def receive_until(ws: ClientConnection, kind: str) -> list[dict[str, Any]]:
    """Messages up to and including the first of type `kind` (10 s at most)."""
    deadline = time.monotonic() + 10
    messages: list[dict[str, Any]] = []
    while not any(m.get("type") == kind for m in messages):
        messages += frames_of(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
    return messages


def closed_after(ws: ClientConnection, *, limit_s: float) -> tuple[float, list[Any], Any]:
    """Seconds until the server closes `ws`, the messages it sent before, the close frame."""
    started = time.monotonic()
    messages: list[dict[str, Any]] = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            left_s = limit_s - (time.monotonic() - started)
            assert left_s > 0, "the socket is still open"
            messages += frames_of(ws.recv(timeout=left_s))
    return time.monotonic() - started, messages, closed.value.rcvd


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_open_sockets_of_a_disabled_user_are_closed_with_4401(
    backend: str, request: pytest.FixtureRequest
) -> None:
    server = servers_on(request, backend)()
    users = server.app.state.security.users
    users.create("dana", PASSWORD, role=Role.DISPATCHER)
    users.create("carl", PASSWORD, role=Role.CREW, unit_id="hq-A1")
    carl, dana = sign_in(server, "carl"), sign_in(server, "dana")
    with (
        connect(f"{server.ws}?token={carl}", open_timeout=10) as crew,
        connect(f"{server.ws}?token={dana}", open_timeout=10) as dispatcher,
    ):
        receive_until(crew, "snapshot")
        receive_until(dispatcher, "snapshot")
        users.set_active("carl", False)  # as `hanoi115 user disable carl` does
        elapsed_s, messages, close = closed_after(crew, limit_s=2 * RECHECK_S + 3)
        assert close is not None and (close.code, close.reason) == (4401, DISABLED)
        assert elapsed_s <= 2 * RECHECK_S + 2  # a cache period, the next check; CI slack
        errors = [m for m in messages if m.get("type") == "error"]
        assert errors[-1]["code"] == "revoked" and errors[-1]["message"] == DISABLED
        dispatcher.send(json.dumps({"type": "ping"}))
        assert receive_until(dispatcher, "pong")[-1]["type"] == "pong"  # others stay open
    with connect(f"{server.ws}?token={carl}", open_timeout=10) as refused:
        error = frames_of(refused.recv(timeout=10))[0]
        assert (error["code"], error["message"]) == ("unauthenticated", DISABLED)
        with pytest.raises(ConnectionClosed) as closed:
            refused.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_user_status_is_read_once_per_recheck_period_and_kept_while_the_database_is_down(
    tmp_path: Any,
) -> None:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    upgrade(url)
    engine = make_engine(url)
    users = UserStore(engine)
    users.create("dana", PASSWORD, role=Role.DISPATCHER)
    now = [100.0]
    revocation = Revocation(users, recheck_s=RECHECK_S, clock=lambda: now[0])
    dana = Principal("dana", Role.DISPATCHER, generation=0)
    assert asyncio.run(revocation.check(dana)) == dana
    users.set_active("dana", False)
    assert asyncio.run(revocation.check(dana)) == dana  # within the period: not read again
    now[0] += RECHECK_S
    with pytest.raises(AuthError, match=DISABLED):
        asyncio.run(revocation.check(dana))
    engine.dispose()
    with socket.socket() as sock:  # a port nobody listens on: the database is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/x?connect_timeout=2")
    offline = Revocation(UserStore(down), recheck_s=RECHECK_S, clock=lambda: now[0])
    offline.remember("dana", UserStatus(active=True, generation=0))
    now[0] += RECHECK_S
    assert asyncio.run(offline.check(dana)) == dana  # the last status read
    with pytest.raises(StorageUnavailable):  # never read: not let in blind
        asyncio.run(offline.check(Principal("paula", Role.PLANNER)))
    down.dispose()


def test_migration_gives_existing_users_generation_zero_and_downgrades(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    assert upgrade(url, revision="0002_users_audit") == "0002_users_audit"
    engine = make_engine(url)
    row = {"username": "old", "role": "admin", "unit_id": None, "password_hash": "x"}
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO users (username, role, unit_id, password_hash, active, created_at) "
            "VALUES (:username, :role, :unit_id, :password_hash, 1, 0)"
        ), row)  # fmt: skip
    assert upgrade(url, revision="0003_token_generation", engine=engine) == "0003_token_generation"
    assert UserStore(engine).status("old") == UserStatus(active=True, generation=0)
    cfg = alembic_config(url)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002_users_audit")
        conn.commit()
    assert current_revision(engine) == "0002_users_audit"
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("users")}
    assert "token_generation" not in columns and "active" in columns
    engine.dispose()


def test_many_users_checked_in_one_period_share_one_read(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    upgrade(url)
    engine = make_engine(url)
    users = UserStore(engine)
    crews = [Principal(f"crew{i}", Role.CREW, unit_id=f"u{i}") for i in range(30)]
    for crew in crews:
        users.create(crew.username, PASSWORD, role=Role.CREW, unit_id=crew.unit_id)
    now = [100.0]
    revocation = Revocation(users, recheck_s=RECHECK_S, clock=lambda: now[0])

    async def sockets_check() -> list[Principal | BaseException]:
        """Every crew's socket watcher checks its token at about the same time."""
        return await asyncio.gather(*(revocation.check(c) for c in crews), return_exceptions=True)

    async def scenario() -> None:
        assert await sockets_check() == crews  # first sight of each: read
        first = revocation.reads
        now[0] += RECHECK_S  # every entry expired: one read for all thirty
        assert await sockets_check() == crews
        assert revocation.reads == first + 1
        now[0] += RECHECK_S / 2  # still fresh: no read
        assert await sockets_check() == crews
        assert revocation.reads == first + 1
        users.set_active("crew7", False)
        now[0] += RECHECK_S
        outcome = await sockets_check()
        assert revocation.reads == first + 2
        assert isinstance(outcome[7], AuthError) and str(outcome[7]) == DISABLED
        assert [o for i, o in enumerate(outcome) if i != 7] == crews[:7] + crews[8:]

    asyncio.run(scenario())
    engine.dispose()
