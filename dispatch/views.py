"""JSON-ready views of the dispatch state (snapshots for the web layer and reports)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from dispatch.events import StoredEvent
from dispatch.model import Call, DispatchState, Point, Unit
from dispatch.policy import Recommendation, queue_order
from dispatch.timeline import intervals, timeline

PERSONAL_FIELDS = ("caller_phone", "citizen_id")


def _point(p: Point | None) -> list[float] | None:
    return None if p is None else [p.lon, p.lat]


def unit_view(unit: Unit) -> dict[str, Any]:
    """A unit as a JSON dict (positions as [lon, lat])."""
    out = asdict(unit)
    out["home"], out["position"] = _point(unit.home), _point(unit.position)
    return out


def call_view(call: Call, *, include_personal: bool = False) -> dict[str, Any]:
    """A call as a JSON dict with its timeline and intervals. Personal data (caller phone,
    citizen id) only when `include_personal`; otherwise those keys hold None."""
    out = asdict(call)
    out["pin"] = _point(call.pin)
    out["caller_device_location"] = _point(call.caller_device_location)
    if not include_personal:
        for name in PERSONAL_FIELDS:
            out[name] = None
    out["timeline"] = timeline(call).to_dict()
    out["intervals"] = intervals(call)
    return out


def snapshot_view(state: DispatchState, *, include_personal: bool = False) -> dict[str, Any]:
    """Everything a client needs to start: units, open calls, the queue, and the last seq."""
    return {
        "seq": state.last_seq,
        "units": [unit_view(u) for u in sorted(state.units.values(), key=lambda u: u.unit_id)],
        "calls": [
            call_view(c, include_personal=include_personal)
            for c in sorted(state.calls.values(), key=lambda c: (c.received_s, c.call_id))
            if c.is_open
        ],
        "queue": [c.call_id for c in queue_order(state)],
    }


def recommendation_view(rec: Recommendation) -> dict[str, Any]:
    """A recommendation as a JSON dict."""
    candidates = []
    for cand in rec.candidates:
        row = asdict(cand)
        row["origin"] = [cand.origin.lon, cand.origin.lat]
        candidates.append(row)
    return {
        "call_id": rec.call_id,
        "at_s": rec.at_s,
        "candidates": candidates,
        "scene_offroad_m": rec.scene_offroad_m,
        "scene_offroad_s": rec.scene_offroad_s,
    }


def event_view(stored: StoredEvent, *, include_personal: bool = False) -> dict[str, Any]:
    """A stored event as a JSON dict (with `seq`); personal fields blanked unless allowed."""
    out = stored.to_dict()
    if not include_personal:
        for name in PERSONAL_FIELDS:
            if out.get(name) is not None:
                out[name] = None
    return out
