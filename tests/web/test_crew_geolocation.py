"""The crew tablet reports the device's own position (browser geolocation), thinned: a fix
when the ambulance has moved, or every few seconds, not every GPS tick of a parked unit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.web.conftest import PIN_HOAN_KIEM, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.server]
M_PER_DEG_LAT = 110_574.0


def _position(server: LiveServer, unit_id: str) -> tuple[float, float]:
    res = httpx.get(f"{server.base}/api/v1/units/{unit_id}", headers=server.headers(), timeout=10)
    assert res.status_code == 200, res.text
    lon, lat = res.json()["position"]["coordinates"]
    return float(lon), float(lat)


def _stored_at(server: LiveServer, unit_id: str, lon: float, lat: float, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while _position(server, unit_id) != pytest.approx((lon, lat), abs=1e-7):
        assert time.monotonic() < deadline, f"{unit_id} never reported {lon}, {lat}"
        time.sleep(0.1)


def test_crew_tablet_sends_its_geolocation_thinned(
    browser: Any, serve: Callable[..., LiveServer]
) -> None:
    server = serve()
    lon, lat = PIN_HOAN_KIEM
    context = browser.new_context(
        geolocation={"longitude": lon, "latitude": lat, "accuracy": 5},
        permissions=["geolocation"],
    )
    crew = context.new_page()
    crew.add_init_script(f"localStorage.setItem('h115.token', '{server.token('crew', 'hq-A1')}')")
    crew.goto(f"{server.base}/crew")  # a real device: no ?simulated, not a demo server
    crew.wait_for_selector("#conn.on")
    _stored_at(server, "hq-A1", lon, lat, limit_s=10)
    assert crew.evaluate("window.h115.fixesSent()") == 1

    jitter = lat + 5 / M_PER_DEG_LAT  # 5 m of GPS noise, a second later: not worth a row
    context.set_geolocation({"longitude": lon, "latitude": jitter, "accuracy": 5})
    crew.wait_for_timeout(1000)
    assert crew.evaluate("window.h115.fixesSent()") == 1
    assert _position(server, "hq-A1") == pytest.approx((lon, lat), abs=1e-7)

    moved = lat + 120 / M_PER_DEG_LAT  # 120 m up the street: sent at once
    context.set_geolocation({"longitude": lon, "latitude": moved, "accuracy": 5})
    _stored_at(server, "hq-A1", lon, moved, limit_s=10)
    assert crew.evaluate("window.h115.fixesSent()") == 2
    context.close()
