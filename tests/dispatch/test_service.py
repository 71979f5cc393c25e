"""DispatchService end to end on the in-memory repository: a full job, its timeline,
atomic assignment, rollback, commit-before-publish, idempotency and automatic arrival."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from dispatch import events as ev
from dispatch.errors import ConcurrencyConflict, Conflict, NotFound, ValidationError
from dispatch.memory import InMemoryRepository
from dispatch.model import CallStatus, CancelReason, Point, Priority, UnitStatus
from dispatch.timeline import intervals
from dispatch.transitions import replay
from dispatch.views import event_view
from tests.dispatch.fakes import FlakyRepository
from tests.dispatch.helpers import HOAN_KIEM, Clock, make_service, new_call


def test_full_job_timeline_and_intervals() -> None:
    clock = Clock()
    svc = make_service(clock=clock, auto_arrive_m=None)
    t0 = clock.now_s
    call_id = new_call(svc, priority=Priority.P1)
    clock.advance(45)
    svc.assign(call_id, "hq-A1", actor="d1")
    clock.advance(100)
    svc.change_unit_status("hq-A1", UnitStatus.EN_ROUTE, actor="crew")
    clock.advance(400)
    svc.change_unit_status("hq-A1", UnitStatus.ON_SCENE, actor="crew", device_at_s=t0 + 540)
    clock.advance(900)
    unit = svc.change_unit_status("hq-A1", UnitStatus.TRANSPORTING, actor="crew")
    assert unit.hospital_id == "h-xanhpon"  # nearest by ETA, chosen automatically
    clock.advance(600)
    svc.change_unit_status("hq-A1", UnitStatus.AT_HOSPITAL, actor="crew")
    clock.advance(700)
    svc.change_unit_status("hq-A1", UnitStatus.RETURNING, actor="crew")
    call = svc.get_call(call_id)
    assert call.status == CallStatus.CLOSED and call.closed_s == t0 + 2745
    assert intervals(call) == {
        "call_to_dispatch_s": 45.0,
        "turnout_s": 100.0,
        "travel_s": 395.0,  # the crew's device stamped on-scene 5 s before it synced
        "response_s": 540.0,
        "on_scene_s": 905.0,
        "transport_s": 600.0,
        "handover_s": 700.0,
        "job_cycle_s": 2700.0,
    }
    assert svc.state.units["hq-A1"].call_id is None
    assert svc.state.units["hq-A1"].status == UnitStatus.RETURNING


def test_treated_on_scene_closes_without_transport() -> None:
    clock = Clock()
    svc = make_service(clock=clock, auto_arrive_m=None)
    call_id = new_call(svc)
    svc.assign(call_id, "hq-A1", actor="d1")
    svc.change_unit_status("hq-A1", UnitStatus.EN_ROUTE, actor="crew")
    clock.advance(300)
    svc.change_unit_status("hq-A1", UnitStatus.ON_SCENE, actor="crew")
    clock.advance(600)
    svc.change_unit_status("hq-A1", UnitStatus.AVAILABLE_ON_ROAD, actor="crew")
    call = svc.get_call(call_id)
    assert call.status == CallStatus.CLOSED
    assert intervals(call)["on_scene_s"] == 600.0 and intervals(call)["transport_s"] is None


def test_a_unit_serves_one_call_at_a_time() -> None:
    svc = make_service()
    first, second = new_call(svc), new_call(svc)
    svc.assign(first, "hq-A1", actor="d1")
    with pytest.raises(Conflict):
        svc.assign(second, "hq-A1", actor="d2")
    with pytest.raises(Conflict):
        svc.assign(first, "dong_da-A1", actor="d2")  # the call already has its unit
    assert svc.get_call(second).unit_id is None
    assert svc.state.units["hq-A1"].call_id == first


def test_two_services_on_one_log_one_wins_and_the_loser_catches_up() -> None:
    repo = InMemoryRepository()
    clock = Clock()
    a = make_service(repo=repo, clock=clock)
    b = make_service(repo=repo, clock=clock)
    call_a = new_call(a)
    call_b = b.create_call(
        actor="d2",
        caller_phone="1",
        address_text="x",
        pin=HOAN_KIEM,
        priority=Priority.P2,
        call_id="other",
    ).call_id
    a.assign(call_a, "hq-A1", actor="d1")
    with pytest.raises(Conflict):  # b catches up first, sees the unit busy
        b.assign(call_b, "hq-A1", actor="d2")
    assert b.state.units["hq-A1"].call_id == call_a
    assert a.state == b.state


def test_failed_commit_rolls_back_and_publishes_nothing() -> None:
    repo = FlakyRepository()
    svc = make_service(repo=repo)
    call_id = new_call(svc)
    seen: list[int] = []
    svc.subscribe(lambda stored: seen.extend(s.seq for s in stored))
    before = svc.snapshot(include_personal=True)
    repo.fail_next = True
    with pytest.raises(ConcurrencyConflict):
        svc.assign(call_id, "hq-A1", actor="d1")
    assert svc.snapshot(include_personal=True) == before
    assert seen == []
    svc.assign(call_id, "hq-A1", actor="d1")
    assert seen == [repo.last_seq()]
    assert svc.get_call(call_id).status == CallStatus.ASSIGNED


def test_listeners_run_after_commit_with_gap_free_seqs() -> None:
    repo = InMemoryRepository()
    svc = make_service(repo=repo)
    got: list[ev.StoredEvent] = []

    def listener(stored: Sequence[ev.StoredEvent]) -> None:
        assert repo.last_seq() >= stored[-1].seq  # already committed
        got.extend(stored)

    svc.subscribe(listener)
    start = svc.state.last_seq
    call_id = new_call(svc)
    svc.assign(call_id, "hq-A1", actor="d1")
    svc.cancel_call(call_id, reason=CancelReason.DUPLICATE, actor="d1")
    assert [s.seq for s in got] == list(range(start + 1, repo.last_seq() + 1))
    assert [s.event.type for s in got] == [
        "CallCreated",
        "UnitAssigned",
        "CallCancelled",
        "UnitStatusChanged",
    ]
    assert svc.events_since(start) == got


def test_cancel_stands_down_the_unit() -> None:
    svc = make_service(auto_arrive_m=None)
    call_id = new_call(svc)
    svc.assign(call_id, "hq-A1", actor="d1")
    svc.cancel_call(call_id, reason=CancelReason.BAD_ADDRESS, actor="d1", note="no such house")
    unit = svc.get_unit("hq-A1")
    assert unit.status == UnitStatus.AVAILABLE_AT_STATION and unit.call_id is None
    call = svc.get_call(call_id)
    assert call.cancel_reason == CancelReason.BAD_ADDRESS and call.cancel_note == "no such house"
    assert call.assignments[0].ended == "cancelled"


def test_idempotent_create() -> None:
    svc = make_service()
    kwargs = {"actor": "d1", "caller_phone": "1", "address_text": "a", "pin": HOAN_KIEM}
    first = svc.create_call(**kwargs, idempotency_key="k-1")  # type: ignore[arg-type]
    again = svc.create_call(**kwargs, idempotency_key="k-1")  # type: ignore[arg-type]
    assert again.call_id == first.call_id
    assert sum(1 for c in svc.state.calls.values() if c.address_text == "a") == 1


def test_update_call_triages_and_validates() -> None:
    svc = make_service()
    call_id = new_call(svc, priority=None)
    assert svc.get_call(call_id).status == CallStatus.RECEIVED
    with pytest.raises(ValidationError):
        svc.assign(call_id, "hq-A1", actor="d1")  # not triaged yet
    call = svc.update_call(call_id, actor="d1", priority=Priority.P1, pin=Point(105.853, 21.03))
    assert call.status == CallStatus.TRIAGED and call.pin == Point(105.853, 21.03)
    with pytest.raises(ValidationError):
        svc.update_call(call_id, actor="d1", status="closed")
    with pytest.raises(ValidationError):
        svc.update_call(call_id, actor="d1", pin=Point(107.0, 21.0))
    with pytest.raises(NotFound):
        svc.update_call("nope", actor="d1", notes="x")


def test_device_location_is_kept_but_never_applied() -> None:
    svc = make_service()
    device = Point(105.86, 21.035)
    call = svc.create_call(
        actor="d1",
        caller_phone="1",
        address_text="a",
        pin=HOAN_KIEM,
        caller_device_location=device,
        citizen_id="001099012345",
    )
    assert call.pin == HOAN_KIEM and call.caller_device_location == device
    public = svc.snapshot()["calls"][0]
    assert public["citizen_id"] is None and public["caller_phone"] is None
    private = svc.snapshot(include_personal=True)["calls"][0]
    assert private["citizen_id"] == "001099012345"


def test_position_near_pin_sets_on_scene_automatically() -> None:
    svc = make_service(auto_arrive_m=50.0)
    call_id = new_call(svc)
    svc.assign(call_id, "hq-A1", actor="d1")
    svc.change_unit_status("hq-A1", UnitStatus.EN_ROUTE, actor="crew")
    svc.report_position("hq-A1", Point(105.8540, 21.0270), actor="avl")  # ~250 m away
    assert svc.get_unit("hq-A1").status == UnitStatus.EN_ROUTE
    svc.report_position("hq-A1", Point(105.8522, 21.0286), actor="avl")  # ~25 m away
    assert svc.get_unit("hq-A1").status == UnitStatus.ON_SCENE
    last = svc.events_since(0)[-1].event
    assert last.type == "UnitStatusChanged" and last.actor == "system"


def test_restart_replays_to_the_same_state() -> None:
    repo = InMemoryRepository()
    svc = make_service(repo=repo)
    call_id = new_call(svc)
    svc.assign(call_id, "hq-A1", actor="d1")
    again = make_service(repo=repo)
    assert again.state == svc.state
    assert repo.last_seq() == svc.state.last_seq  # no units registered twice


@pytest.mark.parametrize("offset_s", [3600.0, -8 * 86400.0, float("nan"), float("inf")])
def test_impossible_device_times_are_refused(offset_s: float) -> None:
    clock = Clock()
    svc = make_service(clock=clock)
    seq = svc.state.last_seq
    with pytest.raises(ValidationError) as info:
        svc.change_unit_status(
            "hq-A1", UnitStatus.AVAILABLE_ON_ROAD, actor="crew", device_at_s=clock.now_s + offset_s
        )
    assert info.value.field == "device_at_s" and svc.state.last_seq == seq
    late = svc.change_unit_status(  # synced two hours late: accepted, stamped with device time
        "hq-A1", UnitStatus.AVAILABLE_ON_ROAD, actor="crew", device_at_s=clock.now_s - 7200
    )
    assert late.status == UnitStatus.AVAILABLE_ON_ROAD
    assert svc.events_since(seq)[0].event.device_at_s == clock.now_s - 7200


def test_failed_commit_of_a_multi_event_command_rolls_everything_back() -> None:
    repo = FlakyRepository()
    clock = Clock()
    svc = make_service(repo=repo, clock=clock, auto_arrive_m=None)
    call_id = new_call(svc)
    svc.assign(call_id, "hq-A1", actor="d1")
    svc.change_unit_status("hq-A1", UnitStatus.EN_ROUTE, actor="crew")
    queued = [new_call(svc) for _ in range(3)]  # three more units' worth of waiting calls
    assert all(svc.get_call(c).status != CallStatus.CLOSED for c in queued)
    before = svc.snapshot(include_personal=True)
    repo.fail_next = True
    with pytest.raises(ConcurrencyConflict):  # cancel + stand-down + suggestion, none stored
        svc.cancel_call(call_id, reason=CancelReason.HOAX, actor="d1")
    assert svc.snapshot(include_personal=True) == before
    assert replay(repo.load_events()) == svc.state


def test_auto_at_hospital_when_transporting_unit_arrives() -> None:
    svc = make_service(auto_arrive_m=50.0)
    call_id = new_call(svc)
    svc.assign(call_id, "hq-A1", actor="d1")
    svc.change_unit_status("hq-A1", UnitStatus.EN_ROUTE, actor="crew")
    svc.change_unit_status("hq-A1", UnitStatus.ON_SCENE, actor="crew")
    svc.change_unit_status("hq-A1", UnitStatus.TRANSPORTING, actor="crew", hospital_id="h-bachmai")
    assert svc.get_call(call_id).hospital_overridden  # Xanh Pôn was nearer
    svc.report_position("hq-A1", Point(105.8411, 21.0011), actor="avl")
    assert svc.get_unit("hq-A1").status == UnitStatus.AT_HOSPITAL
    assert svc.get_call(call_id).status == CallStatus.AT_HOSPITAL


def test_fleet_registration_retries_after_losing_a_race() -> None:
    repo = FlakyRepository()
    repo.fail_next = True  # another server process registered first
    svc = make_service(repo=repo)
    assert sorted(svc.state.units) == ["dong_da-A1", "hq-A1", "hq-M1", "long_bien-A1"]
    assert repo.last_seq() == 4


def test_event_view_hides_personal_data() -> None:
    svc = make_service()
    svc.create_call(
        actor="d1", caller_phone="0912", address_text="a", pin=HOAN_KIEM, citizen_id="0010"
    )
    created = next(s for s in svc.events_since(0) if s.event.type == "CallCreated")
    public, private = event_view(created), event_view(created, include_personal=True)
    assert public["caller_phone"] is None and public["citizen_id"] is None
    assert private["caller_phone"] == "0912" and private["citizen_id"] == "0010"
    assert public["seq"] == created.seq and public["address_text"] == "a"
