"""For `dispatch.transitions`: undo records (an entity's values before a batch changed it), and
per event class the fields that name the entities it changes.

Cheaper than copying the entity (one C-level attribute read per entity); restoring writes the
values back into the same object, so references held elsewhere stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

from dispatch import events as ev
from dispatch.model import Assignment, Call, DispatchState, Unit

_UNIT_FIELDS = tuple(f.name for f in fields(Unit))
_CALL_FIELDS = tuple(f.name for f in fields(Call))
_ASSIGNMENT_FIELDS = tuple(f.name for f in fields(Assignment))
_get_unit, _get_call = attrgetter(*_UNIT_FIELDS), attrgetter(*_CALL_FIELDS)
_get_assignment = attrgetter(*_ASSIGNMENT_FIELDS)


@dataclass(slots=True)
class Undo:
    """Field values of `entity` (and, for a call, of each of its assignments) at record time."""

    entity: Unit | Call
    values: tuple[Any, ...]
    assignments: list[tuple[Assignment, tuple[Any, ...]]] | None = None

    def restore(self) -> Unit | Call:
        """Write the recorded values back; returns the entity."""
        names = _UNIT_FIELDS if self.assignments is None else _CALL_FIELDS
        for name, value in zip(names, self.values, strict=True):
            setattr(self.entity, name, value)
        if self.assignments is not None:
            for assignment, values in self.assignments:
                for name, value in zip(_ASSIGNMENT_FIELDS, values, strict=True):
                    setattr(assignment, name, value)
            assert isinstance(self.entity, Call)
            self.entity.assignments = [a for a, _ in self.assignments]
        return self.entity


def unit_undo(unit: Unit) -> Undo:
    """Record a unit as it is now."""
    return Undo(unit, _get_unit(unit))


def call_undo(call: Call) -> Undo:
    """Record a call and its assignments as they are now."""
    return Undo(call, _get_call(call), [(a, _get_assignment(a)) for a in call.assignments])


@dataclass(frozen=True, slots=True)
class EventSpec:
    """Per event class: the fields naming changed entities (versions) and those naming
    entities it may touch (undo records), read once instead of on every event."""

    unit_field: tuple[str, ...]
    call_field: tuple[str, ...]
    unit_attrs: tuple[str, ...]
    call_attrs: tuple[str, ...]


SPECS: dict[type[ev.Event], EventSpec] = {}


def event_spec(cls: type[ev.Event]) -> EventSpec:
    """The spec of an event class (computed once)."""
    spec = SPECS.get(cls)
    if spec is None:
        names = {f.name for f in fields(cls)}
        spec = SPECS[cls] = EventSpec(
            unit_field=ev.ENTITY_FIELDS[cls][0],
            call_field=ev.ENTITY_FIELDS[cls][1],
            unit_attrs=tuple(n for n in ("unit_id",) if n in names),
            call_attrs=tuple(n for n in ("call_id", "from_call_id", "to_call_id") if n in names),
        )
    return spec


def entity_keys(event: ev.Event) -> list[str]:
    """`event.entity_keys()` (`unit:<id>` then `call:<id>`), computed without the generic
    per-event getattr walk (the repository and `emit` ask for it on every event)."""
    spec = SPECS.get(type(event)) or event_spec(type(event))
    out = []
    for name in spec.unit_field:
        value = getattr(event, name)
        if value is not None:
            out.append(f"unit:{value}")
    for name in spec.call_field:
        value = getattr(event, name)
        if value is not None:
            out.append(f"call:{value}")
    return out


def note_versions(
    state: DispatchState, event: ev.Event, spec: EventSpec, expected: dict[str, int]
) -> None:
    """Record, for each entity `event` changes and the batch has not seen yet, its version
    now (0 if it does not exist yet): what the batch expects the log to still hold."""
    for name in spec.unit_field:
        value = getattr(event, name)
        if value is not None:
            key = f"unit:{value}"
            if key not in expected:
                unit = state.units.get(value)
                expected[key] = unit.version if unit is not None else 0
    for name in spec.call_field:
        value = getattr(event, name)
        if value is not None:
            key = f"call:{value}"
            if key not in expected:
                call = state.calls.get(value)
                expected[key] = call.version if call is not None else 0


def remember(
    state: DispatchState,
    event: ev.Event,
    spec: EventSpec,
    before: dict[tuple[str, str], Undo | None],
) -> None:
    """Record the entities `event` may change (named ones plus one hop) before the first change."""
    units, calls = state.units, state.calls
    unit_ids: list[str] = []
    call_ids: list[str] = []
    for name in spec.unit_attrs:
        value = getattr(event, name)
        if value is not None:
            unit_ids.append(value)
    for name in spec.call_attrs:
        value = getattr(event, name)
        if value is not None:
            call_ids.append(value)
            call = calls.get(value)
            if call is not None and call.unit_id is not None:
                unit_ids.append(call.unit_id)
    for unit_id in unit_ids:
        key = ("unit", unit_id)
        unit = units.get(unit_id)
        if key not in before:
            before[key] = None if unit is None else unit_undo(unit)
        if unit is not None and unit.call_id is not None:
            call_ids.append(unit.call_id)
    for call_id in call_ids:
        key = ("call", call_id)
        if key not in before:
            call = calls.get(call_id)
            before[key] = None if call is None else call_undo(call)
