"""Faults for real: kill -9 the server in a burst of call creations, stop PostgreSQL mid-run.

Both run real `hanoi115 serve` processes on loopback; the PostgreSQL test stops a private
throwaway cluster (never the shared one on 5432). Bounded: each test well under a minute.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from dispatch.repository import SqlRepository
from tests.web.conftest import PIN_HOAN_KIEM, PIN_SOUTH
from tests.web.procserver import PrivateCluster, ServerProcess, create_user, login, server_env

PASSWORD = "fault-test-password"
pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture()
def files(web_data_dir: Path, hoankiem_graph_dir: Path) -> dict[str, Path]:
    return {
        "graph_dir": hoankiem_graph_dir,
        "stations_file": web_data_dir / "stations.geojson",
        "fleet_file": web_data_dir / "fleet.json",
    }


def call_body(i: int) -> dict[str, Any]:
    lon, lat = PIN_HOAN_KIEM if i % 2 else PIN_SOUTH
    return {
        "pin": {"type": "Point", "coordinates": [lon, lat]},
        "priority": "P3",
        "caller_phone": f"09{i:08d}",
        "complaint": f"burst call {i}",
    }


class Burst:
    """Threads creating calls with idempotency keys until the server dies."""

    def __init__(self, base: str, token: str, *, threads: int = 8) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.acked: dict[str, str] = {}  # key -> call id, acknowledged to the client
        self.unknown: set[str] = set()  # sent, fate unknown (the server died)
        self.errors: list[str] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=10) as client:
            while True:
                with self._lock:
                    i = next(self._numbers)
                key = f"burst-{i}"
                try:
                    res = client.post(
                        "/api/v1/calls", json=call_body(i), headers={"Idempotency-Key": key}
                    )
                except httpx.TransportError:
                    with self._lock:
                        self.unknown.add(key)
                    return
                with self._lock:
                    if res.status_code in (200, 201):
                        self.acked[key] = res.json()["call"]["call_id"]
                    else:
                        self.errors.append(f"{res.status_code} {res.text[:200]}")


class SocketRecorder:
    """A dispatcher socket in a thread, keeping every frame until the connection drops."""

    def __init__(self, url: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self._url = url
        self._ws: Any = None
        self._open = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._open.wait(10), "socket did not open"

    def _run(self) -> None:
        try:
            with connect(self._url, open_timeout=10, max_size=None) as ws:
                self._ws = ws
                self._open.set()
                while True:
                    data = json.loads(ws.recv())
                    self.messages.extend(data if isinstance(data, list) else [data])
        except (ConnectionClosed, OSError):
            return

    def join(self) -> None:
        self._thread.join(timeout=10)

    def close(self) -> None:
        self._ws.close()
        self.join()

    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.messages if m.get("type") == "event"]


def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture()
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.kill()


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The embedded default, and PostgreSQL (the shared server: it is not stopped here)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'h115.db'}"
    url: str = request.getfixturevalue("postgis_url")
    return url


def test_kill_9_in_a_burst_loses_and_duplicates_nothing(
    tmp_path: Path, files: dict[str, Path], servers: list[ServerProcess], database_url: str
) -> None:
    env = server_env(database_url, files)
    create_user(env, "dana", "dispatcher", PASSWORD)
    first = ServerProcess(env, log_path=tmp_path / "first.log").start()
    servers.append(first)
    token = login(first.base, "dana", PASSWORD)
    auth = {"Authorization": f"Bearer {token}"}
    # Units in motion before the burst, so unit states have something to be consistent about.
    for i, unit_id in enumerate(("hq-A1", "hq-A2")):
        call_id = httpx.post(
            f"{first.base}/api/v1/calls", json=call_body(1000 + i), headers=auth
        ).json()["call"]["call_id"]
        assert (
            httpx.post(
                f"{first.base}/api/v1/calls/{call_id}/assign",
                json={"unit_id": unit_id},
                headers=auth,
            ).status_code
            == 200
        )
    httpx.post(f"{first.base}/api/v1/units/hq-A1/status", json={"status": "en_route"}, headers=auth)
    recorder = SocketRecorder(f"{first.ws}?token={token}")
    wait_for(lambda: len(recorder.messages) >= 2, 10, "the snapshot")
    snapshot_seq = recorder.messages[1]["seq"]
    burst = Burst(first.base, token)
    burst.start()
    wait_for(lambda: len(burst.acked) >= 10, 30, "10 acknowledged calls")
    recorder.close()  # this dispatcher drops out; it will resume after the restart
    wait_for(lambda: len(burst.acked) >= 40, 30, "40 acknowledged calls")
    first.kill()  # mid-burst: requests are in flight
    burst.join()
    assert burst.errors == [] and burst.unknown, "the kill must interrupt requests in flight"

    seen = recorder.seqs()  # before the kill: gap-free from the snapshot, no duplicates
    assert seen == list(range(snapshot_seq + 1, snapshot_seq + 1 + len(seen)))
    repo = SqlRepository.open(env["H115_DATABASE_URL"], migrate=False)
    head = repo.last_seq()
    assert head >= seen[-1]

    second = ServerProcess(env, log_path=tmp_path / "second.log").start()
    servers.append(second)
    resumed = SocketRecorder(f"{second.ws}?token={token}&last_seq={seen[-1]}")
    assert head - seen[-1] >= 20  # it missed the rest of the burst (30 calls or more)
    wait_for(lambda: len(resumed.seqs()) >= head - seen[-1], 10, "the missed events")
    hello, note = resumed.messages[:2]
    assert hello["type"] == "hello"
    assert note["type"] == "resumed" and note["from_seq"] == seen[-1] and note["to_seq"] == head
    assert resumed.seqs() == list(range(seen[-1] + 1, head + 1))  # exactly the missed ones

    # Every acknowledged call exists exactly once; a retry with its key returns it.
    with httpx.Client(base_url=second.base, headers=auth, timeout=10) as client:
        for key, call_id in burst.acked.items():
            i = int(key.split("-")[1])
            res = client.post("/api/v1/calls", json=call_body(i), headers={"Idempotency-Key": key})
            assert (res.status_code, res.json()["call"]["call_id"]) == (200, call_id)
        retried = {}
        for key in burst.unknown:  # fate unknown: the retry creates it or finds it, once
            res = client.post(
                "/api/v1/calls",
                json=call_body(int(key.split("-")[1])),
                headers={"Idempotency-Key": key},
            )
            assert res.status_code in (200, 201)
            retried[key] = res.json()["call"]["call_id"]
        calls = client.get("/api/v1/calls", params={"open": "false"}).json()
        ids = [c["call_id"] for c in calls]
        assert len(ids) == len(set(ids)) == 2 + len(burst.acked) + len(burst.unknown)
        assert set(burst.acked.values()) | set(retried.values()) <= set(ids)
        served = {
            f["properties"]["unit_id"]: f["properties"]["status"]
            for f in client.get("/api/v1/units").json()["features"]
        }
    # Unit states equal the event log replayed from scratch, and the read models.
    replayed = repo.replay_state()
    assert served == {u: unit.status.value for u, unit in replayed.units.items()}
    assert served["hq-A1"] == "en_route" and served["hq-A2"] == "dispatched"
    stored = repo.read_model_state()
    assert {u: x.status for u, x in stored.units.items()} == {
        u: x.status for u, x in replayed.units.items()
    }
    wait_for(lambda: resumed.seqs()[-1:] == [repo.last_seq()], 10, "live events after resume")
    tail = resumed.seqs()
    assert tail == list(range(seen[-1] + 1, tail[-1] + 1))  # still gap-free and unique
    resumed.close()
    # The same key sent by six clients at once: one call; every answer names it.
    answers: list[tuple[int, str]] = []

    def send_same() -> None:
        res = httpx.post(
            f"{second.base}/api/v1/calls",
            json=call_body(5000),
            headers={**auth, "Idempotency-Key": "same-key"},
            timeout=10,
        )
        answers.append(
            (res.status_code, res.json().get("call_id") or res.json()["call"]["call_id"])
        )

    racers = [threading.Thread(target=send_same) for _ in range(6)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=20)
    assert len(answers) == 6 and len({call_id for _, call_id in answers}) == 1
    codes = sorted(code for code, _ in answers)
    assert codes == [200] * 5 + [201], answers  # one creates it; the others are told of it
    after = httpx.get(f"{second.base}/api/v1/calls", params={"open": "false"}, headers=auth).json()
    assert len(after) == len(ids) + 1
    # The servers' own logs (uvicorn access lines included) hold no phone number and no token.
    logs = first.log(tail_chars=None) + second.log(tail_chars=None)
    assert "Logging error" not in logs
    assert "WebSocket /ws?token=[redacted]" in logs  # the sockets were logged, redacted
    assert token not in logs and not re.search(r"09\d{8}", logs)
    repo.close()


@pytest.mark.postgis
def test_postgresql_outage_answers_503_and_recovers_by_itself(
    tmp_path: Path, files: dict[str, Path], servers: list[ServerProcess]
) -> None:
    cluster = PrivateCluster()  # a throwaway cluster: the shared one on 5432 is never touched
    try:
        cluster.start()
        env = server_env(cluster.url, files)
        create_user(env, "dana", "dispatcher", PASSWORD)
        create_user(env, "ada", "admin", PASSWORD)
        server = ServerProcess(env, log_path=tmp_path / "server.log").start()
        servers.append(server)
        token = login(server.base, "dana", PASSWORD)
        admin = {"Authorization": f"Bearer {login(server.base, 'ada', PASSWORD)}"}
        recorder = SocketRecorder(f"{server.ws}?token={token}")
        with httpx.Client(
            base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client:
            before = [
                client.post("/api/v1/calls", json=call_body(i)).json()["call"]["call_id"]
                for i in range(3)
            ]
            cluster.stop()
            started = time.monotonic()
            down = client.post(
                "/api/v1/calls", json=call_body(7), headers={"Idempotency-Key": "outage-7"}
            )
            assert down.status_code == 503 and down.headers["retry-after"] == "2"
            assert down.json()["detail"].startswith("temporarily unavailable: database")
            assert time.monotonic() - started < 5  # a prompt answer, not a hang
            assert client.get(f"/api/v1/calls/{before[0]}").status_code == 503
            ready = client.get("/readyz")
            assert ready.status_code == 503 and not ready.json()["checks"]["database"]["ok"]
            assert client.get("/healthz").status_code == 200
            res = httpx.post(
                f"{server.base}/api/v1/auth/login", json={"username": "dana", "password": PASSWORD}
            )
            assert res.status_code == 503
            cluster.start()
            deadline = time.monotonic() + 30
            while (
                up := client.post(
                    "/api/v1/calls", json=call_body(7), headers={"Idempotency-Key": "outage-7"}
                )
            ).status_code == 503:
                assert time.monotonic() < deadline, "no recovery within 30 s"
                time.sleep(0.2)
            assert up.status_code == 201
            again = client.post(
                "/api/v1/calls", json=call_body(7), headers={"Idempotency-Key": "outage-7"}
            )
            assert (again.status_code, again.json()["call"]["call_id"]) == (
                200,
                up.json()["call"]["call_id"],
            )
            assert client.get("/readyz").status_code == 200
            ids = [c["call_id"] for c in client.get("/api/v1/calls").json()]
            assert sorted(ids) == sorted([*before, up.json()["call"]["call_id"]])
            wait_for(
                lambda: any(
                    m.get("kind") == "call_created"
                    and m["data"]["call_id"] == up.json()["call"]["call_id"]
                    for m in recorder.messages
                ),
                10,
                "the new call on the socket that lived through the outage",
            )
            seqs = recorder.seqs()
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            # The refused request is audited too, once the database is back.
            wait_for(
                lambda: any(
                    r["status"] == 503 for r in client.get("/api/v1/audit", headers=admin).json()
                ),
                10,
                "the 503 in the audit log",
            )
        recorder.close()
    finally:
        for server in servers:
            server.kill()
        cluster.destroy()
