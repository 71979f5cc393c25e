"""DispatchService: the application service that the web layer and the simulator both drive.

Every command runs under one lock: catch up with the log (other processes may have
written), decide and emit events (`dispatch.commands`), commit them to the repository, and
only then tell subscribers and return. If the commit fails the state is rolled back and the
error propagates (a ConcurrencyConflict is a 409). The clock is injected: wall time live,
a virtual clock in the simulator; the policy underneath never reads a clock itself.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from dispatch import commands as cmd
from dispatch import policy
from dispatch.avl import PositionFix, record_fixes
from dispatch.errors import ConcurrencyConflict, Conflict, NotFound
from dispatch.livelog import LiveLog
from dispatch.model import (
    Call,
    CancelReason,
    DispatchState,
    EventSource,
    Point,
    Priority,
    Unit,
    UnitStatus,
)
from dispatch.ports import EventRepository, TravelTimes
from dispatch.transitions import Batch, call_of, unit_of
from dispatch.views import snapshot_view
from dispatch.workflow import HospitalChoice, ServiceOptions, Workflow
from stations.models import Hospital, Station, UnitSpec

__all__ = ["DispatchService", "HospitalChoice", "PositionFix", "ServiceOptions"]
T = TypeVar("T")


class DispatchService(LiveLog):
    """Live dispatch state kept equal to the event log; see the module docstring."""

    def __init__(
        self,
        repo: EventRepository,
        travel: TravelTimes,
        *,
        stations: Iterable[Station],
        fleet: Iterable[UnitSpec],
        hospitals: Iterable[Hospital] = (),
        clock: Callable[[], float] = time.time,
        options: ServiceOptions = ServiceOptions(),  # noqa: B008
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:12],
    ) -> None:
        super().__init__(repo)
        self._snaps = policy.SnapCache(travel)
        self._stations = {s.station_id: s for s in stations}
        self._fleet = list(fleet)
        self._turnout = {u.unit_id: u.turnout_s for u in self._fleet}
        self._hospitals = {h.hospital_id: h for h in hospitals}
        self._clock = clock
        self._options = options
        self._new_id = new_id
        self._flow = Workflow(self._snaps, self._turnout, self._hospitals, options)
        # told the seconds each recommendation took (the live service's metrics), if set
        self.recommend_timer: Callable[[float], None] | None = None
        self._register_fleet()

    # -- reading ---------------------------------------------------------------------------

    @property
    def hospitals(self) -> list[Hospital]:
        return list(self._hospitals.values())

    @property
    def stations(self) -> list[Station]:
        return list(self._stations.values())

    def get_call(self, call_id: str) -> Call:
        with self._lock:
            self._catch_up()
            return copy.deepcopy(call_of(self._state, call_id))

    def get_unit(self, unit_id: str) -> Unit:
        with self._lock:
            self._catch_up()
            return copy.deepcopy(unit_of(self._state, unit_id))

    def snapshot(self, *, include_personal: bool = False) -> dict[str, Any]:
        """JSON-ready snapshot (units, open calls, queue, seq) for a client starting up."""
        with self._lock:
            self._catch_up()
            return snapshot_view(self._state, include_personal=include_personal)

    def queue(self) -> list[Call]:
        """Waiting calls in the order they will be served."""
        with self._lock:
            self._catch_up()
            return copy.deepcopy(policy.queue_order(self._state))

    def recommend(self, call_id: str, *, catch_up: bool = True) -> policy.Recommendation:
        """Units ranked by ETA for a call, now. `catch_up=False` skips reading the log first
        (for a commit listener: the state is current, and it must not publish from inside)."""
        timer = self.recommend_timer
        if timer is None:
            return self._recommend(call_id, catch_up)
        started = time.perf_counter()
        try:
            return self._recommend(call_id, catch_up)
        finally:
            timer(time.perf_counter() - started)

    def _recommend(self, call_id: str, catch_up: bool) -> policy.Recommendation:
        with self._lock:
            if catch_up:
                self._catch_up()
            call = call_of(self._state, call_id)
            return policy.recommend(
                self._state,
                call,
                self._snaps,
                at_s=self._clock(),
                turnout_s=self._turnout,
                config=self._options.policy,
            )

    def rank_hospitals(self, call_id: str) -> list[policy.HospitalOption]:
        """Hospitals by ETA from the call's pin, now."""
        with self._lock:
            pin = call_of(self._state, call_id).pin
            ranking = self._flow.ranking
            return policy.rank_hospitals(pin, ranking, self._snaps, at_s=self._clock())

    # -- commands --------------------------------------------------------------------------

    def create_call(
        self,
        *,
        actor: str,
        caller_phone: str,
        address_text: str,
        pin: Point,
        complaint: str = "",
        priority: Priority | None = None,
        notes: str = "",
        caller_device_location: Point | None = None,
        citizen_id: str | None = None,
        source: EventSource = EventSource.DISPATCHER,
        call_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Call:
        """Take a call (the pin must be on the road network: else ValidationError on `pin`).

        With an `idempotency_key` already used, returns the call it created instead.
        """
        if idempotency_key is not None:
            existing = self._repo.call_id_for_idempotency_key(idempotency_key)
            if existing is not None:
                return self.get_call(existing)
        policy.snap_scene(self._snaps, pin)
        new_id = call_id or self._new_id()
        fields = {
            "caller_phone": caller_phone,
            "address_text": address_text,
            "pin": pin,
            "complaint": complaint,
            "priority": priority,
            "notes": notes,
            "caller_device_location": caller_device_location,
            "citizen_id": citizen_id,
        }

        def decide(state: DispatchState, batch: Batch, meta: cmd.Meta) -> Call:
            cmd.create_call(state, batch, meta, call_id=new_id, **fields)  # type: ignore[arg-type]
            return state.calls[new_id]

        return self._command(actor, source, None, decide, idempotency_key=idempotency_key)

    def update_call(
        self,
        call_id: str,
        *,
        actor: str,
        source: EventSource = EventSource.DISPATCHER,
        **changes: Any,
    ) -> Call:
        """Change call details (address_text, pin, complaint, priority, notes, ...)."""
        if changes.get("pin") is not None:
            policy.snap_scene(self._snaps, changes["pin"])

        def decide(state: DispatchState, batch: Batch, meta: cmd.Meta) -> Call:
            cmd.update_call(state, batch, meta, call_id=call_id, changes=changes)
            return state.calls[call_id]

        return self._command(actor, source, None, decide)

    def assign(
        self,
        call_id: str,
        unit_id: str,
        *,
        actor: str,
        source: EventSource = EventSource.DISPATCHER,
        device_at_s: float | None = None,
    ) -> Call:
        """Send a unit (atomic: a unit serves one call; a busy unit is a Conflict, 409).

        A unit driving to a P3/P4 call may be diverted to a P1 when the policy allows it.
        """

        def decide(state: DispatchState, batch: Batch, meta: cmd.Meta) -> Call:
            eta = self._flow.eta(state, unit_id, call_id, meta.at_s)
            cmd.assign(
                state,
                batch,
                meta,
                call_id=call_id,
                unit_id=unit_id,
                eta_s=eta,
                config=self._options.policy,
            )
            return state.calls[call_id]

        return self._command(actor, source, device_at_s, decide)

    def cancel_call(
        self,
        call_id: str,
        *,
        reason: CancelReason,
        actor: str,
        note: str = "",
        source: EventSource = EventSource.DISPATCHER,
    ) -> Call:
        """Cancel with a reason; its unit is stood down and offered the next waiting call."""

        def decide(state: DispatchState, batch: Batch, meta: cmd.Meta) -> Call:
            freed = cmd.cancel_call(state, batch, meta, call_id=call_id, reason=reason, note=note)
            if freed is not None:
                self._flow.suggest(state, batch, meta, freed)
            return state.calls[call_id]

        return self._command(actor, source, None, decide)

    def change_unit_status(
        self,
        unit_id: str,
        to_status: UnitStatus,
        *,
        actor: str,
        source: EventSource = EventSource.CREW,
        device_at_s: float | None = None,
        hospital_id: str | None = None,
    ) -> Unit:
        """A crew or dispatcher status change. Going transporting without a hospital picks the
        nearest suitable one; a unit that becomes free is offered the next waiting call."""
        if hospital_id is not None and hospital_id not in self._hospitals:
            raise NotFound(f"unknown hospital {hospital_id!r}")

        def decide(state: DispatchState, batch: Batch, meta: cmd.Meta) -> Unit:
            self._flow.status(state, batch, meta, unit_id, to_status, hospital_id)
            return state.units[unit_id]

        return self._command(actor, source, device_at_s, decide)

    def report_position(
        self,
        unit_id: str,
        position: Point,
        *,
        actor: str,
        source: EventSource = EventSource.AVL,
        device_at_s: float | None = None,
        speed_kph: float | None = None,
        heading_deg: float | None = None,
    ) -> Unit:
        """An AVL fix; arriving near the pin (hospital) sets on scene (at hospital) if enabled."""

        def decide(state: DispatchState, batch: Batch, meta: cmd.Meta) -> Unit:
            cmd.report_position(
                state,
                batch,
                meta,
                unit_id=unit_id,
                position=position,
                speed_kph=speed_kph,
                heading_deg=heading_deg,
            )
            self._flow.auto_arrive(state, batch, meta, unit_id)
            return state.units[unit_id]

        return self._command(actor, source, device_at_s, decide)

    def report_positions(self, fixes: Sequence[PositionFix]) -> list[Exception | None]:
        """Many AVL fixes in one commit (one `PositionReported` each, plus automatic arrivals),
        all durable before any is published. Per fix: None if recorded, else the domain error
        that rejected it alone; a failed commit raises and records none of them."""

        def decide(state: DispatchState, batch: Batch) -> list[Exception | None]:
            return record_fixes(state, batch, self._flow, fixes, at_s=self._clock())

        with self._lock:
            return self._run(decide)

    def acknowledge(
        self,
        unit_id: str,
        *,
        actor: str,
        source: EventSource = EventSource.CREW,
        device_at_s: float | None = None,
    ) -> str | None:
        """The crew confirms its job (a committed `UnitAcknowledged`); returns the call id,
        or None when no unacknowledged job waits (a resent action changes nothing)."""

        def decide(state: DispatchState, batch: Batch, meta: cmd.Meta) -> str | None:
            return cmd.acknowledge(state, batch, meta, unit_id=unit_id)

        return self._command(actor, source, device_at_s, decide)

    def choose_hospital(
        self,
        call_id: str,
        *,
        actor: str,
        hospital_id: str | None = None,
        source: EventSource = EventSource.DISPATCHER,
    ) -> HospitalChoice:
        """Destination: the nearest suitable hospital by ETA, or `hospital_id` (an override)."""
        if hospital_id is not None and hospital_id not in self._hospitals:
            raise NotFound(f"unknown hospital {hospital_id!r}")
        options = tuple(self.rank_hospitals(call_id))

        def decide(state: DispatchState, batch: Batch, meta: cmd.Meta) -> Call:
            ranked = [(o.hospital_id, o.eta_s) for o in options]
            self._flow.hospital(state, batch, meta, call_id, hospital_id, ranked)
            return state.calls[call_id]

        call = self._command(actor, source, None, decide)
        return HospitalChoice(call=call, options=options)

    def archive(self, call_id: str) -> Call:
        """Drop a finished call from the live state; it stays in the event log (replay
        rebuilds it). For long simulations, whose queue scans would otherwise walk every
        closed call (hook added by the simulation). A Conflict if the call is still open."""
        with self._lock:
            call = call_of(self._state, call_id)
            if call.is_open or call.unit_id is not None:
                raise Conflict(f"call {call_id} is {call.status}; only finished calls archive")
            del self._state.calls[call_id]
            return call

    # -- internals -------------------------------------------------------------------------

    def _meta(self, actor: str, source: EventSource, device_at_s: float | None = None) -> cmd.Meta:
        return cmd.Meta(at_s=self._clock(), actor=actor, source=source, device_at_s=device_at_s)

    def _command(
        self,
        actor: str,
        source: EventSource,
        device_at_s: float | None,
        decide: Callable[[DispatchState, Batch, cmd.Meta], T],
        *,
        idempotency_key: str | None = None,
    ) -> T:
        with self._lock:
            meta = self._meta(actor, source, device_at_s)
            result = self._run(lambda s, b: decide(s, b, meta), idempotency_key=idempotency_key)
            return copy.deepcopy(result) if self._options.copy_results else result

    def _register_fleet(self) -> None:
        """Register units new to the log; a second process starting at the same time may
        win the race, then our retry finds them registered and writes nothing."""
        for attempt in range(3):
            try:
                self._run(self._register)
                return
            except ConcurrencyConflict:
                if attempt == 2:
                    raise

    def _register(self, state: DispatchState, batch: Batch) -> None:
        meta = self._meta(self._options.system_actor, EventSource.SYSTEM)
        cmd.register_units(state, batch, meta, fleet=self._fleet, stations=self._stations)
