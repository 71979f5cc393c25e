"""`fast_init`: the slot-writing `__init__` behaves exactly like the dataclass one, stays frozen."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from dispatch import events as ev
from dispatch.commands import Meta
from dispatch.errors import ValidationError
from dispatch.model import EventSource
from dispatch.policy import Candidate
from dispatch.slotinit import fast_init


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class _Base:
    at_s: float
    note: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class _Plain(_Base):
    unit_id: str
    eta_s: float | None = None


@fast_init
@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class _Fast(_Base):
    unit_id: str
    eta_s: float | None = None


def test_same_signature_values_and_errors_as_the_dataclass_init() -> None:
    assert str(inspect.signature(_Fast)) == str(inspect.signature(_Plain))
    fast, plain = _Fast(at_s=1.5, unit_id="A1"), _Plain(at_s=1.5, unit_id="A1")
    assert (fast.at_s, fast.note, fast.unit_id, fast.eta_s) == (1.5, "", "A1", None)
    assert repr(fast).replace("_Fast", "_Plain") == repr(plain)
    with pytest.raises(TypeError, match=r"_Fast.__init__\(\) missing 1 required keyword-only"):
        _Fast(at_s=1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 1 positional argument"):
        _Fast(1.0, unit_id="A1")  # type: ignore[call-arg]


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


def test_applied_to_events_meta_and_candidates_only_if_frozen_slotted() -> None:
    classes: list[type] = [*ev.EVENT_TYPES.values(), ev.StoredEvent, Meta, Candidate]
    for cls in classes:
        if hasattr(cls, "__mypyc_attrs__"):  # compiled (dispatch.native): left as it is
            assert fast_init(cls) is cls
            continue
        code = vars(cls)["__init__"].__code__
        assert any(name.startswith("_set_") for name in code.co_names), cls.__name__

    @dataclasses.dataclass(slots=True)
    class Mutable:
        x: int

    with pytest.raises(TypeError, match="not a frozen dataclass with slots"):
        fast_init(Mutable)
