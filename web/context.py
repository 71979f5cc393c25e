"""What every request handler needs, created once per app (no global state at import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request, WebSocket

if TYPE_CHECKING:
    from dispatch.service import DispatchService
    from routing.engine import Router
    from stations.models import Hospital, Station
    from web.hub import Hub
    from web.live import AckTracker
    from web.positions import PositionWriter
    from web.settings import Settings


@dataclass
class Context:
    """The app's collaborators: settings, road graph, dispatch service, hub, reference data."""

    settings: Settings
    router: Router
    service: DispatchService
    hub: Hub
    acks: AckTracker
    stations: list[Station]
    hospitals: list[Hospital]
    bounds: tuple[float, float, float, float]  # west, south, east, north of the road graph
    positions: PositionWriter
    demo: bool = False
    cache: dict[str, Any] = field(default_factory=dict)


def get_context(request: Request) -> Context:
    """FastAPI dependency: the app's context."""
    ctx: Context = request.app.state.ctx
    return ctx


def ws_context(websocket: WebSocket) -> Context:
    """The app's context from a websocket connection."""
    ctx: Context = websocket.app.state.ctx
    return ctx
