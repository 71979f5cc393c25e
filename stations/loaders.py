"""Load station sets, the fleet and emergency hospitals from the data files (GeoJSON, JSON).

Where the data lives: an explicit path wins; otherwise `$H115_DATA_DIR`; otherwise the repo's
`data/` beside the packages (source checkout, `pip install -e .`); otherwise the copy a wheel
installs under `<sys.prefix>/share/hanoi115/data` (see `[tool.setuptools.data-files]`).

Hospital filter (documented in data/README.md): an OSM `amenity=hospital` feature is kept if
  1. it is tagged `emergency=yes` (reason "emergency=yes"); else
  2. it is not tagged `emergency=no`, its name starts with "Bệnh viện" and it is a general
     hospital: the name contains "Đa khoa" or `healthcare:speciality` lists "general"
     (reason "general hospital").
Everything else (clinics, commune health posts, eye/dental/cosmetic hospitals, ...) is dropped.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch.model import UnitType
from stations.models import Hospital, Station, UnitSpec

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STATION_SET = "hanoi115_core7.geojson"
DEFAULT_FLEET = "default.json"


class DataError(ValueError):
    """A data file is missing or malformed."""


@dataclass(frozen=True, slots=True)
class StationSet:
    """A named set of stations; `is_scenario` marks planning what-ifs (not fact)."""

    name: str
    description: str
    is_scenario: bool
    graph: str
    stations: tuple[Station, ...]


def data_dir() -> Path:
    """The folder holding `stations/` and `fleet/` (see the module docstring for the order)."""
    env = os.environ.get("H115_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates += [REPO / "data", Path(sys.prefix) / "share" / "hanoi115" / "data"]
    for path in candidates:
        if (path / "stations" / DEFAULT_STATION_SET).is_file():
            return path
    raise DataError(f"hanoi115 data not found in any of {[str(p) for p in candidates]}")


def load_station_set(path: Path | str | None = None) -> StationSet:
    """Read a station set. `path`: a GeoJSON file, or a bare file name looked up in the data
    folder's `stations/`; None gives the default seven-station network."""
    path = _resolve(path, "stations", DEFAULT_STATION_SET)
    doc = _read_json(path)
    meta = doc.get("properties", {})
    stations = tuple(_station(f, path) for f in doc.get("features", []))
    if not stations:
        raise DataError(f"{path}: no stations")
    ids = [s.station_id for s in stations]
    if len(set(ids)) != len(ids):
        raise DataError(f"{path}: duplicate station ids")
    return StationSet(
        name=str(meta.get("name", path.stem)),
        description=str(meta.get("description", "")),
        is_scenario=bool(meta.get("scenario", False)),
        graph=str(meta.get("graph", "")),
        stations=stations,
    )


def load_stations(path: Path | str | None = None) -> list[Station]:
    """The stations of a set (see `load_station_set`)."""
    return list(load_station_set(path).stations)


def load_fleet(
    stations: list[Station] | tuple[Station, ...], path: Path | str | None = None
) -> list[UnitSpec]:
    """Units for `stations` from a fleet file (None: data/fleet/default.json).

    Stations listed in the file's `stations` get those units; any other station gets the
    file's `default_station` units. Unit ids are `<station_id>-<code><n>`, stable and sorted.
    """
    path = _resolve(path, "fleet", DEFAULT_FLEET)
    doc = _read_json(path)
    turnout = {UnitType(k): float(v) for k, v in doc["turnout_s"].items()}
    per_station: Mapping[str, list[dict[str, Any]]] = doc.get("stations", {})
    units: list[UnitSpec] = []
    for station in stations:
        groups = per_station.get(station.station_id, doc["default_station"])
        units.extend(_units_of(station.station_id, groups, turnout))
    return units


def _units_of(
    station_id: str, groups: list[dict[str, Any]], turnout: Mapping[UnitType, float]
) -> list[UnitSpec]:
    out: list[UnitSpec] = []
    for group in groups:
        unit_type = UnitType(group["type"])
        code = "A" if unit_type == UnitType.AMBULANCE else "M"
        for n in range(1, int(group["count"]) + 1):
            out.append(
                UnitSpec(
                    unit_id=f"{station_id}-{code}{n}",
                    station_id=station_id,
                    unit_type=unit_type,
                    crew_size=int(group["crew_size"]),
                    shift=str(group["shift"]),
                    turnout_s=float(group.get("turnout_s", turnout[unit_type])),
                )
            )
    return out


def emergency_reason(props: Mapping[str, Any]) -> str | None:
    """Why an OSM hospital can receive emergencies, or None (the rule in the module docstring)."""
    emergency = str(props.get("emergency", "")).strip().lower()
    if emergency == "yes":
        return "emergency=yes"
    if emergency == "no":
        return None
    name = _fold(str(props.get("name", "")))
    speciality = str(props.get("healthcare:speciality", "")).lower().split(";")
    if name.startswith(_fold("Bệnh viện")) and (
        _fold("Đa khoa") in name or "general" in speciality
    ):
        return "general hospital"
    return None


def load_hospitals(
    path: Path | str,
    *,
    bbox: tuple[float, float, float, float] | None = None,
) -> list[Hospital]:
    """Emergency-capable hospitals from an OSM GeoJSON file: the graph folder's
    `hospitals.geojson` (`routing.places.place_file`) or H115_HOSPITALS_FILE.

    `bbox`: optional (west, south, east, north) in degrees to keep only those inside.
    Sorted by id; ids are `osm-<n|w|r><osm_id>`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"hospitals file not found: {path} (set H115_HOSPITALS_FILE, or build the graph "
            "with `hanoi115 graph build --hospitals FILE`)"
        )
    doc = _read_json(path)
    out: list[Hospital] = []
    for feature in doc.get("features", []):
        props, geom = feature.get("properties", {}), feature.get("geometry") or {}
        reason = emergency_reason(props)
        if reason is None or geom.get("type") != "Point":
            continue
        lon, lat = (float(v) for v in geom["coordinates"][:2])
        if bbox is not None and not (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]):
            continue
        osm_type = str(props.get("osm_type", "node"))[:1]
        out.append(
            Hospital(
                hospital_id=f"osm-{osm_type}{props.get('osm_id')}",
                name=str(props.get("name", "")),
                lon=lon,
                lat=lat,
                reason=reason,
                speciality=str(props.get("healthcare:speciality", "")),
                osm_id=int(props["osm_id"]) if "osm_id" in props else None,
            )
        )
    return sorted(out, key=lambda h: h.hospital_id)


def _station(feature: Mapping[str, Any], path: Path) -> Station:
    props, geom = feature.get("properties", {}), feature.get("geometry") or {}
    try:
        lon, lat = (float(v) for v in geom["coordinates"][:2])
        return Station(
            station_id=str(props["id"]),
            name=str(props["name"]),
            lon=lon,
            lat=lat,
            source=str(props["source"]),
            confidence=str(props["confidence"]),
            host=str(props.get("host", "")),
            in_core_extract=bool(props.get("in_core_extract", True)),
            is_hq=bool(props.get("is_hq", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: bad station feature {props.get('id')!r}: {exc}") from exc


def _resolve(path: Path | str | None, folder: str, default: str) -> Path:
    if path is None:
        return data_dir() / folder / default
    path = Path(path)
    if path.parent == Path(".") and not path.exists():
        return data_dir() / folder / path.name
    return path


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    return doc


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()
