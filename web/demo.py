"""`hanoi115 serve --demo`: simulated crews that drive their routes, and a synthetic call stream.

Every simulated action goes through the same `DispatchService` commands as the REST API, so
the map, the hub and the event log see a living system. Crews acknowledge, drive along the
road geometry (`Router.position_along`), go on scene, transport to the chosen hospital and
return. A synthetic dispatcher assigns the best recommendation of a call left waiting. A unit
whose crew tablet is connected is left to its humans for every status change; the demo only
drives it (its "simulated position") while it is on the road.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from dispatch.errors import DispatchError
from dispatch.model import EventSource, Point, Priority, UnitStatus
from routing.errors import RoutingError
from routing.routes import Route
from web.context import Context
from web.routes_units import acknowledge_job

log = logging.getLogger(__name__)
ACTOR = "demo"
COMPLAINTS = ("Khó thở", "Đau ngực", "Tai nạn giao thông", "Ngã, chấn thương đầu",
              "Sốt cao, co giật", "Bất tỉnh", "Đột quỵ", "Chuyển dạ")  # fmt: skip
PRIORITY_MIX = ((Priority.P1, 0.2), (Priority.P2, 0.35), (Priority.P3, 0.3), (Priority.P4, 0.15))
S = UnitStatus
ON_THE_ROAD = frozenset({S.EN_ROUTE, S.TRANSPORTING, S.RETURNING})


@dataclass
class Trip:
    """A unit driving a route that started at `started_s`."""

    route: Route
    started_s: float
    arrive_status: UnitStatus | None  # status to set on arrival (None: nothing)
    status: UnitStatus | None = None  # the unit status the trip belongs to (tablet units)
    parked: bool = False  # a tablet unit's trip that has arrived


class DemoRunner:
    """Drives every unit not operated by a connected crew device; 1 s ticks."""

    def __init__(self, ctx: Context, *, seed: int = 115, tick_s: float = 1.0) -> None:
        self.ctx = ctx
        self.rng = random.Random(seed)
        self.tick_s = tick_s
        self.trips: dict[str, Trip] = {}
        self.waits: dict[str, float] = {}  # unit_id -> time its next step is due
        self.next_call_s = time.time() + 5.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await asyncio.to_thread(self.tick, time.time())
            except Exception:  # a demo hiccup must not stop the demo; it is logged, not hidden
                log.exception("demo tick failed")

    # ----- one tick ------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Advance every simulated unit, maybe create a call, assign calls left waiting."""
        if now >= self.next_call_s:
            self.create_call(now)
            rate_per_s = max(self.ctx.settings.demo_calls_per_hour, 0.1) / 3600.0
            self.next_call_s = now + self.rng.expovariate(rate_per_s)
        self.assign_waiting(now)
        for unit in list(self.ctx.service.state.units.values()):
            try:
                if self.ctx.hub.presence.is_connected(unit.unit_id):
                    self.drive_only(unit.unit_id, unit.status, now)
                else:
                    self.step_unit(unit.unit_id, unit.status, now)
            except (DispatchError, RoutingError) as exc:
                log.info("demo: unit %s: %s", unit.unit_id, exc)
                self.trips.pop(unit.unit_id, None)

    def drive_only(self, unit_id: str, status: UnitStatus, now: float) -> None:
        """A crew with a tablet: statuses are theirs; the demo moves the vehicle on the road."""
        trip = self.trips.get(unit_id)
        if status not in ON_THE_ROAD:
            self.trips.pop(unit_id, None)
            return
        if trip is None or trip.status != status:
            self.start_trip(unit_id, None, now)
            if unit_id in self.trips:
                self.trips[unit_id].status = status
            return
        if trip.parked:
            return
        elapsed_s = now - trip.started_s
        trip.parked = elapsed_s >= trip.route.duration_s  # arrived: the crew says what next
        lon, lat = self.ctx.router.position_along(trip.route, elapsed_s)
        self.ctx.service.report_position(
            unit_id, Point(lon, lat), actor=ACTOR, source=EventSource.SIMULATOR
        )

    def step_unit(self, unit_id: str, status: UnitStatus, now: float) -> None:
        if status == S.EN_ROUTE and unit_id in self.ctx.acks.pending():
            self.take_diversion(unit_id, now)
            return
        trip = self.trips.get(unit_id)
        if trip is not None:
            self.drive(unit_id, trip, now)
            return
        due = self.waits.get(unit_id)
        if status in (S.DISPATCHED, S.ON_SCENE, S.AT_HOSPITAL) and due is None:
            self.waits[unit_id] = now + self.rng.uniform(*self._pause(status))
            return
        if due is not None and now < due:
            return
        self.waits.pop(unit_id, None)
        service = self.ctx.service
        if status == S.DISPATCHED:
            acknowledge_job(self.ctx, unit_id)
            service.change_unit_status(
                unit_id, S.EN_ROUTE, actor=ACTOR, source=EventSource.SIMULATOR
            )
            self.start_trip(unit_id, S.ON_SCENE, now)
        elif status == S.ON_SCENE:
            service.change_unit_status(
                unit_id, S.TRANSPORTING, actor=ACTOR, source=EventSource.SIMULATOR
            )
            self.start_trip(unit_id, S.AT_HOSPITAL, now)
        elif status == S.AT_HOSPITAL:
            service.change_unit_status(
                unit_id, S.RETURNING, actor=ACTOR, source=EventSource.SIMULATOR
            )
            self.start_trip(unit_id, S.AVAILABLE_AT_STATION, now)

    def take_diversion(self, unit_id: str, now: float) -> None:
        """A unit en route was diverted to a more urgent call: acknowledge, then head there."""
        due = self.waits.setdefault(unit_id, now + self.rng.uniform(3.0, 8.0))
        if now < due:
            return
        del self.waits[unit_id]
        acknowledge_job(self.ctx, unit_id)
        self.trips.pop(unit_id, None)
        self.start_trip(unit_id, S.ON_SCENE, now)

    def _pause(self, status: UnitStatus) -> tuple[float, float]:
        return {S.DISPATCHED: (3.0, 8.0), S.ON_SCENE: (15.0, 30.0)}.get(status, (8.0, 15.0))

    def start_trip(self, unit_id: str, arrive_status: UnitStatus | None, now: float) -> None:
        unit = self.ctx.service.get_unit(unit_id)
        dest = self._destination(unit_id)
        if dest is None:
            return
        router = self.ctx.router
        route = router.route(
            router.snap(unit.position.lon, unit.position.lat),
            router.snap(dest.lon, dest.lat),
            at_s=now,
        )
        if route is not None:
            self.trips[unit_id] = Trip(route=route, started_s=now, arrive_status=arrive_status)

    def _destination(self, unit_id: str) -> Point | None:
        unit = self.ctx.service.get_unit(unit_id)
        if unit.status == S.RETURNING:
            return unit.home
        if unit.call_id is None:
            return None
        call = self.ctx.service.get_call(unit.call_id)
        if unit.status == S.TRANSPORTING:
            hospital_id = unit.hospital_id or call.hospital_id
            hospitals = {h.hospital_id: h for h in self.ctx.hospitals}
            return hospitals[hospital_id].point if hospital_id in hospitals else None
        return call.pin

    def drive(self, unit_id: str, trip: Trip, now: float) -> None:
        """Report the position along the route; on arrival set the arrival status."""
        elapsed_s = now - trip.started_s
        lon, lat = self.ctx.router.position_along(trip.route, elapsed_s)
        service = self.ctx.service
        unit = service.report_position(
            unit_id, Point(lon, lat), actor=ACTOR, source=EventSource.SIMULATOR
        )
        if elapsed_s < trip.route.duration_s:
            return
        del self.trips[unit_id]
        target = trip.arrive_status
        if target is not None and unit.status != target:
            service.change_unit_status(unit_id, target, actor=ACTOR, source=EventSource.SIMULATOR)

    # ----- synthetic calls and dispatcher ----------------------------------------------------
    def create_call(self, now: float) -> None:
        router = self.ctx.router
        nodes = router.node_lonlat
        lon, lat = (float(v) for v in nodes[self.rng.randrange(len(nodes))])
        try:
            street = router.snap(lon, lat).street or "?"
        except RoutingError:
            return
        number = self.rng.randint(1, 120)
        self.ctx.service.create_call(
            actor=ACTOR,
            caller_phone=f"09{self.rng.randint(10_000_000, 99_999_999)}",
            address_text=f"{number} {street}",
            pin=Point(lon, lat),
            complaint=self.rng.choice(COMPLAINTS),
            priority=self._priority(),
            source=EventSource.SIMULATOR,
        )

    def _priority(self) -> Priority:
        x = self.rng.random()
        for priority, share in PRIORITY_MIX:
            if x < share:
                return priority
            x -= share
        return Priority.P4

    def assign_waiting(self, now: float, *, after_s: float = 20.0) -> None:
        """A synthetic dispatcher: a call waiting longer than `after_s` gets its best unit."""
        service = self.ctx.service
        for call in service.queue():
            if now - call.received_s < after_s:
                continue
            best = service.recommend(call.call_id).best
            if best is None:
                continue
            with contextlib.suppress(DispatchError):
                service.assign(
                    call.call_id, best.unit_id, actor=ACTOR, source=EventSource.SIMULATOR
                )

    def describe(self) -> dict[str, Any]:
        return {"trips": sorted(self.trips), "waiting": sorted(self.waits)}
