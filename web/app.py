"""The FastAPI app factory: REST API, websocket hub, pages; wired to the dispatch service.

`create_app(settings)` builds everything when the app starts (lifespan), never at import:
the road graph (unless a `router` is passed), the database (migrated) and the dispatch
service (unless a `service` is passed), the hub subscribed to the service's committed events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xstatic.pkg.leaflet as xs_leaflet
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from dispatch import events as ev
from web import errors, live, protocol
from web.context import Context
from web.hub import Hub
from web.positions import PositionWriter
from web.security.install import install_security

if TYPE_CHECKING:
    from dispatch.service import DispatchService
    from routing.engine import Router
    from web.settings import Settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
API_VERSION = "1.0.0"


def create_app(
    settings: Settings,
    *,
    router: Router | None = None,
    service: DispatchService | None = None,
    demo: bool = False,
) -> FastAPI:
    """The app; `router` and `service` default to those the settings describe."""
    from web import routes_calls, routes_geo, routes_live, routes_planner, routes_units

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = await asyncio.to_thread(build_context, settings, router, service, demo)
        app.state.ctx = ctx
        unsubscribe = await start_hub(ctx)
        ctx.positions.start()
        runner = None
        if demo:
            from web.demo import DemoRunner

            runner = DemoRunner(ctx)
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                await runner.stop()
            await asyncio.to_thread(ctx.positions.stop)
            unsubscribe()
            await ctx.hub.stop()

    app = FastAPI(
        title="hanoi115 live service",
        version=API_VERSION,
        summary="Hanoi 115 ambulance dispatch: calls, units, recommendations, routes, live hub.",
        lifespan=lifespan,
    )
    errors.install(app)
    install_security(app, settings)  # access control, audit, metrics, probes, NOTIFY

    @app.middleware("http")
    async def requests_first(request: Request, call_next: Any) -> Response:
        ctx: Context | None = getattr(request.app.state, "ctx", None)
        if ctx is None or not request.url.path.startswith("/api/"):
            response: Response = await call_next(request)
            return response
        with ctx.positions.priority():
            response = await call_next(request)
        return response

    for module in (routes_calls, routes_units, routes_geo, routes_live, routes_planner):
        app.include_router(module.router)
    app.mount("/static/vendor/leaflet", StaticFiles(directory=xs_leaflet.BASE_DIR), name="leaflet")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def build_context(
    settings: Settings,
    router: Router | None,
    service: DispatchService | None,
    demo: bool,
) -> Context:
    """Load the graph and open the service (blocking: runs in a worker thread)."""
    if router is None:
        from web.commands import load_router

        router = load_router(settings)
    bounds = graph_bounds(router)
    if service is None:
        service = open_service(settings, router, bounds)
    hub = Hub(
        snapshot_fn=lambda: snapshot(ctx),
        replay_fn=lambda after, limit: [
            live.event_message(s) for s in service.events_since(after)[:limit]
        ],
        ring_size=settings.ws_ring_size,
        max_replay=settings.ws_max_replay,
        queue_max=settings.ws_queue_max,
        heartbeat_timeout_s=settings.heartbeat_timeout_s,
    )
    acks = live.AckTracker()
    ctx = Context(
        settings=settings,
        router=router,
        service=service,
        hub=hub,
        acks=acks,
        stations=service.stations,
        hospitals=service.hospitals,
        bounds=bounds,
        positions=PositionWriter(service),
        demo=demo,
    )
    return ctx


def graph_bounds(router: Router) -> tuple[float, float, float, float]:
    """west, south, east, north of the road graph's nodes."""
    lonlat = router.node_lonlat
    west, south = (float(v) for v in lonlat.min(axis=0))
    east, north = (float(v) for v in lonlat.max(axis=0))
    return west, south, east, north


def open_service(
    settings: Settings, router: Router, bounds: tuple[float, float, float, float]
) -> DispatchService:
    """Migrate and open the database; load stations, fleet and hospitals; start the service."""
    from dispatch.repository import SqlRepository
    from dispatch.service import DispatchService
    from routing.places import place_file
    from stations.loaders import load_fleet, load_hospitals, load_stations

    stations = load_stations(settings.stations_file)
    fleet = load_fleet(stations, settings.fleet_file)
    margin = 0.01
    hospitals = load_hospitals(
        settings.hospitals_file or place_file(router, "hospitals"),
        bbox=(bounds[0] - margin, bounds[1] - margin, bounds[2] + margin, bounds[3] + margin),
    )
    repo = SqlRepository.open(settings.database_url, migrate=True)
    return DispatchService(repo, router, stations=stations, fleet=fleet, hospitals=hospitals)


def snapshot(ctx: Context) -> tuple[int, dict[str, Any]]:
    """The live state for a websocket snapshot (no personal data), with pending acks.

    Built once per seq and shared (a shallow copy each): hundreds of clients reconnecting at
    once (a server restart, a network blip) would otherwise each take the service's lock and
    read the log, queueing every dispatcher's command behind them."""
    cached = ctx.cache.get("snapshot")
    if cached is None or cached[0] != ctx.service.state.last_seq:
        view = ctx.service.snapshot(include_personal=False)
        state = {
            "units": [live.geojsonify(u) for u in view["units"]],
            "calls": [live.geojsonify(c) for c in view["calls"]],
            "queue": view["queue"],
            "acks": ctx.acks.pending(),
        }
        cached = ctx.cache["snapshot"] = (int(view["seq"]), state)
    return cached[0], dict(cached[1])


async def start_hub(ctx: Context) -> Any:
    """Start the hub after the current seq and subscribe it to committed events."""
    from web.routes_calls import advise_new_calls

    ctx.acks.rebuild(ctx.service.state)
    await ctx.hub.start(last_seq=ctx.service.state.last_seq)
    hub = ctx.hub

    def on_commit(stored: Sequence[ev.StoredEvent]) -> None:
        """After each commit, in the committing thread: one hub hand-off for the whole
        batch (with the recommendation of any new call), acknowledgement timers updated."""
        ctx.acks.observe(stored, ctx.service.state)
        messages = [live.event_message(item) for item in stored]
        hub.publish_many_threadsafe(messages + advise_new_calls(ctx, stored))

    ctx.hub.on_message = _crew_messages(ctx)
    return ctx.service.subscribe(on_commit)


def _crew_messages(ctx: Context) -> Any:
    """Handle client messages beyond heartbeats: AVL positions from crew devices."""
    from web.routes_units import position_from_socket

    async def handle(client: Any, message: dict[str, Any]) -> dict[str, Any] | None:
        if message["type"] == "position" and client.role == "crew" and client.unit_id:
            return await position_from_socket(ctx, client.unit_id, message)
        return protocol.error(code="unknown_type", message=f"unknown type {message['type']!r}")

    return handle
