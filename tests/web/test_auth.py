"""Access control for real: argon2 users, the login, tokens, roles and a crew's scope."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.web.authkit import PASSWORD, bearer, login, make_user
from tests.web.conftest import PIN_HOAN_KIEM
from web.app import create_app
from web.cli import main
from web.security.accounts import Principal, Role, issue_token
from web.security.ratelimit import LoginLimiter
from web.settings import Settings

PHONE = "0912345678"
CITIZEN_ID = "001203004567"


def pin(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


@pytest.fixture()
def app_client(
    make_settings: Callable[..., Settings], hoankiem_router: Any
) -> Iterator[tuple[Any, TestClient]]:
    """An app with no default credentials and four real users, one per role."""
    app = create_app(make_settings(), router=hoankiem_router)
    with TestClient(app) as client:
        make_user(app, "dana", "dispatcher")
        make_user(app, "carl", "crew", "hq-A1")
        make_user(app, "paula", "planner")
        make_user(app, "ada", "admin")
        yield app, client


def new_call(client: TestClient, token: str) -> str:
    body = {"pin": pin(*PIN_HOAN_KIEM), "priority": "P2", "caller_phone": PHONE}
    body["citizen_id"] = CITIZEN_ID
    res = client.post("/api/v1/calls", json=body, headers=bearer(token))
    assert res.status_code == 201, res.text
    call_id: str = res.json()["call"]["call_id"]
    return call_id


def test_passwords_are_argon2_hashes_and_login_gives_an_expiring_token(
    app_client: tuple[Any, TestClient],
) -> None:
    app, client = app_client
    with app.state.security.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE username='dana'"))
        hashed = stored.scalar_one()
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    res = client.post("/api/v1/auth/login", json={"username": "dana", "password": PASSWORD})
    body = res.json()
    assert res.status_code == 200 and body["role"] == "dispatcher" and body["unit_id"] is None
    assert body["expires_in"] == app.state.security.token_ttl_s
    me = client.get("/api/v1/auth/me", headers=bearer(body["access_token"])).json()
    assert me == {"username": "dana", "role": "dispatcher", "unit_id": None, "personal_data": True}
    for wrong in (
        {"username": "dana", "password": "nope-nope"},
        {"username": "x", "password": "y"},
    ):
        res = client.post("/api/v1/auth/login", json=wrong)
        assert res.status_code == 401 and res.json()["detail"] == "wrong username or password"


def test_every_api_route_refuses_missing_expired_and_forged_tokens(
    app_client: tuple[Any, TestClient],
) -> None:
    app, client = app_client
    secret = app.state.security.secret_key
    who = Principal("dana", Role.DISPATCHER)
    expired = issue_token(who, secret_key=secret, ttl_s=60, now_s=time.time() - 3600)
    forged = issue_token(Principal("dana", Role.ADMIN), secret_key="not-the-secret", ttl_s=60)
    paths = client.get("/openapi.json").json()["paths"]
    checked = 0
    for path, operations in paths.items():
        if not path.startswith("/api/") or path == "/api/v1/auth/login":
            continue
        url = path.replace("{call_id}", "c1").replace("{unit_id}", "hq-A1")
        for method in operations:
            for headers, detail in (
                ({}, "not signed in"),
                (bearer(expired), "token expired: sign in again"),
                (bearer(forged), "invalid token"),
                ({"Authorization": "Basic ZGFuYTpwdw=="}, "not signed in"),
            ):
                res = client.request(method.upper(), url, headers=headers)
                assert res.status_code == 401, (method, url, res.text)
                assert res.json()["detail"].startswith(detail)
                assert res.headers["www-authenticate"].startswith("Bearer")
            checked += 1
    assert checked >= 20
    assert client.get("/healthz").status_code == 200  # probes and pages stay public
    assert client.get("/login").status_code == 200


def test_roles_and_scopes(app_client: tuple[Any, TestClient]) -> None:
    _, client = app_client
    dana, carl, paula, ada = (login(client, n) for n in ("dana", "carl", "paula", "ada"))
    call_id = new_call(client, dana)
    full = client.get(f"/api/v1/calls/{call_id}", headers=bearer(dana)).json()
    assert full["caller_phone"] == PHONE and full["citizen_id"] == CITIZEN_ID
    assert client.get(f"/api/v1/calls/{call_id}", headers=bearer(ada)).status_code == 200
    for token in (carl, paula):  # neither crews nor planners read calls (personal data)
        for url in (
            "/api/v1/calls",
            f"/api/v1/calls/{call_id}",
            f"/api/v1/calls/{call_id}/timeline",
        ):
            assert client.get(url, headers=bearer(token)).status_code == 403
        res = client.post("/api/v1/calls", json={"pin": pin(*PIN_HOAN_KIEM)}, headers=bearer(token))
        assert res.status_code == 403 and "may not" in res.json()["detail"]
    assert client.get("/api/v1/kpi", headers=bearer(paula)).status_code == 200
    assert client.get("/api/v1/units", headers=bearer(paula)).status_code == 200
    assert client.get("/api/v1/units", headers=bearer(carl)).status_code == 403
    assert client.get("/api/v1/audit", headers=bearer(dana)).status_code == 403
    assert client.get("/api/v1/audit", headers=bearer(ada)).status_code == 200
    # The crew of hq-A1: its own unit and job only.
    res = client.post(
        f"/api/v1/calls/{call_id}/assign", json={"unit_id": "hq-A1"}, headers=bearer(dana)
    )
    assert res.status_code == 200
    job = client.get("/api/v1/units/hq-A1/job", headers=bearer(carl))
    assert job.status_code == 200 and job.json()["call"]["call_id"] == call_id
    # Its own job's caller phone (to call back from an alley), never the citizen ID.
    assert job.json()["call"]["caller_phone"] == PHONE and CITIZEN_ID not in job.text
    now = time.time()
    ok = client.post(
        "/api/v1/units/hq-A1/status",
        json={"status": "en_route", "device_time_s": now},
        headers=bearer(carl),
    )
    assert ok.status_code == 200 and ok.json()["status"] == "en_route"
    for url, body in (
        ("/api/v1/units/hq-A2/status", {"status": "off_duty"}),
        ("/api/v1/units/hq-A2/position", {"position": pin(*PIN_HOAN_KIEM)}),
        ("/api/v1/units/hq-A2/ack", {}),
    ):
        res = client.post(url, json=body, headers=bearer(carl))
        assert res.status_code == 403 and "own unit (hq-A1)" in res.json()["detail"]
    assert client.get("/api/v1/units/hq-A2/job", headers=bearer(carl)).status_code == 403
    assert (
        client.get("/api/v1/units/hq-A2", headers=bearer(dana)).json()["status"]
        == "available_at_station"
    )


def test_login_is_rate_limited_per_user_and_address(app_client: tuple[Any, TestClient]) -> None:
    _, client = app_client
    wrong = {"username": "dana", "password": "guess-guess"}
    codes = [client.post("/api/v1/auth/login", json=wrong).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    res = client.post("/api/v1/auth/login", json={"username": "dana", "password": PASSWORD})
    assert res.status_code == 429 and int(res.headers["retry-after"]) >= 1  # even the right one
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "ada", "password": PASSWORD}
        ).status_code
        == 200
    )


def test_sliding_window_frees_attempts_as_they_age() -> None:
    now = [0.0]
    limiter = LoginLimiter(per_user_ip=3, per_ip=5, window_s=60.0, clock=lambda: now[0])
    assert [limiter.check("u", "1.2.3.4") for _ in range(3)] == [0.0, 0.0, 0.0]
    now[0] = 30.0
    assert limiter.check("u", "1.2.3.4") == pytest.approx(30.0)  # refused: first hit at 0 s
    assert limiter.check("v", "1.2.3.4") == 0.0  # another user from the same address
    now[0] = 60.5
    assert limiter.check("u", "1.2.3.4") == 0.0  # the oldest attempt left the window
    assert [limiter.check(u, "1.2.3.4") for u in ("w", "x")] == [0.0, 0.0]
    assert limiter.check("y", "1.2.3.4") > 0  # the address as a whole: 5 per minute
    assert limiter.check("u", "5.6.7.8") == 0.0


def ws_frames(
    ws: Any, *, until: Callable[[list[dict[str, Any]]], bool], limit: int = 50
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while not until(got) and limit > 0:
        data = json.loads(ws.receive_text())
        got.extend(data if isinstance(data, list) else [data])
        limit -= 1
    return got


def test_websockets_need_a_token_and_crews_see_only_their_unit(
    app_client: tuple[Any, TestClient],
) -> None:
    _, client = app_client
    dana, carl, paula = (login(client, n) for n in ("dana", "carl", "paula"))
    for url in ("/ws", "/ws?token=garbage"):
        with client.websocket_connect(url) as ws:
            if url == "/ws":
                ws.send_text(json.dumps({"type": "heartbeat"}))
            err = ws.receive_json()
            assert err["type"] == "error" and err["code"] == "unauthenticated"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == 4401
    with client.websocket_connect(f"/ws?token={carl}&unit_id=hq-A2") as ws:
        assert ws.receive_json()["code"] == "forbidden"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 4403
    with (
        client.websocket_connect(f"/ws?token={carl}") as crew,
        client.websocket_connect("/ws?role=planner") as planner,
    ):
        planner.send_text(json.dumps({"type": "auth", "token": paula}))  # token in a message
        hello, snap = ws_frames(crew, until=lambda g: len(g) >= 2)
        assert hello["role"] == "crew" and [u["unit_id"] for u in snap["state"]["units"]] == [
            "hq-A1"
        ]
        assert ws_frames(planner, until=lambda g: len(g) >= 2)[0]["role"] == "planner"
        first = new_call(client, dana)
        second = new_call(client, dana)
        client.post(
            f"/api/v1/calls/{first}/assign", json={"unit_id": "hq-A2"}, headers=bearer(dana)
        )
        client.post(
            f"/api/v1/calls/{second}/assign", json={"unit_id": "hq-A1"}, headers=bearer(dana)
        )
        mine = ws_frames(crew, until=lambda g: any(m.get("kind") == "unit_assigned" for m in g))
        seen = ws_frames(
            planner, until=lambda g: sum(m.get("kind") == "unit_assigned" for m in g) >= 2
        )
    assigned = [m for m in mine if m.get("kind") == "unit_assigned"]
    assert [m["data"]["call_id"] for m in assigned] == [second]
    assert all(
        m.get("unit_id") == "hq-A1" or m["data"].get("unit_id") == "hq-A1"
        for m in mine
        if m["type"] == "event"
    )
    assert not any(m.get("type") == "recommendation" for m in mine)
    text = json.dumps(seen)
    assert any(m.get("kind") == "call_created" for m in seen)
    assert PHONE not in text and CITIZEN_ID not in text  # never on a socket, for any role


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValueError, match="H115_SECRET_KEY"):
        Settings(env="production")
    with pytest.raises(ValueError, match="at least 32"):
        Settings(env="production", secret_key="short-secret")
    assert Settings(env="production", secret_key="s3cret-" * 6).env == "production"


def test_admin_command_creates_users(
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_settings: Callable[..., Settings],
    hoankiem_router: Any,
) -> None:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    monkeypatch.setenv("H115_DATABASE_URL", url)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(PASSWORD + "\n"))
    assert main(["user", "create", "boss", "--role", "admin", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(PASSWORD + "\n"))
    assert main(["user", "create", "nounit", "--role", "crew", "--password-stdin"]) == 2
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("short\n"))
    assert main(["user", "create", "weak", "--role", "planner", "--password-stdin"]) == 2
    assert main(["user", "list"]) == 0
    out = capsys.readouterr()
    assert "created admin boss" in out.out and "boss\tadmin" in out.out
    assert "bound to exactly one unit" in out.err and "at least 8" in out.err
    app = create_app(make_settings(database_url=url), router=hoankiem_router)
    with TestClient(app) as client:
        assert client.get("/api/v1/users", headers=bearer(login(client, "boss"))).json() == [
            {"username": "boss", "role": "admin", "unit_id": None, "active": True}
        ]
