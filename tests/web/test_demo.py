"""`serve --demo`: simulated crews drive their routes along the road geometry; `serve` errors."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dispatch.model import CallStatus, UnitStatus
from web.app import create_app
from web.cli import main as hanoi115
from web.demo import DemoRunner
from web.settings import Settings


def test_demo_crews_drive_their_routes(
    make_settings: Callable[..., Settings], hoankiem_router: Any
) -> None:
    app = create_app(make_settings(demo_calls_per_hour=0.1), router=hoankiem_router)
    with TestClient(app):
        ctx = app.state.ctx
        service = ctx.service
        runner = DemoRunner(ctx, seed=3)
        t0 = time.time()
        runner.next_call_s = t0
        runner.tick(t0)  # a synthetic call
        (call,) = service.queue()
        assert call.priority is not None and call.address_text
        runner.tick(t0 + 25)  # left waiting 20 s: the synthetic dispatcher assigns the best
        call = service.get_call(call.call_id)
        assert call.status == CallStatus.ASSIGNED and call.unit_id is not None
        unit_id = call.unit_id
        assert service.get_unit(unit_id).status == UnitStatus.DISPATCHED
        runner.tick(t0 + 26)  # the crew takes a few seconds to acknowledge
        runner.tick(t0 + 40)
        assert service.get_unit(unit_id).status == UnitStatus.EN_ROUTE
        assert unit_id not in ctx.acks.pending()
        trip = runner.trips[unit_id]
        halfway = trip.route.duration_s / 2
        runner.tick(trip.started_s + halfway)
        unit = service.get_unit(unit_id)
        expected = hoankiem_router.position_along(trip.route, halfway)
        assert math.isclose(unit.position.lon, expected[0], abs_tol=1e-9)
        assert math.isclose(unit.position.lat, expected[1], abs_tol=1e-9)
        assert (unit.position.lon, unit.position.lat) != (unit.home.lon, unit.home.lat)
        runner.tick(trip.started_s + trip.route.duration_s + 1)
        assert service.get_unit(unit_id).status == UnitStatus.ON_SCENE
        assert service.get_call(call.call_id).status == CallStatus.ON_SCENE


def test_serve_without_a_graph_says_how_to_build_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("H115_GRAPH_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.delenv("H115_OSM_FILE", raising=False)
    assert hanoi115(["serve", "--port", "1"]) == 2
    assert "run `hanoi115 graph build`" in capsys.readouterr().err


def test_demo_moves_a_tablet_unit_but_leaves_its_statuses_to_the_crew(
    make_settings: Callable[..., Settings], hoankiem_router: Any
) -> None:
    from dispatch.model import Point, Priority

    app = create_app(make_settings(demo_calls_per_hour=0.1), router=hoankiem_router)
    with TestClient(app):
        ctx = app.state.ctx
        service = ctx.service
        runner = DemoRunner(ctx, seed=5)
        runner.next_call_s = math.inf
        call = service.create_call(
            actor="t", caller_phone="", address_text="x", pin=Point(105.8522, 21.0285),
            priority=Priority.P2,
        )  # fmt: skip
        service.assign(call.call_id, "north-A1", actor="t")
        ctx.hub.presence.beat("north-A1")  # a crew tablet is connected
        t0 = time.time()
        runner.tick(t0 + 60)
        assert service.get_unit("north-A1").status == UnitStatus.DISPATCHED  # not acknowledged
        assert "north-A1" not in runner.trips
        service.change_unit_status("north-A1", UnitStatus.EN_ROUTE, actor="crew")
        runner.tick(t0 + 61)
        trip = runner.trips["north-A1"]
        runner.tick(trip.started_s + trip.route.duration_s / 2)
        unit = service.get_unit("north-A1")
        expected = hoankiem_router.position_along(trip.route, trip.route.duration_s / 2)
        assert (unit.position.lon, unit.position.lat) == pytest.approx(expected)
        assert unit.status == UnitStatus.EN_ROUTE
