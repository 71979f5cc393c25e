"""REST API: calls, recommendations, assignment, statuses, error mapping (404/409/422), map data."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import PIN_HOAN_KIEM, PIN_SOUTH


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def new_call(client: TestClient, pin: tuple[float, float] = PIN_HOAN_KIEM, **extra: Any) -> Any:
    body = {"address_text": "Hàng Bài", "pin": point(*pin), "priority": "P1", **extra}
    res = client.post("/api/v1/calls", json=body)
    assert res.status_code == 201, res.text
    return res.json()


def loc_of(res: Any) -> list[list[Any]]:
    assert res.status_code == 422, res.text
    return [d["loc"] for d in res.json()["detail"]]


def test_create_call_returns_ranked_recommendations(client: TestClient) -> None:
    created = new_call(client, caller_device_location=point(105.86, 21.03), complaint="Khó thở")
    call, recs = created["call"], created["recommendations"]
    assert call["pin"] == point(*PIN_HOAN_KIEM)
    assert call["caller_device_location"] == point(105.86, 21.03)  # shown, never applied
    assert call["status"] == "triaged" and call["priority"] == "P1"
    assert len(recs) == 4  # every unit of the test fleet is listed
    etas = [r["eta_s"] for r in recs]
    assert all(e is not None and 0 < e < 3600 for e in etas)
    assert etas == sorted(etas)
    assert [r["rank"] for r in recs] == [1, 2, 3, 4]
    assert recs[0]["turnout_s"] == 60.0
    assert recs[0]["origin"]["type"] == "Point"
    assert client.get(f"/api/v1/calls/{call['call_id']}/recommendations").json()[0]["unit_id"] in {
        r["unit_id"] for r in recs
    }


def test_validation_errors_name_the_field(client: TestClient) -> None:
    url = "/api/v1/calls"
    assert ["body", "pin"] in loc_of(client.post(url, json={"priority": "P1"}))
    assert ["body", "priority"] in loc_of(
        client.post(url, json={"pin": point(*PIN_HOAN_KIEM), "priority": "P9"})
    )
    assert ["body", "pin", "coordinates", 1] in loc_of(
        client.post(url, json={"pin": point(105.85, 95.0)})
    )
    assert ["body", "surprise"] in loc_of(
        client.post(url, json={"pin": point(*PIN_HOAN_KIEM), "surprise": 1})
    )
    assert ["body", "caller_phone"] in loc_of(
        client.post(url, json={"pin": point(*PIN_HOAN_KIEM), "caller_phone": "call me"})
    )
    res = client.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert res.status_code == 422


def test_pin_outside_the_service_area_is_a_422_on_pin(client: TestClient) -> None:
    res = client.post("/api/v1/calls", json={"pin": point(105.70, 21.20), "priority": "P2"})
    detail = res.json()["detail"][0]
    assert res.status_code == 422 and detail["loc"] == ["body", "pin"]
    assert "outside the service area" in detail["msg"]


def test_unknown_ids_are_404(client: TestClient) -> None:
    assert client.get("/api/v1/calls/nope").status_code == 404
    assert client.get("/api/v1/units/nope").status_code == 404
    call_id = new_call(client)["call"]["call_id"]
    res = client.post(f"/api/v1/calls/{call_id}/assign", json={"unit_id": "nope"})
    assert res.status_code == 404
    res = client.post("/api/v1/units/nope/status", json={"status": "en_route"})
    assert res.status_code == 404


def test_conflicts_are_409(client: TestClient) -> None:
    first = new_call(client)["call"]["call_id"]
    second = new_call(client, pin=PIN_SOUTH)["call"]["call_id"]
    assert (
        client.post(f"/api/v1/calls/{first}/assign", json={"unit_id": "hq-A1"}).status_code == 200
    )
    res = client.post(f"/api/v1/calls/{second}/assign", json={"unit_id": "hq-A1"})
    assert res.status_code == 409, res.text
    res = client.post("/api/v1/units/hq-A2/status", json={"status": "on_scene"})
    assert res.status_code == 409  # not a legal transition from available_at_station
    assert client.post(f"/api/v1/calls/{second}/cancel", json={"reason": "hoax"}).status_code == 200
    res = client.post(f"/api/v1/calls/{second}/cancel", json={"reason": "hoax"})
    assert res.status_code == 409
    assert ["body", "reason"] in loc_of(
        client.post(f"/api/v1/calls/{first}/cancel", json={"reason": "bored"})
    )


def test_device_time_must_be_plausible(client: TestClient) -> None:
    future = time.time() + 3600
    res = client.post(
        "/api/v1/units/hq-A1/status", json={"status": "off_duty", "device_time_s": future}
    )
    assert ["body", "device_time_s"] in loc_of(res)
    res = client.post(
        "/api/v1/units/hq-A1/status", json={"status": "off_duty", "device_time_s": 5.0}
    )
    assert ["body", "device_time_s"] in loc_of(res)


def test_whole_job_records_device_times_and_kpis(client: TestClient) -> None:
    call_id = new_call(client)["call"]["call_id"]
    assert (
        client.post(f"/api/v1/calls/{call_id}/assign", json={"unit_id": "hq-A1"}).status_code == 200
    )
    job = client.get("/api/v1/units/hq-A1/job").json()
    assert job["call"]["call_id"] == call_id and job["acknowledged"] is False
    assert job["route"]["geometry"]["type"] == "LineString"
    assert job["route"]["properties"]["steps"]
    ack = client.post("/api/v1/units/hq-A1/ack", json={"device_time_s": time.time()}).json()
    assert ack["acknowledged"] is True
    t0 = time.time() - 100  # actions queued offline carry the time they happened
    hospital = client.get("/api/v1/hospitals").json()["features"][0]["properties"]["hospital_id"]
    steps = [("en_route", t0), ("on_scene", t0 + 40), ("transporting", t0 + 60),
             ("at_hospital", t0 + 80), ("available_on_road", t0 + 90)]  # fmt: skip
    for status, at in steps:
        body: dict[str, Any] = {"status": status, "device_time_s": at}
        if status == "transporting":
            body["hospital_id"] = hospital
        res = client.post("/api/v1/units/hq-A1/status", json=body)
        assert res.status_code == 200, res.text
        assert res.json()["status"] == status
    timeline = client.get(f"/api/v1/calls/{call_id}/timeline").json()
    assert timeline["status"] == "closed"
    assert timeline["timeline"]["en_route_s"] == t0
    assert timeline["timeline"]["on_scene_s"] == t0 + 40
    kinds = [e["kind"] for e in timeline["events"]]
    assert kinds[0] == "call_created" and "unit_assigned" in kinds and "call_closed" in kinds
    changed = [e for e in timeline["events"] if e["kind"] == "unit_status_changed"]
    assert changed[0]["data"]["device_at_s"] == t0  # server keeps device time beside its own
    assert changed[0]["at_s"] > t0 + 90
    kpi = client.get("/api/v1/kpi").json()
    assert kpi["calls_today"] == 1 and kpi["responses"] == 1
    assert kpi["mean_response_s"] == timeline["intervals"]["response_s"]
    assert kpi["p90_response_s"] == kpi["mean_response_s"]


def test_update_call_and_hospital_override(client: TestClient) -> None:
    call_id = new_call(client)["call"]["call_id"]
    res = client.patch(
        f"/api/v1/calls/{call_id}", json={"priority": "P2", "pin": point(*PIN_SOUTH)}
    )
    assert res.status_code == 200 and res.json()["priority"] == "P2"
    assert res.json()["pin"] == point(*PIN_SOUTH)
    hospitals = client.get("/api/v1/hospitals").json()["features"]
    chosen = hospitals[-1]["properties"]["hospital_id"]
    res = client.post(f"/api/v1/calls/{call_id}/hospital", json={"hospital_id": chosen})
    assert res.status_code == 200 and res.json()["hospital_id"] == chosen
    assert res.json()["hospital_overridden"] is True
    res = client.post(f"/api/v1/calls/{call_id}/hospital", json={"hospital_id": "nope"})
    assert res.status_code == 404


def test_map_data_and_street_search(client: TestClient) -> None:
    network = client.get("/api/v1/network")
    assert network.headers["content-type"].startswith("application/geo+json")
    features = network.json()["features"]
    assert len(features) > 100 and features[0]["geometry"]["type"] == "LineString"
    hits = client.get("/api/v1/streets", params={"q": "phan chu trinh"}).json()
    assert any(h["name"].endswith("Phan Chu Trinh") for h in hits)
    lon, lat = hits[0]["location"]["coordinates"]
    assert 105.8 < lon < 105.9 and 21.0 < lat < 21.1
    assert ["query", "q"] in loc_of(client.get("/api/v1/streets"))
    stations = client.get("/api/v1/stations").json()["features"]
    assert {f["properties"]["station_id"] for f in stations} == {"hq", "north", "west"}
    assert client.get("/api/v1/hospitals").json()["features"]
    units = client.get("/api/v1/units").json()["features"]
    assert len(units) == 4 and units[0]["geometry"]["type"] == "Point"
    config = client.get("/api/v1/config").json()
    assert (
        config["protocol_version"] == 1 and config["attribution"] == "© OpenStreetMap contributors"
    )


def test_route_endpoint(client: TestClient) -> None:
    body = {"origin": point(*PIN_HOAN_KIEM), "destination": point(*PIN_SOUTH)}
    feature = client.post("/api/v1/routes", json=body).json()
    props = feature["properties"]
    assert props["reachable"] and props["distance_m"] > 500 and props["duration_s"] > 60
    first = feature["geometry"]["coordinates"][0]
    assert abs(first[0] - PIN_HOAN_KIEM[0]) < 0.003 and abs(first[1] - PIN_HOAN_KIEM[1]) < 0.003
    res = client.post("/api/v1/routes", json={**body, "destination": point(106.5, 21.5)})
    assert ["body", "destination"] in loc_of(res)


def test_pages_openapi_and_leaflet_are_served(client: TestClient) -> None:
    assert "dispatcher.js" in client.get("/").text
    assert "crew.js" in client.get("/crew").text
    leaflet = client.get("/static/vendor/leaflet/leaflet.js")
    assert leaflet.status_code == 200 and "Leaflet" in leaflet.text[:2000]
    paths = client.get("/openapi.json").json()["paths"]
    expected = ["/api/v1/calls", "/api/v1/calls/{call_id}/assign", "/api/v1/network",
                "/api/v1/units/{unit_id}/status", "/api/v1/units/{unit_id}/position",
                "/api/v1/routes"]  # fmt: skip
    assert set(expected) <= set(paths)


def test_idempotency_key_returns_the_same_call(client: TestClient) -> None:
    body = {"pin": point(*PIN_HOAN_KIEM), "priority": "P3"}
    headers = {"Idempotency-Key": "retry-1"}
    first = client.post("/api/v1/calls", json=body, headers=headers)
    again = client.post("/api/v1/calls", json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["call"]["call_id"] == again.json()["call"]["call_id"]
    assert len(client.get("/api/v1/calls").json()) == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/api/v1/calls?since_s=abc", None, 422),
        ("GET", "/api/v1/calls?since_s=nan", None, 422),
        ("GET", "/api/v1/streets?q=%00%ff", None, 200),
        ("GET", "/api/v1/streets?q=x&limit=0", None, 422),
        ("PATCH", "/api/v1/calls/none", {}, 404),
        ("POST", "/api/v1/calls", {"pin": {"type": "LineString", "coordinates": [1, 2]}}, 422),
        ("POST", "/api/v1/calls", {"pin": {"type": "Point", "coordinates": ["a", "b"]}}, 422),
        ("POST", "/api/v1/calls", [], 422),
        ("POST", "/api/v1/units/hq-A1/status", {"status": "transporting", "hospital_id": "x"}, 404),
        ("POST", "/api/v1/units/hq-A1/position", {"position": {"coordinates": [0, 0]}}, 200),
        (
            "POST",
            "/api/v1/units/hq-A1/position",
            {"position": {"coordinates": [0, 0]}, "speed_kph": -1},
            422,
        ),
        (
            "POST",
            "/api/v1/routes",
            {"origin": point(*PIN_SOUTH), "destination": point(*PIN_SOUTH)},
            200,
        ),
    ],
)
def test_odd_input_is_never_a_server_error(
    client: TestClient, method: str, path: str, body: Any, status: int
) -> None:
    res = client.request(method, path, json=body)
    assert res.status_code == status, res.text
