"""Planner scenarios as TOML files: station set, fleet, demand, durations, policy, seed."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dispatch.simulation.distributions import Distribution
from dispatch.simulation.errors import ScenarioError


def scenario_dir() -> Path:
    """The packaged scenarios: the data folder's `scenarios/` (see `stations.loaders`)."""
    from stations.loaders import data_dir

    return data_dir() / "scenarios"


FLAT_DAY = (1.0,) * 24
FLAT_WEEK = (1.0,) * 7
# Defaults (frozen, so sharing them is safe); the packaged scenarios set their own.
_CANCEL_DELAY = Distribution("uniform", (("low_s", 60.0), ("high_s", 900.0)))
_PROCESSING = Distribution("uniform", (("low_s", 30.0), ("high_s", 90.0)))
_ON_SCENE = Distribution("lognormal", (("median_s", 900.0), ("sigma", 0.4)))
_HANDOVER = Distribution("uniform", (("low_s", 600.0), ("high_s", 1200.0)))


@dataclass(frozen=True)
class DemandSpec:
    """Who calls, when and where. Profiles are relative weights, normalised to mean 1."""

    calls_per_day: float = 110.0
    multiplier: float = 1.0
    hourly_profile: tuple[float, ...] = FLAT_DAY
    weekly_profile: tuple[float, ...] = FLAT_WEEK  # Monday first
    priority_mix: tuple[tuple[str, float], ...] = (("P1", 0.2), ("P2", 0.4), ("P3", 0.4))
    cancelled_share: float = 0.0  # cancelled by the caller after a unit may have been sent
    nuisance_share: float = 0.0  # screened out by the call-taker: never dispatched
    cancel_delay: Distribution = _CANCEL_DELAY
    population_file: Path | None = None  # None: the packaged 2019 district populations

    @property
    def calls_per_day_effective(self) -> float:
        return self.calls_per_day * self.multiplier


@dataclass(frozen=True)
class DurationSpec:
    """Service-time distributions, and the share of patients taken to hospital per priority."""

    processing: Distribution = _PROCESSING
    turnout: Distribution | None = None  # None: each unit's fleet `turnout_s`
    on_scene: Distribution = _ON_SCENE
    handover: Distribution = _HANDOVER
    transport_share: tuple[tuple[str, float], ...] = (("P1", 0.9), ("P2", 0.8), ("P3", 0.6))

    def transport_share_of(self, priority: str) -> float:
        return dict(self.transport_share).get(priority, 0.0)


@dataclass(frozen=True)
class Scenario:
    """Everything one simulation needs besides the road graph."""

    name: str
    seed: int
    days: float
    start_local: dt.date = dt.date(2025, 3, 3)  # a Monday; Hanoi local time (UTC+7)
    description: str = ""
    replications: int = 1
    stations_file: Path | None = None  # None: the packaged default station set
    fleet_file: Path | None = None
    hospitals_file: Path | None = None
    units: tuple[tuple[str, int], ...] = ()  # per-station overrides of the fleet file
    only_stations: tuple[str, ...] = ()  # a subset of the station set; empty: all
    congestion: bool = True
    fixed_travel_s: float | None = None  # set: every trip takes this long (no road graph)
    warmup_days: float = 0.0
    policy: tuple[tuple[str, Any], ...] = ()
    demand: DemandSpec = field(default_factory=DemandSpec)
    durations: DurationSpec = field(default_factory=DurationSpec)

    def with_overrides(self, **changes: Any) -> Scenario:
        """A copy with some fields changed (e.g. days or replications from the command line)."""
        return replace(self, **changes)

    def policy_options(self) -> dict[str, Any]:
        return dict(self.policy)


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_toml(path: Path) -> dict[str, Any]:
    """Read a scenario file, merging the file named by its `extends` key underneath."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from exc
    _absolute_paths(data, path.parent)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    base = read_toml((path.parent / str(parent)).resolve())
    base.pop("name", None)
    base.pop("description", None)
    return _deep_merge(base, data)


_PATH_KEYS = (
    ("stations_file",),
    ("fleet_file",),
    ("hospitals_file",),
    ("demand", "population_file"),
)


def _absolute_paths(data: dict[str, Any], base: Path) -> None:
    """Resolve file names against the file that names them (before `extends` merging)."""
    for keys in _PATH_KEYS:
        holder: Any = data
        for key in keys[:-1]:
            holder = holder.get(key, {}) if isinstance(holder, dict) else {}
        if isinstance(holder, dict) and keys[-1] in holder:
            resolved = (base / str(holder[keys[-1]])).resolve()
            if resolved.exists():
                holder[keys[-1]] = str(resolved)


def _path(base: Path, value: Any) -> Path | None:
    if value is None:
        return None
    resolved = (base / str(value)).resolve()
    if resolved.exists():
        return resolved
    if Path(str(value)).name == str(value):  # a bare name: the data folder's (see loaders)
        return Path(str(value))
    raise ScenarioError(f"file not found: {resolved}")


def _profile(values: Any, length: int, what: str) -> tuple[float, ...]:
    if values is None:
        return (1.0,) * length
    floats = tuple(float(v) for v in values)
    if len(floats) != length or any(v < 0 for v in floats) or sum(floats) <= 0:
        raise ScenarioError(f"{what} needs {length} non-negative weights, not all zero")
    mean = sum(floats) / length
    return tuple(v / mean for v in floats)


def _shares(data: Mapping[str, Any], what: str) -> tuple[tuple[str, float], ...]:
    items = tuple((str(k), float(v)) for k, v in data.items())
    if not items or any(not 0 <= v <= 1 for _, v in items):
        raise ScenarioError(f"{what}: shares must lie in [0, 1]")
    return items


def _demand(data: Mapping[str, Any], base: Path) -> DemandSpec:
    default = DemandSpec()
    mix = _shares(data.get("priority_mix", dict(default.priority_mix)), "priority_mix")
    total = sum(v for _, v in mix)
    mix = tuple((k, v / total) for k, v in mix)
    cancel = data.get("cancel_delay")
    demand = DemandSpec(
        calls_per_day=float(data.get("calls_per_day", default.calls_per_day)),
        multiplier=float(data.get("multiplier", default.multiplier)),
        hourly_profile=_profile(data.get("hourly_profile"), 24, "hourly_profile"),
        weekly_profile=_profile(data.get("weekly_profile"), 7, "weekly_profile"),
        priority_mix=mix,
        cancelled_share=float(data.get("cancelled_share", 0.0)),
        nuisance_share=float(data.get("nuisance_share", 0.0)),
        cancel_delay=Distribution.from_mapping(cancel) if cancel else default.cancel_delay,
        population_file=_path(base, data.get("population_file")),
    )
    if demand.calls_per_day_effective <= 0:
        raise ScenarioError("calls_per_day x multiplier must be positive")
    if not 0 <= demand.cancelled_share + demand.nuisance_share <= 1:
        raise ScenarioError("cancelled_share + nuisance_share must lie in [0, 1]")
    return demand


def _durations(data: Mapping[str, Any]) -> DurationSpec:
    default = DurationSpec()

    def dist(name: str) -> Distribution:
        value = data.get(name)
        found: Distribution = Distribution.from_mapping(value) if value else getattr(default, name)
        return found

    share = data.get("transport_share")
    return DurationSpec(
        processing=dist("processing"),
        turnout=Distribution.from_mapping(data["turnout"]) if data.get("turnout") else None,
        on_scene=dist("on_scene"),
        handover=dist("handover"),
        transport_share=_shares(share, "transport_share") if share else default.transport_share,
    )


def scenario_from_mapping(data: Mapping[str, Any], *, base_dir: Path) -> Scenario:
    """Build a Scenario from parsed TOML; relative file names resolve against `base_dir`."""
    try:
        traffic = data.get("traffic", {})
        fixed = traffic.get("fixed_travel_s")
        scenario = Scenario(
            name=str(data["name"]),
            description=str(data.get("description", "")),
            seed=int(data["seed"]),
            days=float(data.get("days", 7)),
            start_local=dt.date.fromisoformat(str(data.get("start", "2025-03-03"))),
            replications=int(data.get("replications", 1)),
            stations_file=_path(base_dir, data.get("stations_file")),
            fleet_file=_path(base_dir, data.get("fleet_file")),
            hospitals_file=_path(base_dir, data.get("hospitals_file")),
            units=tuple((str(k), int(v)) for k, v in data.get("units", {}).items()),
            only_stations=tuple(str(s) for s in data.get("only_stations", ())),
            congestion=bool(traffic.get("congestion", True)),
            fixed_travel_s=None if fixed is None else float(fixed),
            warmup_days=float(data.get("warmup_days", 0.0)),
            policy=tuple(sorted(data.get("policy", {}).items())),
            demand=_demand(data.get("demand", {}), base_dir),
            durations=_durations(data.get("durations", {})),
        )
    except KeyError as exc:
        raise ScenarioError(f"scenario lacks the key {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"scenario value invalid: {exc}") from exc
    if scenario.days <= 0 or scenario.replications < 1:
        raise ScenarioError("days must be positive and replications at least 1")
    return scenario


def load_scenario(path: Path | str) -> Scenario:
    """Load a scenario file; a bare name means data/scenarios/NAME.toml."""
    candidate = Path(path)
    if not candidate.exists() and not candidate.suffix:
        candidate = scenario_dir() / f"{candidate}.toml"
    if not candidate.exists():
        raise ScenarioError(f"scenario not found: {path}")
    return scenario_from_mapping(read_toml(candidate), base_dir=candidate.resolve().parent)


def list_scenarios(directory: Path | None = None) -> list[str]:
    """Names of the packaged scenarios (files starting with '_' are bases, not scenarios)."""
    folder = directory or scenario_dir()
    return sorted(p.stem for p in folder.glob("*.toml") if not p.stem.startswith("_"))
