"""The websocket hub over a real uvicorn server: snapshot, ordered events, resume, heartbeats."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.web.conftest import PIN_HOAN_KIEM, LiveServer

pytestmark = pytest.mark.server


def messages(ws: ClientConnection, *, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """One frame as a list of messages (a frame may batch several)."""
    data = json.loads(ws.recv(timeout=timeout_s))
    return data if isinstance(data, list) else [data]


def collect(ws: ClientConnection, until: Callable[[list[dict[str, Any]]], bool],
            *, timeout_s: float = 10.0) -> list[dict[str, Any]]:  # fmt: skip
    """Read messages until `until(all_so_far)` holds."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while not until(got):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; got {[(m['type'], m.get('seq')) for m in got]}")
        got.extend(messages(ws, timeout_s=left))
    return got


def events(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in msgs if m["type"] == "event"]


def create_calls(server: LiveServer, n: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=server.base, headers=server.headers()) as http:
        for _ in range(n):
            body = {"pin": {"type": "Point", "coordinates": list(PIN_HOAN_KIEM)}, "priority": "P3"}
            res = http.post("/api/v1/calls", json=body)
            assert res.status_code == 201, res.text
            ids.append(res.json()["call"]["call_id"])
    return ids


def connect_dispatcher(server: LiveServer, last_seq: int | None = None) -> ClientConnection:
    query: dict[str, Any] = {} if last_seq is None else {"last_seq": last_seq}
    return connect(server.socket("dispatcher", None, **query))


def test_snapshot_then_events_in_order(serve: Callable[..., LiveServer]) -> None:
    server = serve()
    with connect_dispatcher(server) as ws:
        hello, snap = collect(ws, lambda got: len(got) >= 2)
        assert hello["type"] == "hello" and hello["v"] == 1
        assert snap["type"] == "snapshot" and snap["reason"] == "connect"
        assert len(snap["state"]["units"]) == 4 and snap["state"]["calls"] == []
        call_id = create_calls(server, 1)[0]
        got = collect(ws, lambda g: any(m["type"] == "recommendation" for m in g))
        created = events(got)[0]
        assert created["kind"] == "call_created" and created["seq"] == snap["seq"] + 1
        assert created["data"]["call_id"] == call_id
        assert created["data"]["pin"] == {"type": "Point", "coordinates": list(PIN_HOAN_KIEM)}
        assert "citizen_id" not in created["data"]
        rec = next(m for m in got if m["type"] == "recommendation")
        assert rec["call_id"] == call_id and len(rec["units"]) == 4


def test_resume_gets_exactly_the_missed_events(serve: Callable[..., LiveServer]) -> None:
    server = serve()
    with connect_dispatcher(server) as ws:
        snap = collect(ws, lambda g: len(g) >= 2)[1]
        create_calls(server, 2)
        seen = events(collect(ws, lambda g: len(events(g)) >= 2))
    last = seen[-1]["seq"]
    assert [e["seq"] for e in seen] == [snap["seq"] + 1, snap["seq"] + 2]
    create_calls(server, 5)  # missed while disconnected
    with connect_dispatcher(server, last_seq=last) as ws:
        got = collect(ws, lambda g: len(events(g)) >= 5)
        assert got[1]["type"] == "resumed" and got[1]["from_seq"] == last
        assert got[1]["count"] == 5
        assert [e["seq"] for e in events(got)] == list(range(last + 1, last + 6))
        create_calls(server, 1)  # and live events continue after the replay, no duplicate
        more = collect(ws, lambda g: len(events(g)) >= 1)
        assert [e["seq"] for e in events(more)] == [last + 6]


def test_resume_from_the_database_beyond_the_ring(serve: Callable[..., LiveServer]) -> None:
    server = serve(ws_ring_size=10)
    with connect_dispatcher(server) as ws:
        start = collect(ws, lambda g: len(g) >= 2)[1]["seq"]
    create_calls(server, 25)
    with connect_dispatcher(server, last_seq=start) as ws:
        got = collect(ws, lambda g: len(events(g)) >= 25)
        assert got[1]["type"] == "resumed"
        assert [e["seq"] for e in events(got)] == list(range(start + 1, start + 26))


def test_too_far_behind_gets_a_fresh_snapshot(serve: Callable[..., LiveServer]) -> None:
    server = serve(ws_ring_size=10, ws_max_replay=5)
    create_calls(server, 12)
    with connect_dispatcher(server, last_seq=1) as ws:
        got = collect(ws, lambda g: len(g) >= 2)
        assert got[1]["type"] == "snapshot" and got[1]["reason"] == "too_far_behind"
        assert len(got[1]["state"]["calls"]) == 12


def test_concurrent_commands_arrive_gap_free(serve: Callable[..., LiveServer]) -> None:
    server = serve()
    with connect_dispatcher(server) as ws:
        start = collect(ws, lambda g: len(g) >= 2)[1]["seq"]
        threads = [threading.Thread(target=create_calls, args=(server, 5)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = events(collect(ws, lambda g: len(events(g)) >= 20))
        assert [e["seq"] for e in got] == list(range(start + 1, start + 21))


def test_heartbeat_timeout_marks_the_crew_disconnected(serve: Callable[..., LiveServer]) -> None:
    server = serve(heartbeat_timeout_s=0.6)
    with (
        connect_dispatcher(server) as desk,
        connect(server.socket("crew", "hq-A1")) as crew,
    ):
        collect(desk, lambda g: len(g) >= 2)
        collect(crew, lambda g: len(g) >= 2)
        crew.send(json.dumps({"type": "heartbeat", "device_time_s": time.time()}))
        assert collect(crew, lambda g: any(m["type"] == "pong" for m in g))
        up = collect(desk, lambda g: any(m["type"] == "presence" for m in g))[-1]
        assert up["unit_id"] == "hq-A1" and up["connected"] is True
        silent_from = time.monotonic()
        down = collect(desk, lambda g: any(m["type"] == "presence" for m in g), timeout_s=5)[-1]
        assert down["connected"] is False and time.monotonic() - silent_from >= 0.5
        with connect_dispatcher(server) as late:  # a dispatcher joining now sees it too
            snap = collect(late, lambda g: len(g) >= 2)[1]
            assert snap["state"]["presence"]["hq-A1"]["connected"] is False
        crew.send(json.dumps({"type": "heartbeat"}))
        back = collect(desk, lambda g: any(m["type"] == "presence" for m in g))[-1]
        assert back["connected"] is True


def test_ack_timer_and_crew_positions(serve: Callable[..., LiveServer]) -> None:
    server = serve()
    call_id = create_calls(server, 1)[0]
    with httpx.Client(base_url=server.base, headers=server.headers()) as http:
        assert (
            http.post(f"/api/v1/calls/{call_id}/assign", json={"unit_id": "hq-A2"}).status_code
            == 200
        )
        with (
            connect_dispatcher(server) as desk,
            connect(server.socket("crew", "hq-A2")) as crew,
        ):
            snap = collect(desk, lambda g: len(g) >= 2)[1]
            assert snap["state"]["acks"]["hq-A2"]["call_id"] == call_id
            collect(crew, lambda g: len(g) >= 2)
            crew.send(json.dumps({"type": "position", "lon": 105.853, "lat": 21.027}))
            moved = collect(desk, lambda g: any(m.get("kind") == "unit_position" for m in g))
            pos = next(m for m in moved if m.get("kind") == "unit_position")
            assert pos["unit_id"] == "hq-A2"
            assert pos["data"]["position"]["coordinates"] == [105.853, 21.027]
            crew.send(json.dumps({"type": "position", "lon": "east", "lat": 21.0}))
            err = collect(crew, lambda g: any(m["type"] == "error" for m in g))[-1]
            assert err["code"] == "invalid_position"
            res = http.post("/api/v1/units/hq-A2/ack", json={"device_time_s": time.time()})
            assert res.json()["acknowledged"] is True
            ack = collect(desk, lambda g: any(m["type"] == "ack" for m in g))[-1]
            assert ack["unit_id"] == "hq-A2" and ack["call_id"] == call_id


def test_bad_connection_parameters_close_cleanly(serve: Callable[..., LiveServer]) -> None:
    server = serve()
    token = server.token("admin")  # an admin may ask for any role: the hub checks the rest
    for query, code in (("role=hacker", 4403), ("role=crew", 4403),
                        ("role=crew&unit_id=nope", 4400), ("last_seq=-3", 4400)):  # fmt: skip
        with connect(f"{server.ws}?token={token}&{query}") as ws:
            err = messages(ws)[0]
            assert err["type"] == "error"
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == code, query
    with connect_dispatcher(server) as ws:  # malformed frames get an error, not a hang-up
        collect(ws, lambda g: len(g) >= 2)
        ws.send("{nope")
        assert messages(ws)[0]["code"] == "bad_json"
        ws.send(json.dumps({"type": "ping"}))
        assert messages(ws)[0]["type"] == "pong"
