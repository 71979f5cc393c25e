"""The read-model tables (calls, units) kept equal to the event log, inside the append transaction.

The projection does not re-implement the domain: it loads the rows an event batch touches
as domain objects, runs them through the domain's one mutator (`dispatch.transitions.apply`)
and writes back what changed, each row guarded by a conditional
`UPDATE ... WHERE version = :read_version`, so a concurrent writer can never be overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from dispatch import events as ev
from dispatch import transitions
from dispatch.db.codec import from_doc, to_doc
from dispatch.db.schema import calls, units
from dispatch.errors import ConcurrencyConflict
from dispatch.model import Call, DispatchState, Unit

_ID_FIELDS = ("unit_id", "call_id", "from_call_id", "to_call_id")
IDEMPOTENCY_FIELD = "_idempotency_key"  # extra key in a CallCreated payload (not an event field)


@dataclass(slots=True)
class Snapshot:
    """The rows a batch may touch, as loaded: domain objects plus their stored docs."""

    state: DispatchState
    versions: dict[str, int] = field(default_factory=dict)  # entity key -> stored version
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)  # entity key -> stored doc


def referenced_ids(batch: Sequence[ev.Event]) -> tuple[set[str], set[str]]:
    """Unit ids and call ids named anywhere in the batch (not only the versioned ones)."""
    unit_ids: set[str] = set()
    call_ids: set[str] = set()
    for event in batch:
        for name in _ID_FIELDS:
            value = getattr(event, name, None)
            if value is None:
                continue
            (unit_ids if name == "unit_id" else call_ids).add(value)
    return unit_ids, call_ids


def load_snapshot(conn: sa.Connection, batch: Sequence[ev.Event], last_seq: int) -> Snapshot:
    """Load the units and calls the batch names, plus one hop (a call's unit, a unit's call)."""
    snap = Snapshot(state=DispatchState(last_seq=last_seq))
    unit_ids, call_ids = referenced_ids(batch)
    _load_units(conn, snap, unit_ids)
    _load_calls(conn, snap, call_ids)
    _load_units(conn, snap, {c.unit_id for c in snap.state.calls.values() if c.unit_id})
    _load_calls(conn, snap, {u.call_id for u in snap.state.units.values() if u.call_id})
    return snap


def _load_units(conn: sa.Connection, snap: Snapshot, ids: Iterable[str]) -> None:
    _load_rows(conn, snap, ids, table=units, kind="unit", cls=Unit, into=snap.state.units)


def _load_calls(conn: sa.Connection, snap: Snapshot, ids: Iterable[str]) -> None:
    _load_rows(conn, snap, ids, table=calls, kind="call", cls=Call, into=snap.state.calls)


def _load_rows(
    conn: sa.Connection,
    snap: Snapshot,
    ids: Iterable[str],
    *,
    table: sa.Table,
    kind: str,
    cls: type[Any],
    into: dict[str, Any],
) -> None:
    """Read the rows of `table` not yet in the snapshot, with their versions and documents."""
    wanted = sorted(set(ids) - into.keys())
    if not wanted:
        return
    key = table.c[f"{kind}_id"]
    rows = conn.execute(sa.select(key, table.c.version, table.c.doc).where(key.in_(wanted)))
    for row_id, version, doc in rows:
        into[row_id] = from_doc(cls, doc)
        snap.versions[f"{kind}:{row_id}"] = version
        snap.docs[f"{kind}:{row_id}"] = doc


def check_expected(snap: Snapshot, expected_versions: dict[str, int]) -> None:
    """Raise ConcurrencyConflict unless every expected version is the stored one (0: absent)."""
    for key, expected in sorted(expected_versions.items()):
        actual = snap.versions.get(key, 0)
        if actual != expected:
            raise ConcurrencyConflict(f"{key} is at version {actual}, not {expected}")


def write_back(
    conn: sa.Connection,
    snap: Snapshot,
    stored: Sequence[ev.StoredEvent],
    *,
    idempotency_key: str | None,
    created_call_id: str | None,
) -> None:
    """Insert new rows and update changed ones, each update guarded by its read version."""
    marks = last_marks((s.seq, s.event) for s in stored)
    default = (stored[-1].seq, stored[-1].event.at_s)  # changed without being named
    for unit_id, unit in snap.state.units.items():
        key = f"unit:{unit_id}"
        doc = to_doc(unit)
        if doc != snap.docs.get(key):
            seq, _ = marks.get(key, default)
            _save(conn, units, key, _unit_row(unit, doc, seq), snap)
    for call_id, call in snap.state.calls.items():
        key = f"call:{call_id}"
        doc = to_doc(call)
        if doc != snap.docs.get(key):
            row = _call_row(call, doc, *marks.get(key, default))
            if call_id == created_call_id:
                row["idempotency_key"] = idempotency_key
            _save(conn, calls, key, row, snap)


def last_marks(log: Iterable[tuple[int, ev.Event]]) -> dict[str, tuple[int, float]]:
    """Entity key -> (seq, at_s) of the last event naming it (`last_seq`, `updated_at`)."""
    marks: dict[str, tuple[int, float]] = {}
    for seq, event in log:
        unit_ids, call_ids = referenced_ids([event])
        for key in [f"unit:{u}" for u in unit_ids] + [f"call:{c}" for c in call_ids]:
            marks[key] = (seq, event.at_s)
    return marks


def _save(
    conn: sa.Connection, table: sa.Table, key: str, row: dict[str, Any], snap: Snapshot
) -> None:
    id_col = table.c[f"{key.partition(':')[0]}_id"]
    if key not in snap.versions:
        conn.execute(sa.insert(table).values(**row))
        return
    ident = row.pop(id_col.name)
    result = conn.execute(
        sa.update(table).where(id_col == ident, table.c.version == snap.versions[key]).values(**row)
    )
    if result.rowcount != 1:  # another writer got there first (only without the log lock)
        raise ConcurrencyConflict(f"{key} changed concurrently")


def _unit_row(unit: Unit, doc: dict[str, Any], last_seq: int) -> dict[str, Any]:
    return {
        "unit_id": unit.unit_id,
        "status": unit.status.value,
        "call_id": unit.call_id,
        "lon": unit.position.lon,
        "lat": unit.position.lat,
        "position_at": unit.position_s,
        "version": unit.version,
        "last_seq": last_seq,
        "doc": doc,
    }


def _call_row(call: Call, doc: dict[str, Any], last_seq: int, at_s: float) -> dict[str, Any]:
    return {
        "call_id": call.call_id,
        "status": call.status.value,
        "priority": call.priority.value if call.priority is not None else None,
        "lon": call.pin.lon,
        "lat": call.pin.lat,
        "created_at": call.received_s,
        "updated_at": at_s,
        "unit_id": call.unit_id,
        "version": call.version,
        "last_seq": last_seq,
        "doc": doc,
    }


def rebuild(conn: sa.Connection, log: Iterable[tuple[int, dict[str, Any]]]) -> int:
    """Replace both read-model tables by replaying `(seq, payload)` rows through the domain."""
    state, keys, replayed = DispatchState(), {}, []
    for seq, payload in log:
        event = ev.event_from_dict(payload)
        transitions.apply(state, event)
        replayed.append((seq, event))
        if isinstance(event, ev.CallCreated) and payload.get(IDEMPOTENCY_FIELD):
            keys[event.call_id] = payload[IDEMPOTENCY_FIELD]
    marks = last_marks(replayed)
    conn.execute(sa.delete(units))
    conn.execute(sa.delete(calls))
    unit_rows = [
        _unit_row(u, to_doc(u), marks[f"unit:{u.unit_id}"][0]) for u in state.units.values()
    ]
    call_rows = []
    for c in state.calls.values():
        row = _call_row(c, to_doc(c), *marks[f"call:{c.call_id}"])
        row["idempotency_key"] = keys.get(c.call_id)
        call_rows.append(row)
    if unit_rows:
        conn.execute(sa.insert(units), unit_rows)
    if call_rows:
        conn.execute(sa.insert(calls), call_rows)
    return len(replayed)


def read_state(conn: sa.Connection) -> DispatchState:
    """The whole live state as the read-model tables hold it (for checks and fast start-up)."""
    state = DispatchState()
    for (doc,) in conn.execute(sa.select(units.c.doc).order_by(units.c.unit_id)):
        unit = from_doc(Unit, doc)
        state.units[unit.unit_id] = unit
    for (doc,) in conn.execute(sa.select(calls.c.doc).order_by(calls.c.call_id)):
        call = from_doc(Call, doc)
        state.calls[call.call_id] = call
    return state
