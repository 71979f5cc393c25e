"""Websocket snapshots are built once per seq and shared, and never go stale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from dispatch.model import Point
from web.app import create_app, snapshot
from web.settings import Settings


def test_snapshot_is_shared_until_the_next_commit(
    make_settings: Callable[..., Settings], hoankiem_router: Any
) -> None:
    app = create_app(make_settings(), router=hoankiem_router)
    with TestClient(app):
        ctx = app.state.ctx
        built: list[int] = []
        service = ctx.service

        class Counting:
            """The service, counting the snapshots built (its class may be compiled: no
            patching of its methods)."""

            def __getattr__(self, name: str) -> Any:
                return getattr(service, name)

            def snapshot(self, **kwargs: Any) -> dict[str, Any]:
                view: dict[str, Any] = service.snapshot(**kwargs)
                built.append(view["seq"])
                return view

        ctx.service = Counting()
        ctx.cache.pop("snapshot", None)
        seq, first = snapshot(ctx)
        first["presence"] = {"x": 1}  # the hub adds presence to its copy
        again_seq, again = snapshot(ctx)
        assert (again_seq, built) == (seq, [seq]) and "presence" not in again
        assert again["units"] == first["units"]
        service.report_position("hq-A1", Point(105.851, 21.029), actor="crew:hq-A1")
        new_seq, moved = snapshot(ctx)
        assert new_seq == seq + 1 and built == [seq, seq + 1]
        unit = next(u for u in moved["units"] if u["unit_id"] == "hq-A1")
        assert unit["position"]["coordinates"] == [105.851, 21.029]
