"""Planner jobs are durable and shared: they survive a restart, a job left running by a dead
server is failed "interrupted", and two server processes on one database see, cancel and
report each other's jobs, with one active job per user across them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from tests.web.conftest import LiveServer, token_for
from tests.web.procserver import ServerProcess, create_user, login, server_env
from tests.web.test_planner import REPO, SCENARIO, frames, progress_until_done
from web.app import create_app
from web.settings import Settings

pytestmark = [pytest.mark.server]
JOBS = "/api/v1/planner/jobs"
BACKENDS = ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
LONG = {"scenario": "hk_hq5", "days": 366, "replications": 20}  # runs until stopped
SHORT = {"scenario": "hk_hq5", "days": 1, "replications": 1}


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("durable_scenarios")
    base = REPO / "data" / "scenarios" / "_base.toml"
    text = SCENARIO.format(base=base, name="hk_hq5", units=5)
    (folder / "hk_hq5.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgis":
        url: str = request.getfixturevalue("postgis_url")
        return url
    return f"sqlite:///{tmp_path / 'h115.db'}"


def wait_state(get: Callable[[], dict[str, Any]], states: set[str], timeout_s: float) -> Any:
    """Poll a job's status until its state is one of `states`."""
    deadline = time.monotonic() + timeout_s
    while (status := get())["state"] not in states:
        assert time.monotonic() < deadline, f"still {status}"
        time.sleep(0.1)
    return status


def test_a_finished_job_and_its_report_survive_a_restart(
    make_settings: Callable[..., Settings],
    hoankiem_router: Any,
    scenario_dir: Path,
    database_url: str,
    tmp_path: Path,
) -> None:
    settings = make_settings(
        database_url=database_url,
        planner_scenario_dir=scenario_dir,
        planner_dir=tmp_path / "results",
    )
    first = create_app(settings, router=hoankiem_router)
    with TestClient(first) as http:
        http.headers["Authorization"] = f"Bearer {token_for(first, 'planner')}"
        started = http.post(JOBS, json=SHORT)
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        done = wait_state(lambda: http.get(f"{JOBS}/{job_id}").json(), {"done", "failed"}, 60)
        assert done["state"] == "done", done
        kpis = http.get(f"{JOBS}/{job_id}/result").json()["kpis"]
    assert (tmp_path / "results" / job_id / "result.pkl").is_file()  # close() kept it

    second = create_app(settings, router=hoankiem_router)
    with TestClient(second) as http:
        http.headers["Authorization"] = f"Bearer {token_for(second, 'planner')}"
        listed = http.get(JOBS).json()
        assert [(j["job_id"], j["state"]) for j in listed] == [(job_id, "done")]
        assert listed[0]["fraction"] == 1.0 and listed[0]["finished_s"] >= done["started_s"]
        result = http.get(f"{JOBS}/{job_id}/result").json()
        assert result["kpis"] == kpis and kpis["calls"] > 50
        assert result["layers"]["type"] == "FeatureCollection"
        page = http.get("/api/v1/planner/report", params={"job": [job_id]})
        assert page.status_code == 200, page.text
        assert f"hk_hq5-{job_id}" in page.text
        assert http.post(JOBS, json=SHORT).status_code == 202  # nothing active blocks the user


@pytest.mark.slow
def test_a_job_running_when_the_server_dies_is_failed_interrupted(
    tmp_path: Path, web_data_dir: Path, hoankiem_graph_dir: Path, scenario_dir: Path
) -> None:
    files = {
        "graph_dir": hoankiem_graph_dir,
        "stations_file": web_data_dir / "stations.geojson",
        "fleet_file": web_data_dir / "fleet.json",
    }
    env = server_env(
        f"sqlite:///{tmp_path / 'h115.db'}",
        files,
        H115_PLANNER_SCENARIO_DIR=str(scenario_dir),
        H115_PLANNER_DIR=str(tmp_path / "results"),
    )
    create_user(env, "paula", "planner", "paula-planner-password")
    first = ServerProcess(env, log_path=tmp_path / "first.log").start()
    second = ServerProcess(env, log_path=tmp_path / "second.log")
    try:
        auth = {"Authorization": f"Bearer {login(first.base, 'paula', 'paula-planner-password')}"}
        started = httpx.post(f"{first.base}{JOBS}", json=LONG, headers=auth, timeout=30)
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        status_url = f"{first.base}{JOBS}/{job_id}"
        wait_state(lambda: httpx.get(status_url, headers=auth).json(), {"running"}, 30)
        first.kill()  # kill -9: no shutdown code marks the job

        second.start()
        status = httpx.get(f"{second.base}{JOBS}/{job_id}", headers=auth).json()
        assert status["state"] == "failed", status
        assert status["error"] == "interrupted: the server restarted"
        again = httpx.post(f"{second.base}{JOBS}", json=SHORT, headers=auth, timeout=30)
        assert again.status_code == 202, again.text  # the dead job no longer blocks its owner
    finally:
        first.kill()
        second.kill()


def test_two_apps_on_one_database_share_jobs(
    serve: Callable[..., LiveServer], scenario_dir: Path, database_url: str, tmp_path: Path
) -> None:
    shared = {"planner_scenario_dir": scenario_dir, "planner_dir": tmp_path / "results"}
    one = serve(database_url=database_url, **shared)
    two = serve(database_url=database_url, **shared)
    auth = one.headers("planner")
    with (
        httpx.Client(base_url=one.base, headers=auth, timeout=60) as on_one,
        httpx.Client(base_url=two.base, headers=two.headers("planner"), timeout=60) as on_two,
        connect(two.socket("planner")) as socket_two,
    ):
        job_id = on_one.post(JOBS, json=SHORT).json()["job_id"]
        assert on_two.get(f"{JOBS}/{job_id}").json()["owner"] == "test-planner-x"
        if database_url.startswith("postgresql"):  # NOTIFY carries progress to the other app
            seen = progress_until_done(socket_two, job_id)
            assert seen[-1]["state"] == "done", seen
            assert [m["state"] for m in seen[:2]] == ["queued", "running"], seen
            assert any(0 < m["fraction"] < 1 for m in seen), seen
        done = wait_state(lambda: on_two.get(f"{JOBS}/{job_id}").json(), {"done", "failed"}, 60)
        assert done["state"] == "done", done
        result = on_two.get(f"{JOBS}/{job_id}/result").json()
        assert result["kpis"] == on_one.get(f"{JOBS}/{job_id}/result").json()["kpis"]
        page = on_two.get("/api/v1/planner/report", params={"job": [job_id]})
        assert page.status_code == 200 and f"hk_hq5-{job_id}" in page.text

        long_id = on_one.post(JOBS, json=LONG).json()["job_id"]
        wait_state(lambda: on_two.get(f"{JOBS}/{long_id}").json(), {"running"}, 30)
        cancelled_at = time.monotonic()
        assert on_two.delete(f"{JOBS}/{long_id}").status_code == 200  # runs in the other app
        ended = wait_state(lambda: on_one.get(f"{JOBS}/{long_id}").json(), {"cancelled"}, 10)
        assert time.monotonic() - cancelled_at < 5.0 and ended["error"] is None
        assert on_two.get(f"{JOBS}/{long_id}/result").status_code == 409
        assert on_two.delete(f"{JOBS}/{long_id}").status_code == 409  # already cancelled
        states = {j["job_id"]: j["state"] for j in on_two.get(JOBS).json()}
        assert states == {job_id: "done", long_id: "cancelled"}
        if not database_url.startswith("postgresql"):  # SQLite: no pushes between processes
            return
        pushed = [m for m in frames(socket_two, timeout_s=2) if m.get("job_id") == long_id]
        assert pushed and pushed[-1]["state"] == "cancelled", pushed


def test_one_active_job_per_user_across_apps(
    serve: Callable[..., LiveServer], scenario_dir: Path, database_url: str, tmp_path: Path
) -> None:
    shared = {"planner_scenario_dir": scenario_dir, "planner_dir": tmp_path / "results"}
    apps = [serve(database_url=database_url, **shared) for _ in "ab"]
    answers: list[httpx.Response] = []
    ready = threading.Barrier(4)

    headers = apps[0].headers("planner")  # one user (made once), signed in on both apps

    def post(app: LiveServer) -> None:
        with httpx.Client(base_url=app.base, headers=headers, timeout=30) as http:
            ready.wait()
            answers.append(http.post(JOBS, json=LONG))

    racers = [threading.Thread(target=post, args=(app,)) for app in apps * 2]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [202, 409, 409, 409], [a.text for a in answers]
    winner = next(a.json()["job_id"] for a in answers if a.status_code == 202)
    refused = next(a.json() for a in answers if a.status_code == 409)
    assert winner in str(refused)
    jobs = httpx.get(f"{apps[1].base}{JOBS}", headers=apps[1].headers("planner")).json()
    assert [j["job_id"] for j in jobs] == [winner]
    admin = apps[1].headers("admin")
    assert httpx.delete(f"{apps[1].base}{JOBS}/{winner}", headers=admin).status_code == 200
    status_url = f"{apps[0].base}{JOBS}/{winner}"
    wait_state(lambda: httpx.get(status_url, headers=admin).json(), {"cancelled"}, 10)
    again = httpx.post(f"{apps[0].base}{JOBS}", json=SHORT, headers=apps[0].headers("planner"))
    assert again.status_code == 202, again.text
