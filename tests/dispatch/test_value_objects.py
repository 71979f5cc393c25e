"""Events, Meta, points and candidates are values: frozen, hashable, picklable, equal by their
fields; Meta refuses impossible input. (Their written-out `__init__`s: test_native.py.)"""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from dispatch import events as ev
from dispatch.commands import Meta
from dispatch.errors import ValidationError
from dispatch.model import EventSource, Point, UnitStatus, UnitType
from dispatch.policy import Candidate


def test_instances_stay_frozen_hashable_and_picklable() -> None:
    event = ev.UnitAssigned(
        at_s=10.0, actor="d1", source=EventSource.DISPATCHER, call_id="c1", unit_id="A1"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.eta_s = 3.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del event.unit_id
    same = ev.UnitAssigned(
        at_s=10.0, actor="d1", source=EventSource.DISPATCHER, call_id="c1", unit_id="A1"
    )
    assert event == same and hash(event) == hash(same)
    assert pickle.loads(pickle.dumps(event)) == event
    assert dataclasses.replace(event, eta_s=60.0).eta_s == 60.0
    assert ev.event_from_dict(event.to_dict()) == event


def test_post_init_still_validates_meta() -> None:
    assert Meta(5.0, "crew", EventSource.CREW, 4.0).device_at_s == 4.0
    with pytest.raises(ValidationError):
        Meta(5.0, "", EventSource.CREW)
    with pytest.raises(ValidationError):
        Meta(5.0, "crew", EventSource.CREW, device_at_s=5.0 + 3600.0)


def test_candidates_and_points_stay_frozen_and_copy_as_themselves() -> None:
    origin = Point(105.8, 21.0)
    made = Candidate(
        "A1", "hq", UnitType.AMBULANCE, UnitStatus.AVAILABLE_AT_STATION, 300.0, 240.0, 60.0,
        1500.0, origin, rank=1,
    )  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.rank = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        origin.lon = 0.0  # type: ignore[misc]
    assert (made.note, made.diverts_call_id, made.reachable) == ("", None, True)
    assert pickle.loads(pickle.dumps(made)) == made and hash(origin) == hash(Point(105.8, 21.0))
    assert copy.deepcopy(origin) is origin and pickle.loads(pickle.dumps(origin)) == origin
