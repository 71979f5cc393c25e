"""Compile a networkx road graph (osmnx-style MultiDiGraph) into the artifact's arrays."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import routingkit_cch

from routing.artifact import Array
from routing.errors import GraphBuildError
from routing.profile import Profile

EARTH_RADIUS_M = 6_371_009.0  # osmnx's mean radius, so lengths match its edge lengths


@dataclass(frozen=True)
class _Arc:
    tail: int
    head: int
    length_m: float
    highway: str
    speed_kph: float
    name: str
    osmid: int
    coords: tuple[tuple[float, float], ...]

    def sort_key(self) -> tuple[Any, ...]:
        return (self.tail, self.head, round(self.length_m, 3), self.highway, self.name, self.coords)


def as_list(value: Any) -> list[str]:
    """An osmnx tag value (None, scalar or list after simplification) as a list of strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def haversine_m(lon: Array, lat: Array) -> Array:
    """Great-circle length (metres) of each step of a polyline given as lon/lat arrays."""
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    dlat, dlon = np.diff(lat_r), np.diff(lon_r)
    a = np.sin(dlat / 2) ** 2 + np.cos(lat_r[:-1]) * np.cos(lat_r[1:]) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1))))


def _edge_coords(
    graph: nx.MultiDiGraph, u: Any, v: Any, data: dict[str, Any]
) -> list[tuple[float, float]]:
    geom = data.get("geometry")
    if geom is not None:
        return [(float(x), float(y)) for x, y in geom.coords]
    nu, nv = graph.nodes[u], graph.nodes[v]
    return [(float(nu["x"]), float(nu["y"])), (float(nv["x"]), float(nv["y"]))]


def _arcs(graph: nx.MultiDiGraph, index: dict[Any, int], profile: Profile) -> list[_Arc]:
    arcs: list[_Arc] = []
    for u, v, data in graph.edges(data=True):
        coords = _edge_coords(graph, u, v, data)
        length = data.get("length")
        if length is None:
            arr = np.asarray(coords)
            length = float(haversine_m(arr[:, 0], arr[:, 1]).sum())
        highway = profile.pick_class(as_list(data.get("highway")) or ["road"])
        osmids = [int(float(x)) for x in as_list(data.get("osmid"))] or [0]
        arcs.append(
            _Arc(
                tail=index[u],
                head=index[v],
                length_m=float(length),
                highway=highway,
                speed_kph=profile.free_flow_kph(highway, as_list(data.get("maxspeed"))),
                name=" / ".join(sorted(set(as_list(data.get("name"))))),
                osmid=min(osmids),
                coords=tuple((round(x, 7), round(y, 7)) for x, y in coords),
            )
        )
    arcs.sort(key=_Arc.sort_key)
    return arcs


def _reverse_arcs(arcs: list[_Arc]) -> Array:
    """Pair each arc with the arc of the same road in the opposite direction (or -1)."""
    by_key: dict[tuple[Any, ...], list[int]] = {}
    for i, arc in enumerate(arcs):
        by_key.setdefault((arc.tail, arc.head, arc.coords), []).append(i)
    rev = np.full(len(arcs), -1, dtype=np.int32)
    for i, arc in enumerate(arcs):
        if rev[i] >= 0 or arc.tail == arc.head:
            continue
        for j in by_key.get((arc.head, arc.tail, arc.coords[::-1]), []):
            if rev[j] < 0:
                rev[i], rev[j] = j, i
                break
    return rev


def _table(values: Iterable[str]) -> tuple[Array, dict[str, int]]:
    names = sorted(set(values))
    return np.array(names, dtype=str), {n: i for i, n in enumerate(names)}


def band_weights_ms(
    length_m: Array, speed_kph: Array, classes: list[str], profile: Profile
) -> tuple[Array, Array]:
    """Integer milliseconds per band (rows: `profile.band_names`) for arcs of given classes."""
    base_s = length_m / (speed_kph.astype(np.float64) / 3.6)
    rows = []
    for band in profile.band_names:
        factor = np.array([profile.band_factor(band, c) for c in classes], dtype=np.float64)
        rows.append(np.maximum(1, np.rint(base_s * factor * 1000.0)).astype(np.int32))
    return np.array(profile.band_names, dtype=str), np.vstack(rows)


def compile_graph(graph: nx.MultiDiGraph, profile: Profile) -> dict[str, Array]:
    """Turn a road graph (nodes with x=lon, y=lat; edges with osmnx tags) into artifact arrays.

    Every node and edge is kept (the caller chooses the component); edge `length` (metres) is
    computed from the geometry when absent. The result is independent of hash order.
    """
    if graph.number_of_edges() == 0:
        raise GraphBuildError("the road graph has no edges")
    node_ids = sorted(graph.nodes)
    index = {n: i for i, n in enumerate(node_ids)}
    arcs = _arcs(graph, index, profile)
    tail = np.array([a.tail for a in arcs], dtype=np.int32)
    head = np.array([a.head for a in arcs], dtype=np.int32)
    lon = np.array([float(graph.nodes[n]["x"]) for n in node_ids])
    lat = np.array([float(graph.nodes[n]["y"]) for n in node_ids])
    length = np.array([a.length_m for a in arcs], dtype=np.float64)
    speed = np.array([a.speed_kph for a in arcs], dtype=np.float32)
    class_names, class_ix = _table(a.highway for a in arcs)
    street_names, name_ix = _table(a.name for a in arcs if a.name)
    band_names, band_ms = band_weights_ms(length, speed, [a.highway for a in arcs], profile)
    sizes = np.array([len(a.coords) for a in arcs], dtype=np.int64)
    flat = np.array([xy for a in arcs for xy in a.coords], dtype=np.float64).reshape(-1, 2)
    order = routingkit_cch.compute_order_inertial(
        len(node_ids), tail.tolist(), head.tolist(), lat.tolist(), lon.tolist()
    )
    return {
        "node_osmid": np.array(node_ids, dtype=np.int64),
        "node_lon": lon,
        "node_lat": lat,
        "arc_tail": tail,
        "arc_head": head,
        "csr_indptr": np.searchsorted(tail, np.arange(len(node_ids) + 1)).astype(np.int64),
        "arc_length_m": length,
        "arc_speed_kph": speed,
        "arc_class": np.array([class_ix[a.highway] for a in arcs], dtype=np.int16),
        "arc_name": np.array([name_ix[a.name] if a.name else -1 for a in arcs], dtype=np.int32),
        "arc_rev": _reverse_arcs(arcs),
        "arc_osmid": np.array([a.osmid for a in arcs], dtype=np.int64),
        "band_ms": band_ms,
        "geom_offsets": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        "geom_lon": flat[:, 0].copy(),
        "geom_lat": flat[:, 1].copy(),
        "cch_order": np.array(order, dtype=np.int32),
        "class_names": class_names,
        "street_names": street_names,
        "band_names": band_names,
    }
