"""AVL fixes in bulk: many position reports decided into one batch (one commit), one event each.

A live server receives a fix from every unit every second; committing each on its own costs
one durable commit (an fsync) per fix. `record_fixes` decides a whole group on the live state
into the command's single `Batch`, so the repository stores them in one transaction. Each fix
is decided in its own sub-batch: a fix the domain rejects (unknown unit, a device time out of
range) is rolled back alone and reported, the others still go in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dispatch import commands as cmd
from dispatch.errors import DispatchError
from dispatch.model import DispatchState, EventSource, Point
from dispatch.ports import TravelTimesError
from dispatch.transitions import Batch, rollback
from dispatch.workflow import Workflow

__all__ = ["PositionFix", "record_fixes"]


@dataclass(frozen=True, slots=True)
class PositionFix:
    """One position report of a unit's device (`actor` defaults to `crew:<unit_id>`)."""

    unit_id: str
    position: Point
    device_at_s: float | None = None
    speed_kph: float | None = None
    heading_deg: float | None = None
    actor: str | None = None
    source: EventSource = EventSource.AVL


def record_fixes(
    state: DispatchState,
    batch: Batch,
    flow: Workflow,
    fixes: Sequence[PositionFix],
    *,
    at_s: float,
) -> list[Exception | None]:
    """Emit every fix (and its automatic arrival) into `batch`; per fix None if it was
    emitted, else the error that rejected it (its changes rolled back)."""
    outcomes: list[Exception | None] = []
    for fix in fixes:
        sub = Batch()
        try:
            meta = cmd.Meta(
                at_s=at_s,
                actor=fix.actor or f"crew:{fix.unit_id}",
                source=fix.source,
                device_at_s=fix.device_at_s,
            )
            cmd.report_position(
                state,
                sub,
                meta,
                unit_id=fix.unit_id,
                position=fix.position,
                speed_kph=fix.speed_kph,
                heading_deg=fix.heading_deg,
            )
            flow.auto_arrive(state, sub, meta, fix.unit_id)
        except (DispatchError, TravelTimesError) as exc:
            rollback(state, sub)
            outcomes.append(exc)
            continue
        _merge(batch, sub)
        outcomes.append(None)
    return outcomes


def _merge(batch: Batch, sub: Batch) -> None:
    """Append a sub-batch: an entity keeps the version (and undo record) first seen."""
    batch.events.extend(sub.events)
    for key, version in sub.expected_versions.items():
        batch.expected_versions.setdefault(key, version)
    for entity, undo in sub.before.items():
        batch.before.setdefault(entity, undo)
