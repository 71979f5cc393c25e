"""Two server processes on one PostgreSQL database share events through LISTEN/NOTIFY."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.web.procserver import ServerProcess, create_user, login, server_env
from tests.web.test_faults import SocketRecorder, call_body, wait_for

PASSWORD = "two-workers-password"
pytestmark = [pytest.mark.server, pytest.mark.postgis, pytest.mark.slow]


@pytest.fixture()
def two_servers(
    postgis_url: str, tmp_path: Path, web_data_dir: Path, hoankiem_graph_dir: Path
) -> Iterator[tuple[ServerProcess, ServerProcess, dict[str, str]]]:
    files = {
        "graph_dir": hoankiem_graph_dir,
        "stations_file": web_data_dir / "stations.geojson",
        "fleet_file": web_data_dir / "fleet.json",
    }
    env = server_env(postgis_url, files)
    create_user(env, "dana", "dispatcher", PASSWORD)
    create_user(env, "carl", "crew", PASSWORD, unit="hq-A1")
    first = ServerProcess(env, log_path=tmp_path / "a.log")
    second = ServerProcess(env, log_path=tmp_path / "b.log")
    try:
        first.start()
        second.start()
        yield first, second, env
    finally:
        first.kill()
        second.kill()


def test_a_change_through_one_worker_reaches_the_sockets_of_the_other(
    two_servers: tuple[ServerProcess, ServerProcess, dict[str, str]],
) -> None:
    first, second, _ = two_servers
    token = login(first.base, "dana", PASSWORD)  # one sign-in is good on every worker
    crew = login(second.base, "carl", PASSWORD)
    auth = {"Authorization": f"Bearer {token}"}
    on_second = SocketRecorder(f"{second.ws}?token={token}")
    crew_on_second = SocketRecorder(f"{second.ws}?token={crew}")
    on_first = SocketRecorder(f"{first.ws}?token={token}")
    wait_for(lambda: len(on_second.messages) >= 2 and len(on_first.messages) >= 2, 10, "snapshots")
    start_seq = on_second.messages[1]["seq"]
    sent_s = time.time()
    res = httpx.post(f"{first.base}/api/v1/calls", json=call_body(1), headers=auth)
    call_id = res.json()["call"]["call_id"]

    def created_on(recorder: SocketRecorder) -> bool:
        return any(
            m.get("kind") == "call_created" and m["data"]["call_id"] == call_id
            for m in recorder.messages
        )

    wait_for(lambda: created_on(on_second), 5, "the call on the other worker's socket")
    latency_s = time.time() - sent_s
    assert latency_s < 2.0  # pushed by NOTIFY, not found by the slow poll
    # The crew's assignment, made through the first worker, reaches its tablet on the second.
    httpx.post(
        f"{first.base}/api/v1/calls/{call_id}/assign", json={"unit_id": "hq-A1"}, headers=auth
    )
    wait_for(
        lambda: any(m.get("kind") == "unit_assigned" for m in crew_on_second.messages),
        5,
        "assignment",
    )
    # And the other way round: the crew acts through the second worker; the first hears it.
    res = httpx.post(
        f"{second.base}/api/v1/units/hq-A1/status",
        json={"status": "en_route"},
        headers={"Authorization": f"Bearer {crew}"},
    )
    assert res.status_code == 200
    wait_for(
        lambda: any(
            m.get("kind") == "unit_status_changed" and m["data"].get("to_status") == "en_route"
            for m in on_first.messages
        ),
        5,
        "the status change on the first worker",
    )
    # Both workers agree, state and sequence: same seqs, gap-free, no duplicates.
    head = max(on_first.seqs()[-1], on_second.seqs()[-1])
    wait_for(
        lambda: on_second.seqs()[-1:] == [head] and on_first.seqs()[-1:] == [head],
        5,
        "both at head",
    )
    assert on_second.seqs() == list(range(start_seq + 1, head + 1))
    assert on_first.seqs()[-len(on_second.seqs()) :] == on_second.seqs()
    units = [
        httpx.get(f"{s.base}/api/v1/units/hq-A1", headers=auth).json()["status"]
        for s in (first, second)
    ]
    assert units == ["en_route", "en_route"]
    for recorder in (on_first, on_second, crew_on_second):
        recorder.close()
