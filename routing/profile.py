"""The travel-time profile: free-flow speeds, maxspeed rules, congestion bands (TOML)."""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from routing.errors import ProfileError

DEFAULT_PROFILE = "ambulance.toml"
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$")


@dataclass(frozen=True)
class Profile:
    """A parsed profile; `text` is the exact file content (stored with the compiled graph)."""

    name: str
    text: str
    sha256: str
    utc_offset_h: float
    default_speed_kph: float
    speeds_kph: Mapping[str, float]
    maxspeed_respect: bool
    maxspeed_cap_kph: float
    maxspeed_min_kph: float
    maxspeed_symbolic: Mapping[str, float]
    exclude_highway: frozenset[str]
    exclude_access: frozenset[str]
    exclude_motor_vehicle: frozenset[str]
    walk_kph: float
    detour_factor: float
    snap_max_m: float
    bands: Mapping[str, Mapping[str, float]]
    band_names: tuple[str, ...]
    weekday: tuple[str, ...]
    weekend: tuple[str, ...]

    def class_speed_kph(self, highway: str) -> float:
        """Free-flow speed of one highway class (km/h)."""
        return float(self.speeds_kph.get(highway, self.default_speed_kph))

    def pick_class(self, highways: Iterable[str]) -> str:
        """The class of a merged edge: the fastest one (ties broken by name), never hash order."""
        values = sorted(set(highways))
        if not values:
            return "road"
        return max(values, key=lambda h: (self.class_speed_kph(h), h))

    def parse_maxspeed(self, values: Iterable[str]) -> float | None:
        """The lowest valid tagged maxspeed (km/h) among `values`, or None."""
        speeds: list[float] = []
        for raw in values:
            for part in str(raw).replace(",", ";").split(";"):
                kph = self._one_maxspeed(part.strip())
                if kph is not None and kph >= self.maxspeed_min_kph:
                    speeds.append(kph)
        return min(speeds) if speeds else None

    def _one_maxspeed(self, text: str) -> float | None:
        if text in self.maxspeed_symbolic:
            return float(self.maxspeed_symbolic[text])
        match = _NUMBER.match(text)
        if match is None:
            return None
        value = float(match.group(1))
        return value * 1.609344 if match.group(2) == "mph" else value

    def free_flow_kph(self, highway: str, maxspeeds: Iterable[str]) -> float:
        """Free-flow speed of an edge: tagged maxspeed (capped) if respected, else its class's."""
        tagged = self.parse_maxspeed(maxspeeds) if self.maxspeed_respect else None
        if tagged is None:
            return self.class_speed_kph(highway)
        return min(tagged, self.maxspeed_cap_kph)

    def band_factor(self, band: str, highway: str) -> float:
        """Congestion multiplier (>= 1 slows) of `band` for edges of class `highway`."""
        table = self.bands[band]
        return float(table.get(highway, table["default"]))

    def band_at(self, at_s: float) -> str:
        """The time band in force at epoch second `at_s` (UTC), by Hanoi local hour and weekday."""
        local_s = at_s + self.utc_offset_h * 3600.0
        day = math.floor(local_s / 86400.0)
        hour = int((local_s - day * 86400.0) // 3600.0)
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        table = self.weekend if weekday >= 5 else self.weekday
        return table[hour]

    def offroad_s(self, offroad_m: float) -> float:
        """Seconds to carry a stretcher over a straight-line off-road distance (metres)."""
        return offroad_m * self.detour_factor / (self.walk_kph / 3.6)


def default_profile_path() -> Path:
    """The packaged ambulance profile (works from an installed wheel as well as a checkout)."""
    return Path(str(resources.files("routing") / "profiles" / DEFAULT_PROFILE))


def load_profile(path: Path | None = None) -> Profile:
    """Read and validate a profile file; None reads the packaged ambulance profile."""
    path = default_profile_path() if path is None else Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc}") from exc
    return parse_profile(text)


def parse_profile(text: str) -> Profile:
    """Validate profile TOML text and return the `Profile`."""
    try:
        data = tomllib.loads(text)
        return _build(data, text)
    except (KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"invalid profile: {exc!r}") from exc


def _build(data: dict[str, Any], text: str) -> Profile:
    head, maxspeed, access = data["profile"], data["maxspeed"], data["access"]
    speeds = {str(k): float(v) for k, v in data["speeds_kph"].items()}
    bands = {
        str(name): {str(k): float(v) for k, v in table.items()}
        for name, table in data["bands"].items()
    }
    _check_positive(speeds, "speeds_kph")
    for name, table in bands.items():
        if "default" not in table:
            raise ValueError(f"band {name} has no default factor")
        _check_positive(table, f"bands.{name}")
    weekday = tuple(str(b) for b in data["schedule"]["weekday"])
    weekend = tuple(str(b) for b in data["schedule"]["weekend"])
    for label, hours in (("weekday", weekday), ("weekend", weekend)):
        if len(hours) != 24 or not set(hours) <= set(bands):
            raise ValueError(f"schedule.{label} needs 24 hours naming bands in {sorted(bands)}")
    return Profile(
        name=str(head["name"]),
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        utc_offset_h=float(head["utc_offset_h"]),
        default_speed_kph=float(head["default_speed_kph"]),
        speeds_kph=speeds,
        maxspeed_respect=bool(maxspeed["respect"]),
        maxspeed_cap_kph=float(maxspeed["cap_kph"]),
        maxspeed_min_kph=float(maxspeed["min_kph"]),
        maxspeed_symbolic={str(k): float(v) for k, v in maxspeed.get("symbolic", {}).items()},
        exclude_highway=frozenset(access["exclude_highway"]),
        exclude_access=frozenset(access["exclude_access"]),
        exclude_motor_vehicle=frozenset(access["exclude_motor_vehicle"]),
        walk_kph=float(data["offroad"]["walk_kph"]),
        detour_factor=float(data["offroad"]["detour_factor"]),
        snap_max_m=float(data["snap"]["max_m"]),
        bands=bands,
        band_names=tuple(sorted(bands)),
        weekday=weekday,
        weekend=weekend,
    )


def _check_positive(table: Mapping[str, float], label: str) -> None:
    bad = [k for k, v in table.items() if not (v > 0 and math.isfinite(v))]
    if bad:
        raise ValueError(f"{label}: values must be positive and finite: {bad}")
