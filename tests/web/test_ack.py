"""The crew's acknowledgement is a committed event: the timer stops, it is in the call's
history, and after a restart the timers are rebuilt from the log as they were."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from tests.web.conftest import PIN_HOAN_KIEM, token_for
from web.app import create_app
from web.settings import Settings


@contextmanager
def running(settings: Settings, router: Any) -> Iterator[TestClient]:
    """A server process's life: started on the settings' database, stopped at the end."""
    app = create_app(settings, router=router)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {token_for(app, 'dispatcher')}"
        yield client


def pending_acks(client: TestClient) -> dict[str, Any]:
    acks: dict[str, Any] = client.app.state.ctx.acks.pending()  # type: ignore[attr-defined]
    return acks


def test_ack_timer_is_rebuilt_from_the_log_after_restart(
    make_settings: Callable[..., Settings], hoankiem_router: Any
) -> None:
    settings = make_settings()
    body = {"address_text": "Hàng Bài", "priority": "P1",
            "pin": {"type": "Point", "coordinates": list(PIN_HOAN_KIEM)}}  # fmt: skip
    with running(settings, hoankiem_router) as client:
        call_id = client.post("/api/v1/calls", json=body).json()["call"]["call_id"]
        first = client.post("/api/v1/calls", json=body).json()["call"]["call_id"]
        for cid, unit in ((call_id, "hq-A1"), (first, "hq-A2")):
            res = client.post(f"/api/v1/calls/{cid}/assign", json={"unit_id": unit})
            assert res.status_code == 200, res.text
        assigned_s = pending_acks(client)["hq-A1"]["assigned_s"]
        assert set(pending_acks(client)) == {"hq-A1", "hq-A2"}
    with running(settings, hoankiem_router) as client:  # restarted: both still waiting
        assert pending_acks(client)["hq-A1"] == {"call_id": call_id, "assigned_s": assigned_s}
        assert client.get("/api/v1/units/hq-A1/job").json()["acknowledged"] is False
        device_s = time.time() - 2
        res = client.post("/api/v1/units/hq-A1/ack", json={"device_time_s": device_s})
        assert res.json()["acknowledged"] is True and res.json()["call_id"] == call_id
        again = client.post("/api/v1/units/hq-A1/ack", json={"device_time_s": device_s})
        assert again.json()["acknowledged"] is False  # a resent action records nothing new
        assert set(pending_acks(client)) == {"hq-A2"}
    with running(settings, hoankiem_router) as client:  # restarted again: the ack held
        assert set(pending_acks(client)) == {"hq-A2"}
        assert client.get("/api/v1/units/hq-A1/job").json()["acknowledged"] is True
        history = client.get(f"/api/v1/calls/{call_id}/timeline").json()["events"]
        acks = [m for m in history if m["kind"] == "unit_acknowledged"]
        assert len(acks) == 1
        assert acks[0]["data"]["unit_id"] == "hq-A1"
        assert acks[0]["data"]["device_at_s"] == device_s
        assert acks[0]["data"]["actor"].startswith(("crew:", "test-", "dispatcher"))
        snapshot = client.app.state.ctx.service.snapshot()  # type: ignore[attr-defined]
        assert snapshot["seq"] == acks[0]["seq"]  # nothing committed after it
