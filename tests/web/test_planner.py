"""The planner page: scenarios, background simulation jobs with progress on a real websocket,
KPIs, coverage layers, the comparison report, role checks, and the page in Chromium."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.web.conftest import LiveServer

pytestmark = [pytest.mark.server]
REPO = Path(__file__).resolve().parents[2]
SCENARIO = """# HQ only, on the Hoàn Kiếm test graph (planner page tests).
extends = "{base}"
name = "{name}"
description = "HQ with {units} units on the Hoàn Kiếm graph"
seed = 20240115
days = 2
replications = 1
warmup_days = 0
only_stations = ["hq"]
units = {{ hq = {units} }}
"""


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("planner_scenarios")
    base = REPO / "data" / "scenarios" / "_base.toml"
    for name, units in (("hk_hq5", 5), ("hk_hq8", 8)):
        text = SCENARIO.format(base=base, name=name, units=units)
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture()
def planner_server(serve: Callable[..., LiveServer], scenario_dir: Path) -> LiveServer:
    return serve(planner_scenario_dir=scenario_dir)


def frames(ws: ClientConnection, *, timeout_s: float) -> Iterator[dict[str, Any]]:
    """Messages as they come (a frame may hold a batch), until `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            data = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            return
        yield from data if isinstance(data, list) else [data]


def progress_until_done(ws: ClientConnection, job_id: str) -> list[dict[str, Any]]:
    seen = []
    for message in frames(ws, timeout_s=40):
        if message["type"] == "planner_job" and message["job_id"] == job_id:
            seen.append(message)
            if message["state"] in ("done", "failed", "cancelled"):
                break
    return seen


def test_run_with_progress_kpis_layers_and_report(planner_server: LiveServer) -> None:
    server = planner_server
    with (
        httpx.Client(base_url=server.base, headers=server.headers("planner"), timeout=60) as http,
        connect(server.socket("planner")) as planner_ws,
        connect(server.socket("dispatcher")) as desk_ws,
    ):
        listed = {s["name"]: s for s in http.get("/api/v1/planner/scenarios").json()}
        assert listed["hk_hq5"]["runnable"] is True
        assert listed["baseline_core7"]["runnable"] is False  # stations off the Hoàn Kiếm graph
        assert "tay_ho" in listed["baseline_core7"]["not_runnable_because"]
        refused = http.post("/api/v1/planner/jobs", json={"scenario": "baseline_core7"})
        assert refused.status_code == 422

        started = http.post(
            "/api/v1/planner/jobs", json={"scenario": "hk_hq5", "days": 3, "replications": 2}
        )
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        again = http.post("/api/v1/planner/jobs", json={"scenario": "hk_hq8"})
        assert again.status_code == 409  # one job at a time per user
        seen = progress_until_done(planner_ws, job_id)
        assert seen[-1]["state"] == "done", seen[-1]
        assert seen[-1]["fraction"] == 1.0 and seen[-1]["v"] == 1
        running = [m["fraction"] for m in seen if m["state"] == "running"]
        assert any(0 < f < 1 for f in running), seen
        assert running == sorted(running)  # progress never goes back
        # Dispatchers' sockets carry no planner progress.
        assert not [m for m in frames(desk_ws, timeout_s=0.5) if m["type"] == "planner_job"]

        result = http.get(f"/api/v1/planner/jobs/{job_id}/result").json()
        kpis, layers = result["kpis"], result["layers"]
        assert kpis["replications"] == 2 and kpis["simulated_days"] == 6.0
        assert kpis["calls"] > 300  # ~110 a day over 2 x 3 days, less the screened-out share
        response = kpis["response"]
        assert 1.0 < response["mean_min"] < 60.0
        assert response["median_min"] <= response["p90_min"]
        assert 0.0 <= response["within_8_min"] <= response["within_15_min"] <= 1.0
        assert 0.0 < kpis["utilisation"]["mean"] < 1.0
        minutes = sorted(
            f["properties"]["minutes"]
            for f in layers["features"]
            if f["properties"]["layer"] == "isochrone"
        )
        assert minutes == [8.0, 15.0]
        shares = layers["properties"]["share_within"]
        assert 0 < shares["8_min"] <= shares["15_min"] <= 1

        second = http.post("/api/v1/planner/jobs", json={"scenario": "hk_hq8", "days": 2})
        second_id = second.json()["job_id"]
        assert progress_until_done(planner_ws, second_id)[-1]["state"] == "done"
        more = http.get(f"/api/v1/planner/jobs/{second_id}/result").json()["kpis"]
        assert more["utilisation"]["mean"] < kpis["utilisation"]["mean"]  # 8 units, not 5

        page = http.get("/api/v1/planner/report", params={"job": [job_id, second_id]})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert f"hk_hq5-{job_id}" in page.text and f"hk_hq8-{second_id}" in page.text
        assert page.text.count("data:image/png;base64,") >= 3  # CDF, utilisation, coverage


def test_cancel_stops_a_running_job(planner_server: LiveServer) -> None:
    server = planner_server
    with (
        httpx.Client(base_url=server.base, headers=server.headers("planner"), timeout=30) as http,
        connect(server.socket("planner")) as ws,
    ):
        job_id = http.post(
            "/api/v1/planner/jobs", json={"scenario": "hk_hq5", "days": 366, "replications": 20}
        ).json()["job_id"]
        for message in frames(ws, timeout_s=20):
            if message.get("job_id") == job_id and message["state"] == "running":
                break
        other = httpx.delete(
            f"{server.base}/api/v1/planner/jobs/{job_id}", headers=server.headers("admin")
        )
        assert other.status_code == 200  # an admin may cancel anyone's job
        seen = progress_until_done(ws, job_id)
        assert seen[-1]["state"] == "cancelled"
        assert http.get(f"/api/v1/planner/jobs/{job_id}/result").status_code == 409


def test_coverage_of_a_station_set_at_an_hour(planner_server: LiveServer) -> None:
    with httpx.Client(
        base_url=planner_server.base, headers=planner_server.headers("planner"), timeout=30
    ) as http:
        sets = {s["name"]: s for s in http.get("/api/v1/planner/station-sets").json()}
        assert sets["live"]["on_graph"] == 3
        assert sets["hanoi115_core7"]["on_graph"] == 1  # only the HQ lies in Hoàn Kiếm
        peak = http.get("/api/v1/planner/coverage", params={"stations": "live", "hour": 18})
        night = http.get("/api/v1/planner/coverage", params={"stations": "live", "hour": 3})
        assert peak.status_code == 200 and night.status_code == 200
        points = [f for f in peak.json()["features"] if f["properties"]["layer"] == "station"]
        assert sorted(f["properties"]["station_id"] for f in points) == ["hq", "north", "west"]
        at_peak = peak.json()["properties"]["share_within"]
        at_night = night.json()["properties"]["share_within"]
        assert 0 < at_peak["8_min"] <= at_night["8_min"] <= 1  # free-flowing roads at night
        unknown = http.get("/api/v1/planner/coverage", params={"stations": "nowhere"})
        assert unknown.status_code == 404


@pytest.mark.parametrize("role", ["dispatcher", "crew"])
def test_only_planners_and_admins(planner_server: LiveServer, role: str) -> None:
    unit = "hq-A1" if role == "crew" else None
    headers = planner_server.headers(role, unit)
    with httpx.Client(base_url=planner_server.base, headers=headers) as http:
        assert http.get("/api/v1/planner/scenarios").status_code == 403
        assert http.post("/api/v1/planner/jobs", json={"scenario": "hk_hq5"}).status_code == 403
        assert http.get("/api/v1/planner/jobs").status_code == 403
    admin = httpx.get(
        f"{planner_server.base}/api/v1/planner/scenarios", headers=planner_server.headers("admin")
    )
    assert admin.status_code == 200


def test_a_failing_run_reports_its_error(
    scenario_dir: Path, hoankiem_graph_dir: Path, tmp_path: Path
) -> None:
    from dispatch.db.migrate import upgrade
    from web.planner_jobs import JobState, PlannerJobs

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade(url)
    told: list[dict[str, Any]] = []
    jobs = PlannerJobs(
        database_url=url,
        folder=tmp_path / "planner",
        graph_dir=hoankiem_graph_dir,
        graph_sha256="not-the-served-graph",  # the worker must refuse another graph
        snap_max_m=500.0,
        publish=told.append,
    )
    jobs.recover()
    try:
        job_id = jobs.start(
            scenario="hk_hq5",
            scenario_file=scenario_dir / "hk_hq5.toml",
            owner="paula",
            days=1,
            replications=1,
            hour_local=8,
        ).job_id
        deadline = time.monotonic() + 30
        while jobs.get(job_id).state in (JobState.QUEUED, JobState.RUNNING):
            assert time.monotonic() < deadline, "the job did not end"
            time.sleep(0.05)
        job = jobs.get(job_id)
    finally:
        jobs.close()
    assert job.state is JobState.FAILED and job.result is None
    assert job.error is not None and job.error.startswith("GraphMismatch")
    assert told[0]["state"] == "queued" and told[-1]["error"] == job.error


def test_planner_job_message_is_documented() -> None:
    import yaml

    from web import protocol
    from web.planner_jobs import JobState

    doc = yaml.safe_load((REPO / "docs" / "protocol" / "asyncapi.yaml").read_text("utf-8"))
    sent = doc["channels"]["/ws"]["subscribe"]["message"]["oneOf"]
    assert {"$ref": "#/components/messages/planner_job"} in sent
    schema = doc["components"]["messages"]["planner_job"]["payload"]["allOf"][1]["properties"]
    message = protocol.planner_job(
        job_id="j1", scenario="s", owner="u", state="running", fraction=0.5, message="m", at_s=1.0
    )
    assert message["v"] == protocol.PROTOCOL_VERSION == int(doc["info"]["version"])
    assert set(message) - {"v"} == set(schema)
    assert set(schema["state"]["enum"]) == {state.value for state in JobState}


@pytest.mark.browser
def test_planner_runs_a_scenario_in_the_browser(browser: Any, planner_server: LiveServer) -> None:
    from tests.web.conftest import shot

    server = planner_server
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    token = server.token("planner")  # the top page only: the report's frame is sandboxed
    page.add_init_script(f"if (window === top) sessionStorage.setItem('h115.token', '{token}')")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.base + "/planner")
    page.wait_for_selector("#conn.on")
    assert page.locator("h1").inner_text() == "Lập kế hoạch trạm cấp cứu 115"  # Vietnamese first
    attribution = page.locator(".leaflet-control-attribution").inner_text()
    assert attribution.strip().endswith("© OpenStreetMap contributors")
    assert page.locator("#scenario option[value='baseline_core7']").is_disabled()

    page.select_option("#scenario", "hk_hq5")
    page.fill("#days", "2")
    page.fill("#replications", "1")
    page.click("#run")
    page.wait_for_selector("#progress-text[data-state='done']", timeout=40_000)
    assert page.locator("#progress").evaluate("el => el.value") == 1
    job_id = page.locator("#jobs tr").first.get_attribute("data-job")
    mean = page.locator(f"#kpi-table tr[data-kpi='mean_min'] td[data-job='{job_id}']")
    mean.wait_for()
    assert 1.0 < float(mean.inner_text()) < 60.0
    within = page.locator(f"#kpi-table tr[data-kpi='within_15_min'] td[data-job='{job_id}']")
    assert within.inner_text().endswith("%")
    page.wait_for_selector("path.cov-8")  # the coverage layers on the map
    assert page.locator("path.cov-15").count() >= 1
    assert "%" in page.locator(".coverage-legend").inner_text()
    shot(page, "6-planner-run-kpis-coverage")

    page.check(f"#jobs tr[data-job='{job_id}'] input[type='checkbox']")
    page.click("#compare")
    page.wait_for_selector("#report-box:not([hidden])", timeout=40_000)
    report = page.frame_locator("#report")
    assert f"hk_hq5-{job_id}" in report.locator("table").first.inner_text()

    page.select_option("#lang", "en")  # English switchable
    assert page.locator("h1").inner_text() == "Hanoi 115 station planning"
    assert page.locator("#kpi-table tr[data-kpi='mean_min'] th").inner_text() == (
        "Mean response (min)"
    )
    page.wait_for_function(
        "document.getElementById('scenario-info').textContent.includes('calls/day')"
    )
    shot(page, "7-planner-report-en")
    assert errors == []
