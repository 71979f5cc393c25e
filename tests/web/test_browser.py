"""Browser tests: Debian's Chromium driven by Playwright against a real server.

A dispatcher creates a call from a street search, sees the ranked recommendations and assigns;
the crew tablet receives the job, acknowledges, goes en route and on scene; the dispatcher map
shows each change. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.web.conftest import PIN_HOAN_KIEM, LiveServer, shot

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_dispatch_to_crew_round_trip(browser: Any, serve: Callable[..., LiveServer]) -> None:
    server = serve()
    desk = browser.new_page(viewport={"width": 1400, "height": 900})
    desk.add_init_script(f"sessionStorage.setItem('h115.token', '{server.token()}')")
    errors: list[str] = []
    desk.on("pageerror", lambda exc: errors.append(str(exc)))
    desk.goto(server.base + "/")
    desk.wait_for_selector("#conn.on")
    desk.wait_for_selector("#units li[data-unit='hq-A1']")
    assert (
        desk.locator(".leaflet-control-attribution")
        .inner_text()
        .strip()
        .endswith("© OpenStreetMap contributors")
    )
    assert desk.locator("h1").inner_text() == "Điều phối cấp cứu 115 Hà Nội"  # Vietnamese first

    desk.fill("#address", "phan chu trinh")  # no diacritics, lower case
    first_hit = desk.locator("#street-results li").first
    first_hit.wait_for()
    assert "Phan Chu Trinh" in first_hit.inner_text()
    first_hit.click()
    assert desk.locator("#pin-text").inner_text() != "—"
    desk.select_option("#priority", "P1")
    desk.fill("#complaint", "Khó thở")
    desk.fill("#phone", "0912345678")
    desk.click("#create-call")
    rows = desk.locator("#recommendations tr")
    rows.first.wait_for()
    assert rows.count() == 4
    unit_id = rows.first.get_attribute("data-unit")
    assert rows.first.locator(".eta").inner_text().count(":") == 1  # an m:ss ETA
    assert rows.first.locator(".type").inner_text() == "Xe cứu thương"  # the kind of unit
    shot(desk, "1-dispatcher-recommendations")
    rows.first.locator("button.assign").click()
    desk.wait_for_selector(f"#units li[data-unit='{unit_id}'][data-status='dispatched']")
    desk.wait_for_selector(f"#units li[data-unit='{unit_id}'] .ack-timer")
    desk.wait_for_function(f"window.h115.layers.routes.has('{unit_id}')")  # the job's route
    shot(desk, "2-dispatcher-assigned")

    crew = browser.new_page(viewport={"width": 1100, "height": 800}, has_touch=True)
    crew.add_init_script(f"localStorage.setItem('h115.token', '{server.token('crew', unit_id)}')")
    crew.on("pageerror", lambda exc: errors.append(str(exc)))
    crew.goto(f"{server.base}/crew?simulated=1")  # the token names the unit
    crew.wait_for_selector(".job-address")
    assert crew.locator("#unit-name").inner_text().endswith(str(unit_id))
    assert crew.locator(".job-priority").inner_text() == "P1"
    assert "Phan Chu Trinh" in crew.locator(".job-address").inner_text()
    crew.locator("#turns li").first.wait_for()
    # A new job rings (tone, vibration, flashing header) until the crew acknowledges it.
    crew.wait_for_function("window.h115.alarm.active && window.h115.alarm.rings >= 1")
    assert "alerting" in (crew.locator("body").get_attribute("class") or "")
    shot(crew, "3-crew-job")

    crew.click("[data-action='acknowledge']")
    assert crew.evaluate("window.h115.alarm.active") is False
    assert "alerting" not in (crew.locator("body").get_attribute("class") or "")
    desk.wait_for_selector(f"#units li[data-unit='{unit_id}'] .ack-timer", state="detached")
    crew.click("[data-action='en_route']")
    desk.wait_for_selector(f"#units li[data-unit='{unit_id}'][data-status='en_route']")
    crew.click("[data-action='on_scene']")
    desk.wait_for_selector(f"#units li[data-unit='{unit_id}'][data-status='on_scene']")
    crew.wait_for_selector("#status-now[data-status='on_scene']")
    marker = desk.locator(f".leaflet-marker-icon[data-unit='{unit_id}']")
    assert marker.get_attribute("data-status") == "on_scene"
    shot(crew, "4-crew-on-scene")
    shot(desk, "5-dispatcher-on-scene")

    desk.select_option("#lang", "en")  # English switchable
    assert desk.locator("h1").inner_text() == "Hanoi 115 dispatch"
    assert errors == []


def test_crew_actions_queue_offline_and_keep_their_time(
    browser: Any, serve: Callable[..., LiveServer]
) -> None:
    import httpx

    server = serve()
    server.app.state.security.users.create(
        "crew-north", "correct horse battery", role="crew", unit_id="north-A1"
    )
    with httpx.Client(base_url=server.base, headers=server.headers()) as http:
        body = {"pin": {"type": "Point", "coordinates": [105.8522, 21.0285]}, "priority": "P2",
                "address_text": "Hàng Bài"}  # fmt: skip
        call_id = http.post("/api/v1/calls", json=body).json()["call"]["call_id"]
        assert http.post(f"/api/v1/calls/{call_id}/assign", json={"unit_id": "north-A1"}).is_success
    context = browser.new_context()
    crew = context.new_page()
    crew.goto(f"{server.base}/crew?simulated=1")
    crew.fill("#username", "crew-north")  # sign in as the unit's crew
    crew.fill("#password", "correct horse battery")
    crew.click("#signin-button")
    crew.wait_for_selector(".job-address")
    context.set_offline(True)
    pressed_s = crew.evaluate("Date.now() / 1000")
    crew.click("[data-action='en_route']")
    crew.wait_for_selector("#outbox[data-count='1']")
    stored = crew.evaluate("JSON.parse(localStorage.getItem('h115.outbox.north-A1'))")
    assert stored[0]["action"] == "en_route" and abs(stored[0]["device_time_s"] - pressed_s) < 2
    with httpx.Client(base_url=server.base, headers=server.headers()) as http:
        assert http.get("/api/v1/units/north-A1").json()["status"] == "dispatched"
    crew.wait_for_timeout(1500)  # some time passes before the connection returns
    context.set_offline(False)
    crew.evaluate("window.h115.flush()")
    crew.wait_for_selector("#outbox[data-count='0']", state="attached")
    with httpx.Client(base_url=server.base, headers=server.headers()) as http:
        assert http.get("/api/v1/units/north-A1").json()["status"] == "en_route"
        timeline = http.get(f"/api/v1/calls/{call_id}/timeline").json()
    change = next(e for e in timeline["events"] if e["kind"] == "unit_status_changed")
    assert change["data"]["device_at_s"] == pytest.approx(stored[0]["device_time_s"])
    assert change["at_s"] - change["data"]["device_at_s"] >= 1.0  # server time recorded apart
    shot(crew, "6-crew-after-offline")
    context.close()


def test_dispatcher_hears_a_job_the_crew_has_not_acknowledged(
    browser: Any, serve: Callable[..., LiveServer]
) -> None:
    server = serve(ack_alert_s=1.0)
    pin = {"type": "Point", "coordinates": list(PIN_HOAN_KIEM)}
    res = httpx.post(
        f"{server.base}/api/v1/calls",
        json={"address_text": "Hàng Bài", "pin": pin, "priority": "P1"},
        headers=server.headers(),
        timeout=30,
    )
    call_id = res.json()["call"]["call_id"]
    desk = browser.new_page(viewport={"width": 1400, "height": 900})
    desk.add_init_script(f"sessionStorage.setItem('h115.token', '{server.token()}')")
    desk.goto(server.base + "/")
    desk.wait_for_selector("#conn.on")
    assert desk.evaluate("window.h115.alarm.active") is False  # nothing waits for a crew yet
    res = httpx.post(
        f"{server.base}/api/v1/calls/{call_id}/assign",
        json={"unit_id": "hq-A1"},
        headers=server.headers(),
        timeout=30,
    )
    assert res.status_code == 200, res.text
    desk.wait_for_selector("#units li[data-unit='hq-A1'].ack-overdue", timeout=10_000)
    desk.wait_for_function("window.h115.alarm.active && window.h115.alarm.rings >= 1")
    desk.click("#units li[data-unit='hq-A1']")  # the dispatcher is on it: silence this one
    assert desk.evaluate("window.h115.alarm.active") is False
    desk.wait_for_timeout(1500)  # the lists re-render every second; it stays silent
    assert desk.evaluate("window.h115.alarm.active") is False
    assert desk.locator("#units li[data-unit='hq-A1'].ack-overdue").count() == 1
    res = httpx.post(
        f"{server.base}/api/v1/units/hq-A1/ack",
        json={},
        headers=server.headers("crew", "hq-A1"),
        timeout=30,
    )
    assert res.status_code == 200 and res.json()["acknowledged"], res.text
    desk.wait_for_function("!window.h115.alarm.active", timeout=5_000)
    assert desk.locator("#units li.ack-overdue").count() == 0
