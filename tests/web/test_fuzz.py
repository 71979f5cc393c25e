"""Bad input: schemathesis over the whole OpenAPI surface (no 5xx), and each kind of bad
input answered with a clear 4xx or a clean websocket close while the server stays up."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.web.authkit import minted_bearer
from tests.web.conftest import PIN_HOAN_KIEM, free_port
from web.app import create_app
from web.commands import uvicorn_options
from web.settings import Settings

pytestmark = pytest.mark.server  # a real uvicorn on loopback
FUZZ_EXAMPLES = 12  # per operation; derandomized, so every run sends the same requests


@dataclass
class Live:
    """The app served by a real uvicorn on loopback for the whole module."""

    app: FastAPI
    settings: Settings
    base: str


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory,
    web_data_dir: Path,
    hoankiem_graph_dir: Path,
    hoankiem_router: Any,
) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("fuzz")
    config = Settings(
        env="test",
        database_url=f"sqlite:///{folder / 'h115.db'}",
        graph_dir=hoankiem_graph_dir,
        stations_file=web_data_dir / "stations.geojson",
        fleet_file=web_data_dir / "fleet.json",
    )
    app = create_app(config, router=hoankiem_router)
    port = free_port()
    options = uvicorn_options(host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(uvicorn.Config(app, **options))  # as `hanoi115 serve` runs it
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield Live(app=app, settings=config, base=f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=15)


@pytest.mark.slow
def test_no_input_makes_a_server_error(live: Live) -> None:
    """Every operation of the OpenAPI document, FUZZ_EXAMPLES generated requests each."""
    headers = {"Authorization": minted_bearer(live.settings)}  # an admin may call everything
    schema = schemathesis.openapi.from_url(f"{live.base}/openapi.json")
    results: list[Any] = list(schema.get_all_operations())  # Ok or Err: an Err fails here
    operations = [result.ok() for result in results]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=FUZZ_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Any) -> None:
            response = case.call(base_url=live.base, headers=headers)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                response.text[:300],
            )

        no_server_error()
    assert httpx.get(f"{live.base}/readyz").status_code == 200


@pytest.fixture()
def admin(live: Live) -> Iterator[httpx.Client]:
    headers = {"Authorization": minted_bearer(live.settings)}
    with httpx.Client(base_url=live.base, headers=headers, timeout=10) as client:
        yield client


def pin(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def test_each_bad_input_gets_a_clear_4xx(admin: httpx.Client) -> None:
    outside = admin.post("/api/v1/calls", json={"pin": pin(106.5, 20.5), "priority": "P1"})
    assert outside.status_code == 422
    assert outside.json()["detail"][0]["loc"] == ["body", "pin"]
    assert "outside" in outside.json()["detail"][0]["msg"]
    assert admin.post("/api/v1/calls", json={"pin": pin(200.0, 21.0)}).status_code == 422
    call_id = admin.post("/api/v1/calls", json={"pin": pin(*PIN_HOAN_KIEM)}).json()["call"][
        "call_id"
    ]
    for device_time_s in (0.0, time.time() + 86_400, 1e300):
        res = admin.post(
            "/api/v1/units/hq-A1/status",
            json={"status": "en_route", "device_time_s": device_time_s},
        )
        assert res.status_code == 422 and res.json()["detail"][0]["loc"][-1] == "device_time_s"
    res = admin.post(
        "/api/v1/units/hq-A1/position",
        json={"position": pin(*PIN_HOAN_KIEM), "device_time_s": "NaN"},
    )
    assert res.status_code == 422
    assert admin.get("/api/v1/calls/no-such-call").status_code == 404
    assert admin.get("/api/v1/units/no-such-unit/job").status_code == 404
    assert admin.post(
        f"/api/v1/calls/{call_id}/assign", json={"unit_id": "no-such-unit"}
    ).status_code in (404, 422)
    assert admin.post("/api/v1/nowhere", json={}).status_code == 404


def test_oversize_bodies_are_refused_before_parsing(admin: httpx.Client, live: Live) -> None:
    limit = live.settings.max_body_bytes
    big = {"pin": pin(*PIN_HOAN_KIEM), "notes": "x" * (limit + 10)}
    res = admin.post("/api/v1/calls", json=big)
    assert res.status_code == 413 and f"at most {limit} bytes" in res.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'{"notes": "'
        for _ in range(limit // 1024 + 2):
            yield b"y" * 1024
        yield b'"}'

    res = admin.post(
        "/api/v1/calls", content=chunks(), headers={"content-type": "application/json"}
    )
    assert res.status_code == 413
    assert admin.get("/healthz").status_code == 200


def test_malformed_websocket_frames_get_errors_or_a_clean_close(
    admin: httpx.Client, live: Live
) -> None:
    token = minted_bearer(live.settings).split()[1]
    url = live.base.replace("http", "ws") + "/ws"

    def reply(ws: Any) -> dict[str, Any]:
        data = json.loads(ws.recv(timeout=5))
        first: dict[str, Any] = data[0] if isinstance(data, list) else data
        return first

    with connect(f"{url}?token={token}") as ws:
        assert [reply(ws)["type"], reply(ws)["type"]] == ["hello", "snapshot"]
        for frame in ("{nope", "[]", "42", json.dumps({"type": 7}), json.dumps({"no": "type"})):
            ws.send(frame)
            got = reply(ws)
            assert got["type"] == "error" and got["code"] in ("bad_json", "bad_message")
        ws.send(json.dumps({"type": "position", "lon": "east", "lat": None}))
        assert reply(ws)["type"] == "error"
        ws.send(json.dumps({"type": "ping", "device_time_s": 1.5}))
        assert reply(ws)["type"] == "pong"  # still serving after all that
        ws.send(b"\x00\xff binary")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    with connect(f"{url}?token={token}&last_seq=-5") as ws:
        assert reply(ws)["code"] == "bad_request"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    with connect(f"{url}?token={token}", max_size=None) as ws:  # a 4 MiB frame: refused
        reply(ws)
        # The server may close with 1009 while the client is still writing the frame,
        # so the refusal can surface on send as well as on the next recv.
        with pytest.raises(ConnectionClosed) as closed:
            ws.send("x" * (4 * 1024 * 1024))
            while True:
                ws.recv(timeout=5)
        # The server closes with 1009 without reading the rest of the refused frame; dropping
        # the connection with those bytes unread makes the kernel reset it, and the reset can
        # overtake the close frame (then nothing is received: rcvd is None).
        rcvd = closed.value.rcvd
        assert rcvd is None or rcvd.code == 1009, rcvd
    with connect(f"{url}?token={token}") as ws:  # the next client is served as before
        assert [reply(ws)["type"], reply(ws)["type"]] == ["hello", "snapshot"]
    assert admin.get("/readyz").status_code == 200  # the server stayed up
