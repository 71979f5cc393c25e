"""The AVL writer commits every waiting fix in one transaction, one event per fix, each
published only after that commit."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from fastapi.testclient import TestClient

from dispatch import events as ev
from dispatch.model import Point
from web.app import create_app
from web.positions import Fix
from web.settings import Settings


def test_waiting_fixes_are_committed_together(
    make_settings: Callable[..., Settings], hoankiem_router: Any
) -> None:
    app = create_app(make_settings(), router=hoankiem_router)
    with TestClient(app):
        ctx = app.state.ctx
        service, writer = ctx.service, ctx.positions
        repo = service._repo
        heard: list[list[int]] = []

        def listener(stored: Sequence[ev.StoredEvent]) -> None:
            assert repo.last_seq() >= stored[-1].seq  # committed before anyone hears of it
            heard.append([s.seq for s in stored])

        service.subscribe(listener)
        units = sorted(service.state.units)
        start = service.state.last_seq
        with writer.priority():  # a request in progress: the writer waits, fixes pile up
            for i, unit_id in enumerate(units):
                writer.submit(unit_id, Fix(Point(105.850 + i / 1000, 21.028)))
            writer.submit(units[0], Fix(Point(105.8501, 21.0281), speed_kph=12.0))
            time.sleep(0.2)
            assert service.state.last_seq == start
        deadline = time.monotonic() + 10
        while writer.written < len(units) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (writer.written, writer.batches, writer.superseded) == (len(units), 1, 1)
        stored = service.events_since(start)
        assert heard == [[s.seq for s in stored]]
        assert [s.event.type for s in stored] == ["PositionReported"] * len(units)
        first = next(s.event for s in stored if getattr(s.event, "unit_id", None) == units[0])
        assert isinstance(first, ev.PositionReported)
        assert first.position == Point(105.8501, 21.0281) and first.speed_kph == 12.0
        assert service.state.units[units[0]].position == Point(105.8501, 21.0281)
