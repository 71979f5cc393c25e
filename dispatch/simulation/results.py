"""Results of simulation runs and the KPIs planners read: response times, waits, utilisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dispatch.timeline import INTERVALS

TARGETS_MIN = (8.0, 15.0)


@dataclass
class RunResult:
    """One replication: a table of calls (parallel arrays) and per-unit busy time."""

    scenario: str
    replication: int
    horizon_s: float
    calls: dict[str, np.ndarray]
    units: list[dict[str, Any]]
    events: int
    wall_s: float
    warmup_s: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_calls(self) -> int:
        return len(self.calls["arrival_s"])


def response_summary(seconds: np.ndarray) -> dict[str, float | int | None]:
    """Count, mean, median and 90th percentile in minutes, and shares within 8 and 15 minutes."""
    values = seconds[~np.isnan(seconds)] / 60.0
    if len(values) == 0:
        return {"n": 0, "mean_min": None, "median_min": None, "p90_min": None}
    out: dict[str, float | int | None] = {
        "n": len(values),
        "mean_min": round(float(values.mean()), 3),
        "median_min": round(float(np.median(values)), 3),
        "p90_min": round(float(np.percentile(values, 90)), 3),
    }
    for target in TARGETS_MIN:
        out[f"within_{target:g}_min"] = round(float((values <= target).mean()), 4)
    return out


def _concat(runs: list[RunResult], name: str) -> np.ndarray:
    return np.concatenate([r.calls[name][_kept(r)] for r in runs])


def _kept(run: RunResult) -> np.ndarray:
    """Calls after the warm-up period (all calls when there is none)."""
    mask: np.ndarray = run.calls["arrival_s"] >= run.warmup_s
    return mask


def _grouped(runs: list[RunResult], key: str, values: np.ndarray) -> dict[str, Any]:
    labels = _concat(runs, key)
    return {str(g): response_summary(values[labels == g]) for g in sorted(set(labels.tolist()))}


def _waits(runs: list[RunResult]) -> dict[str, Any]:
    wait = _concat(runs, "queue_wait_s")
    dispatched = wait[~np.isnan(wait)]
    queued = _concat(runs, "no_unit_free")[_concat(runs, "triaged")]
    out: dict[str, Any] = {
        "dispatched_calls": len(dispatched),
        "no_unit_free_calls": int(queued.sum()),
        "no_unit_free_share": round(float(queued.mean()), 4) if len(queued) else None,
        "mean_wait_s": round(float(dispatched.mean()), 2) if len(dispatched) else None,
    }
    if len(dispatched):
        out["p90_wait_s"] = round(float(np.percentile(dispatched, 90)), 2)
        out["waited_share"] = round(float((dispatched > 0).mean()), 4)
    return out


def _utilisation(runs: list[RunResult]) -> dict[str, Any]:
    span = sum(r.horizon_s for r in runs)
    by_unit: dict[str, float] = {}
    by_station: dict[str, list[float]] = {}
    by_hour = np.zeros(24)
    for run in runs:
        for unit in run.units:
            by_unit[unit["unit_id"]] = by_unit.get(unit["unit_id"], 0.0) + unit["busy_s"]
            by_hour += np.asarray(unit["busy_by_hour_s"])
    station_of = {u["unit_id"]: u["station_id"] for r in runs for u in r.units}
    for unit_id, busy in by_unit.items():
        by_station.setdefault(station_of[unit_id], []).append(busy / span)
    n_units = max(len(by_unit), 1)
    days = span / 86400.0
    return {
        "mean": round(sum(by_unit.values()) / span / n_units, 4) if span else None,
        "by_unit": {k: round(v / span, 4) for k, v in sorted(by_unit.items())},
        "by_station": {k: round(float(np.mean(v)), 4) for k, v in sorted(by_station.items())},
        "by_local_hour": [round(float(h / (3600.0 * days * n_units)), 4) for h in by_hour],
    }


def _intervals(runs: list[RunResult]) -> dict[str, Any]:
    """Mean and 90th percentile (seconds) of each EMS interval, per priority."""
    labels = _concat(runs, "priority")
    out: dict[str, Any] = {}
    for key in sorted(set(labels.tolist())):
        rows: dict[str, Any] = {}
        for name in INTERVALS:
            values = _concat(runs, name)[labels == key]
            values = values[~np.isnan(values)]
            rows[name] = (
                {
                    "mean": round(float(values.mean()), 1),
                    "p90": round(float(np.percentile(values, 90)), 1),
                }
                if len(values)
                else None
            )
        out[str(key)] = rows
    return out


def kpis(runs: list[RunResult]) -> dict[str, Any]:
    """KPIs pooled over replications, plus the spread of the mean response between them."""
    response = _concat(runs, "response_s")
    outcome = _concat(runs, "outcome")
    per_rep = [
        float(np.nanmean(r.calls["response_s"][_kept(r)] / 60.0))
        for r in runs
        if np.any(~np.isnan(r.calls["response_s"][_kept(r)]))
    ]
    spread = None
    if len(per_rep) > 1:
        half = 1.96 * float(np.std(per_rep, ddof=1)) / np.sqrt(len(per_rep))
        spread = round(half, 3)
    return {
        "scenario": runs[0].scenario,
        "replications": len(runs),
        "simulated_days": round(sum(r.horizon_s - r.warmup_s for r in runs) / 86400.0, 3),
        "calls": len(outcome),
        "calls_by_outcome": {str(k): int((outcome == k).sum()) for k in sorted(set(outcome))},
        "response": response_summary(response),
        "response_mean_ci95_min": spread,
        "response_by_priority": _grouped(runs, "priority", response),
        "response_by_district": _grouped(runs, "district", response),
        "intervals_by_priority_s": _intervals(runs),
        "queue": _waits(runs),
        "utilisation": _utilisation(runs),
        "events": sum(r.events for r in runs),
        "wall_s": round(sum(r.wall_s for r in runs), 3),
    }
