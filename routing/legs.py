"""Where a snapped point meets the graph: entry and exit nodes with partial-edge costs (ms).

A point at fraction f of arc a (tail u -> head v) leaves the road network through v after
(1 - f) * w[a], or through u after f * w[rev] on a two-way road; it is reached from u after
f * w[a], or from v after (1 - f) * w[rev]. CCH queries take these (node, ms) pairs directly.
"""

from __future__ import annotations

from routing.artifact import Array
from routing.snapping import Snap

Option = tuple[int, int]  # (node, milliseconds already spent or still to spend)
Direct = tuple[int, tuple[int, float, float]]  # (ms, (arc, from fraction, to fraction))


def leave(arrays: dict[str, Array], s: Snap, w: Array) -> list[Option]:
    """Nodes a vehicle at `s` can reach first, with the milliseconds to reach them."""
    a, r = s.edge, int(arrays["arc_rev"][s.edge])
    out = [(int(arrays["arc_head"][a]), round((1.0 - s.fraction) * int(w[a])))]
    if r >= 0:
        out.append((int(arrays["arc_head"][r]), round(s.fraction * int(w[r]))))
    elif at_end(arrays, s) == 0:  # standing on the tail node of a one-way arc
        out.append((int(arrays["arc_tail"][a]), 0))
    return out


def at_end(arrays: dict[str, Array], s: Snap) -> int | None:
    """0 or 1 when the snapped point is on the arc's tail or head node (within 5 cm)."""
    length = float(arrays["arc_length_m"][s.edge])
    if s.fraction * length < 0.05:
        return 0
    if (1.0 - s.fraction) * length < 0.05:
        return 1
    return None


def enter(arrays: dict[str, Array], s: Snap, w: Array) -> list[Option]:
    """Nodes from which `s` is reached, with the milliseconds still to drive."""
    a, r = s.edge, int(arrays["arc_rev"][s.edge])
    out = [(int(arrays["arc_tail"][a]), round(s.fraction * int(w[a])))]
    if r >= 0:
        out.append((int(arrays["arc_tail"][r]), round((1.0 - s.fraction) * int(w[r]))))
    elif at_end(arrays, s) == 1:  # the head node of a one-way arc
        out.append((int(arrays["arc_head"][a]), 0))
    return out


def direct(arrays: dict[str, Array], o: Snap, d: Snap, w: Array) -> Direct | None:
    """Milliseconds and piece when both points are on the same road and no node is needed."""
    if o.edge != d.edge:
        return None
    a, r = o.edge, int(arrays["arc_rev"][o.edge])
    best: Direct | None = None
    if d.fraction >= o.fraction:
        best = (round((d.fraction - o.fraction) * int(w[a])), (a, o.fraction, d.fraction))
    if r >= 0 and o.fraction >= d.fraction:
        cand = (
            round((o.fraction - d.fraction) * int(w[r])),
            (r, 1 - o.fraction, 1 - d.fraction),
        )
        best = cand if best is None or cand[0] < best[0] else best
    return best


def pins(options: list[list[Option]]) -> tuple[list[int], list[int], list[int]]:
    pins, owner, extra = [], [], []
    for i, opts in enumerate(options):
        for node, ms in opts:
            pins.append(node)
            owner.append(i)
            extra.append(ms)
    return pins, owner, extra


def combine(dist: list[int | None], owner: list[int], extra: list[int], n: int) -> list[int | None]:
    best: list[int | None] = [None] * n
    for d, i, ms in zip(dist, owner, extra, strict=True):
        if d is not None:
            total = d + ms
            cur = best[i]
            if cur is None or total < cur:
                best[i] = total
    return best
