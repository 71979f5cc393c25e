"""Street names (diacritics-insensitive search) and the road network as GeoJSON for the map."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from routing.artifact import Array
from routing.geometry import ArcGeometry, LocalProjection

SEPARATOR = " / "  # joins the names of a merged edge, see routing.artifact
# Leading type words: "phan chu trinh" finds "Phố Phan Chu Trinh" before "Ngõ Phan Chu Trinh".
_STREET_WORDS = ("pho ", "duong ", "dai lo ", "cau ", "ham ")
_ALLEY_WORDS = ("ngo ", "ngach ", "hem ", "kiet ")


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced name: "Đường Láng" -> "duong lang"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


class StreetIndex:
    """Single street names with a representative point, and cached network drawings."""

    def __init__(self, arrays: dict[str, Array], geom: ArcGeometry) -> None:
        self.arrays, self.geom = arrays, geom
        self._entries: list[dict[str, Any]] | None = None
        self._network: dict[tuple[Any, ...], dict[str, Any]] = {}

    def names(self) -> list[str]:
        """Every single street name, sorted."""
        return [e["name"] for e in self._index()]

    def _index(self) -> list[dict[str, Any]]:
        if self._entries is not None:
            return self._entries
        labels = [str(s) for s in self.arrays["street_names"]]
        arc_name = self.arrays["arc_name"]
        mid = self.geom.offsets[:-1] + np.diff(self.geom.offsets) // 2
        lon, lat = self.geom.lon[mid], self.geom.lat[mid]
        arcs_of: dict[str, list[int]] = {}
        named = np.nonzero(arc_name >= 0)[0]
        label_arcs: dict[int, list[int]] = {}
        for a in named.tolist():
            label_arcs.setdefault(int(arc_name[a]), []).append(a)
        for ix, arcs in label_arcs.items():
            for name in labels[ix].split(SEPARATOR):
                arcs_of.setdefault(name, []).extend(arcs)
        entries = []
        for name in sorted(arcs_of):
            ix_arr = np.array(arcs_of[name])
            cx, cy = lon[ix_arr].mean(), lat[ix_arr].mean()
            pick = ix_arr[np.argmin((lon[ix_arr] - cx) ** 2 + (lat[ix_arr] - cy) ** 2)]
            length = float(self.arrays["arc_length_m"][ix_arr].sum())
            entries.append(
                {
                    "name": name,
                    "folded": fold(name),
                    "lon": float(lon[pick]),
                    "lat": float(lat[pick]),
                    "length_m": length,
                }
            )
        self._entries = entries
        return entries

    def search(self, text: str, limit: int = 10) -> list[dict[str, Any]]:
        """Names containing `text` (folded), best first: exact, prefix, word start, substring."""
        query = fold(text)
        if not query:
            return []
        hits: list[tuple[tuple[int, int, str], dict[str, Any]]] = []
        for e in self._index():
            f = e["folded"]
            if query not in f:
                continue
            hits.append(((_rank(f, query), len(f), e["name"]), e))
        hits.sort(key=lambda h: h[0])
        return [{k: v for k, v in e.items() if k != "folded"} for _, e in hits[: max(0, limit)]]

    def network(
        self, *, classes: Sequence[str] | None, simplify_m: float, proj: LocalProjection
    ) -> dict[str, Any]:
        """Roads as GeoJSON LineStrings (each physical road once), filtered by class; cached."""
        key = (tuple(sorted(classes)) if classes is not None else None, float(simplify_m))
        if key not in self._network:
            self._network[key] = self._draw(classes, simplify_m, proj)
        return self._network[key]

    def _draw(
        self, classes: Sequence[str] | None, simplify_m: float, proj: LocalProjection
    ) -> dict[str, Any]:
        a = self.arrays
        rev = a["arc_rev"]
        arcs = np.arange(rev.size)
        keep = (rev < 0) | (arcs < rev)
        class_names = [str(c) for c in a["class_names"]]
        if classes is not None:
            wanted = np.isin(
                a["arc_class"], [class_names.index(c) for c in classes if c in class_names]
            )
            keep &= wanted
        names = [str(s) for s in a["street_names"]]
        chosen = np.nonzero(keep)[0]
        lon, lat, owner = self._lines(chosen, simplify_m, proj)
        cuts = np.searchsorted(owner, np.arange(chosen.size + 1))
        coords = np.round(np.column_stack([lon, lat]), 6).tolist()
        feats = []
        for k, arc in enumerate(chosen.tolist()):
            n = int(a["arc_name"][arc])
            feats.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "LineString",
                        "coordinates": coords[cuts[k] : cuts[k + 1]],
                    },
                    "properties": {
                        "edge": arc,
                        "class": class_names[int(a["arc_class"][arc])],
                        "name": names[n] if n >= 0 else None,
                        "oneway": bool(rev[arc] < 0),
                    },
                }
            )
        return {"type": "FeatureCollection", "features": feats}

    def _lines(
        self, arcs: Array, simplify_m: float, proj: LocalProjection
    ) -> tuple[Array, Array, Array]:
        """lon, lat and owning position (into `arcs`) of every drawn vertex, all at once."""
        g = self.geom
        sizes = g.offsets[arcs + 1] - g.offsets[arcs]
        owner = np.repeat(np.arange(arcs.size), sizes)
        pts = np.repeat(g.offsets[arcs], sizes) + (
            np.arange(owner.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        )
        if simplify_m <= 0:
            return g.lon[pts], g.lat[pts], owner
        lines = shapely.linestrings(g.x[pts], g.y[pts], indices=owner)
        xy, owner = shapely.get_coordinates(shapely.simplify(lines, simplify_m), return_index=True)
        lon, lat = proj.to_lonlat(xy[:, 0], xy[:, 1])
        return lon, lat, owner


def _rank(folded: str, query: str) -> int:
    """0 best: exact, street word + exact, prefix, alley + exact, word start, substring."""
    core = folded
    for word in _STREET_WORDS + _ALLEY_WORDS:
        if folded.startswith(word) and not query.startswith(word):
            core = folded[len(word) :]
            break
    alley = folded.startswith(_ALLEY_WORDS) and not query.startswith(_ALLEY_WORDS)
    if folded == query:
        return 0
    if core == query:
        return 3 if alley else 1
    if folded.startswith(query) or core.startswith(query):
        return 4 if alley else 2
    return 5 if f" {query}" in folded else 6
