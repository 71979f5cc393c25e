"""The audit log: every action with who, when, from where and what changed; append-only."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.web.authkit import PASSWORD, bearer, login, make_user
from tests.web.conftest import PIN_HOAN_KIEM
from web.app import create_app
from web.audit import MASK, mask
from web.settings import Settings

PHONE = "0987654321"


@pytest.fixture()
def app_client(
    make_settings: Callable[..., Settings], hoankiem_router: Any
) -> Iterator[tuple[Any, TestClient]]:
    app = create_app(make_settings(), router=hoankiem_router)
    with TestClient(app) as client:
        make_user(app, "dana", "dispatcher")
        make_user(app, "ada", "admin")
        yield app, client


def audit_rows(client: TestClient, admin: str, **query: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while True:
        rows: list[dict[str, Any]] = client.get(
            "/api/v1/audit", params=query, headers=bearer(admin)
        ).json()
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_each_action_is_recorded_with_actor_address_and_events(
    app_client: tuple[Any, TestClient],
) -> None:
    _, client = app_client
    dana, ada = login(client, "dana"), login(client, "ada")
    before_s = time.time()
    body = {"pin": {"type": "Point", "coordinates": list(PIN_HOAN_KIEM)}, "caller_phone": PHONE}
    created = client.post("/api/v1/calls", json=body | {"priority": "P1"}, headers=bearer(dana))
    call_id = created.json()["call"]["call_id"]
    client.post(f"/api/v1/calls/{call_id}/assign", json={"unit_id": "hq-A1"}, headers=bearer(dana))
    refused = client.post(
        f"/api/v1/calls/{call_id}/assign", json={"unit_id": "nope"}, headers=bearer(dana)
    )
    assert refused.status_code in (404, 409, 422)
    client.post("/api/v1/auth/login", json={"username": "dana", "password": "wrong-wrong"})
    rows = audit_rows(client, ada, actor="dana")
    actions = [(r["action"], r["status"]) for r in reversed(rows)]
    assert actions == [
        ("POST /api/v1/calls", 201),
        (f"POST /api/v1/calls/{call_id}/assign", 200),
        (f"POST /api/v1/calls/{call_id}/assign", refused.status_code),
    ]
    create, assign, _ = reversed(rows)
    assert all(r["ip"] == "testclient" and r["role"] == "dispatcher" for r in rows)
    assert before_s <= create["at_s"] <= assign["at_s"] <= time.time()
    assert create["detail"]["body"]["caller_phone"] == MASK  # what changed, without the phone
    assert create["detail"]["body"]["priority"] == "P1"
    # The event seqs it names are exactly this call's creation, committed by this request.
    timeline = client.get(f"/api/v1/calls/{call_id}/timeline", headers=bearer(dana)).json()
    created_seqs = [e["seq"] for e in timeline["events"] if e["kind"] == "call_created"]
    assert created_seqs and set(created_seqs) <= set(create["detail"]["event_seqs"])
    assigned = [e["seq"] for e in timeline["events"] if e["kind"] == "unit_assigned"]
    actors = {
        e["data"]["actor"] for e in timeline["events"] if e["seq"] in create["detail"]["event_seqs"]
    }
    assert actors == {"dispatcher:dana"}  # the event log names the signed-in user too
    assert assigned and set(assigned) <= set(assign["detail"]["event_seqs"])
    logins = [
        r for r in audit_rows(client, ada, limit=50) if r["action"] == "POST /api/v1/auth/login"
    ]
    assert [r["status"] for r in logins][:1] == [401]
    assert logins[0]["detail"]["body"] == {"username": "dana", "password": MASK}
    assert PASSWORD not in str(audit_rows(client, ada, limit=500))


def test_socket_sessions_are_audited_and_rows_cannot_be_changed(
    app_client: tuple[Any, TestClient],
) -> None:
    app, client = app_client
    dana, ada = login(client, "dana"), login(client, "ada")
    with client.websocket_connect(f"/ws?token={dana}") as ws:
        assert ws.receive_json()["type"] == "hello"
    rows = [r for r in audit_rows(client, ada, actor="dana") if r["action"] == "WS /ws connect"]
    assert rows and rows[0]["detail"] == {"hub_role": "dispatcher", "unit_id": None}
    engine: sa.Engine = app.state.security.engine
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE actor='mallory'")).scalar()
            == 0
        )


def test_mask_hides_secrets_and_personal_data_at_any_depth() -> None:
    doc = {"a": [{"password": "x", "citizen_id": "0123", "keep": 1}], "token": "t", "n": None}
    assert mask(doc) == {
        "a": [{"password": MASK, "citizen_id": MASK, "keep": 1}],
        "token": MASK,
        "n": None,
    }
