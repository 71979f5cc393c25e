"""Station sets, fleet and hospitals load from the shipped data and the shared OSM file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch.model import UnitType
from stations.loaders import (
    DataError,
    data_dir,
    emergency_reason,
    load_fleet,
    load_hospitals,
    load_station_set,
    load_stations,
)

# S, W, N, E of the shared urban-core drive extract (../shared/osm/SOURCE.md)
CORE_BBOX = (105.69203, 20.86313, 106.02799, 21.12237)


def inside(lon: float, lat: float) -> bool:
    return CORE_BBOX[0] <= lon <= CORE_BBOX[2] and CORE_BBOX[1] <= lat <= CORE_BBOX[3]


def test_default_set_is_the_seven_core_stations() -> None:
    core = load_station_set()
    assert core.name == "hanoi115_core7" and not core.is_scenario
    assert [s.station_id for s in core.stations] == [
        "hq",
        "tay_ho",
        "dong_da",
        "ha_dong",
        "thanh_tri",
        "long_bien",
        "tu_liem",
    ]
    hq = core.stations[0]
    assert hq.is_hq and (hq.lat, hq.lon) == (21.0245, 105.8565)
    assert hq.confidence == "placed by hand, about ±200 m"
    assert all(inside(s.lon, s.lat) and s.in_core_extract for s in core.stations)
    assert {s.confidence for s in core.stations} == {
        "placed by hand, about ±200 m",
        "host confirmed",
        "proxy point",
        "unverified",
    }
    assert all("hanoi115.md" in s.source for s in core.stations)


def test_2023_set_adds_dong_anh_outside_the_extract() -> None:
    full = load_station_set("hanoi115_2023.geojson")
    assert len(full.stations) == 8 and "whole-city graph" in full.graph
    dong_anh = [s for s in full.stations if s.station_id == "dong_anh"]
    assert len(dong_anh) == 1 and not dong_anh[0].in_core_extract
    assert not inside(dong_anh[0].lon, dong_anh[0].lat)


def test_hospital_scenario_is_marked_and_inside_the_extract() -> None:
    scen = load_station_set("hospital_based_2026.geojson")
    assert scen.is_scenario and "SCENARIO" in scen.description
    added = [s for s in scen.stations if s.station_id.startswith("hosp-")]
    assert len(added) >= 20 and all(s.confidence == "scenario" for s in added)
    assert all(inside(s.lon, s.lat) for s in scen.stations)
    ids = [s.station_id for s in scen.stations]
    assert len(ids) == len(set(ids))


def test_fleet_defaults() -> None:
    core = load_stations()
    fleet = load_fleet(core)
    per_station = {s.station_id: [u for u in fleet if u.station_id == s.station_id] for s in core}
    assert all(len(units) >= 2 for units in per_station.values())
    assert len(per_station["hq"]) > max(len(v) for k, v in per_station.items() if k != "hq")
    motorbikes = [u for u in fleet if u.unit_type == UnitType.MOTORBIKE]
    assert motorbikes and all(u.turnout_s == 60.0 and u.crew_size == 1 for u in motorbikes)
    assert all(u.turnout_s == 120.0 for u in fleet if u.unit_type == UnitType.AMBULANCE)
    assert len({u.unit_id for u in fleet}) == len(fleet)


def test_fleet_for_unknown_stations_uses_the_default_station() -> None:
    scen = load_station_set("hospital_based_2026.geojson")
    fleet = load_fleet(scen.stations)
    hosp = [u for u in fleet if u.station_id.startswith("hosp-")]
    assert len(hosp) == len([s for s in scen.stations if s.station_id.startswith("hosp-")])
    assert all(u.unit_type == UnitType.AMBULANCE and u.crew_size == 3 for u in hosp)


def test_hospitals_from_shared_osm(osm_dir: Path) -> None:
    hospitals = load_hospitals(osm_dir / "hanoi_hospitals_osm.geojson", bbox=CORE_BBOX)
    names = {h.name for h in hospitals}
    assert {
        "Bệnh viện Bạch Mai",
        "Bệnh viện Đa khoa Xanh Pôn",
        "Bệnh viện Đa khoa Đống Đa",
    } <= names
    assert "Bệnh viện Mắt Việt Nhật" not in names  # eye hospital, emergency=no
    assert "Phòng khám Đa khoa Quốc tế Hà Nội" not in names  # a clinic
    assert not any(n.startswith("Trạm y tế") for n in names)
    assert all(inside(h.lon, h.lat) for h in hospitals)
    assert 30 <= len(hospitals) <= 80
    assert {h.reason for h in hospitals} == {"emergency=yes", "general hospital"}


@pytest.mark.parametrize(
    ("props", "reason"),
    [
        ({"name": "Bệnh viện K", "emergency": "yes"}, "emergency=yes"),
        ({"name": "Bệnh viện Đa khoa Hà Đông"}, "general hospital"),
        ({"name": "BỆNH VIỆN ĐA KHOA X"}, "general hospital"),
        ({"name": "Bệnh viện Y", "healthcare:speciality": "community;general"}, "general hospital"),
        ({"name": "Bệnh viện Đa khoa Tâm Anh", "emergency": "no"}, None),
        ({"name": "Bệnh viện Mắt Hà Nội"}, None),
        ({"name": "Phòng khám Đa khoa Z"}, None),
        ({}, None),
    ],
)
def test_emergency_rule(props: dict[str, str], reason: str | None) -> None:
    assert emergency_reason(props) == reason


def test_data_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "stations").mkdir()
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [105.8, 21.0]},
                "properties": {"id": "x", "name": "X", "source": "t", "confidence": "c"},
            }
        ],
    }
    (tmp_path / "stations" / "hanoi115_core7.geojson").write_text(json.dumps(doc))
    monkeypatch.setenv("H115_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    assert [s.station_id for s in load_stations()] == ["x"]


def test_bad_station_file_is_a_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"properties": {"id": "a"}}]}')
    with pytest.raises(DataError):
        load_stations(bad)
    with pytest.raises(DataError):
        load_stations(tmp_path / "missing.geojson")
