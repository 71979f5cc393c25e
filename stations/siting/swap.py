"""Fast swap bookkeeping for p-median local search (Whitaker; Resende and Werneck 2007).

Each demand keeps its closest and second-closest open site. From these, three arrays give the
exact change of the objective for every swap (close site r, open site j) at once:

    delta(r, j) = loss[r] - gain[j] - extra[r, j]

gain[j]     = sum_i w_i max(0, c1_i - d_ij)                 (saving if j opened, nothing closed)
loss[r]     = sum_{i: f1_i = r} w_i (c2_i - c1_i)            (cost if r closed, nothing opened)
extra[r, j] = sum_{i: f1_i = r} w_i max(0, c2_i - max(d_ij, c1_i))   (loss that j wins back)

After a swap only the demands whose closest or second-closest site changed are re-booked, so a
move costs O(|affected| * n_candidate) rather than O(n_demand * n_candidate).
"""

from __future__ import annotations

import numpy as np

from stations.siting.problem import FloatArray, IntArray


class SwapState:
    """An open set of sites with closest/second-closest bookkeeping and swap evaluation.

    Rows of `extra` are indexed by slot (position in `sites`), not by candidate, so memory is
    p x n_candidate whatever the number of candidates.
    """

    def __init__(
        self, cost: FloatArray, weights: FloatArray, sites: IntArray, fixed: IntArray
    ) -> None:
        self.cost = cost
        self.weights = weights
        self.n, self.m = cost.shape
        self.sentinel = float(cost.max()) + 1.0  # second-closest when only one site is open
        self._order = np.argsort(cost, axis=1, kind="stable")
        self._sorted_cost = np.take_along_axis(cost, self._order, axis=1)
        # Row i of the sorted costs shifted by i * span: one global searchsorted per batch.
        self._row_span = self.sentinel + 1.0
        self._flat_sorted = (
            self._sorted_cost + np.arange(self.n)[:, None] * self._row_span
        ).ravel()
        self._flat_cost = self._sorted_cost.ravel()
        self._flat_order = self._order.ravel()
        self.sites = np.array(sites, dtype=np.int64)
        self.p = len(self.sites)
        self.slot_of = np.full(self.m, -1, dtype=np.int64)
        self.slot_of[self.sites] = np.arange(self.p)
        fixed_mask = np.zeros(self.m, dtype=bool)
        fixed_mask[fixed] = True
        self.fixed_mask = fixed_mask
        self.rebuild()

    def rebuild(self) -> None:
        """Recompute all bookkeeping from scratch (also clears floating-point drift)."""
        self.f1 = np.zeros(self.n, dtype=np.int64)
        self.f2 = np.zeros(self.n, dtype=np.int64)
        self.c1 = np.zeros(self.n)
        self.c2 = np.zeros(self.n)
        self.gain = np.zeros(self.m)
        self.loss = np.zeros(self.p)
        self.extra = np.zeros((self.p, self.m))
        self._extra_flat = self.extra.ravel()  # a view: in-place adds land in `extra`
        self._buffer = np.empty((self.p, self.m))
        everyone = np.arange(self.n)
        self._assign(everyone)
        self._book(everyone, 1.0)
        self.objective = float(self.weights @ self.c1)

    def nearest_candidates(self, demand: int, count: int) -> IntArray:
        """The `count` candidates nearest to `demand`, nearest first."""
        return self._order[demand, :count]

    def free_slots(self) -> IntArray:
        """Slots whose site may be closed (not a fixed site)."""
        return np.flatnonzero(~self.fixed_mask[self.sites])

    def _assign(self, rows: IntArray) -> None:
        sub = self.cost[np.ix_(rows, self.sites)]
        if self.p == 1:
            self.f1[rows] = self.sites[0]
            self.c1[rows] = sub[:, 0]
            self.f2[rows] = self.sites[0]
            self.c2[rows] = self.sentinel
            return
        two = np.argpartition(sub, 1, axis=1)[:, :2]
        a = np.take_along_axis(sub, two, axis=1)
        swap = a[:, 1] < a[:, 0]
        first = np.where(swap, two[:, 1], two[:, 0])
        second = np.where(swap, two[:, 0], two[:, 1])
        self.f1[rows] = self.sites[first]
        self.f2[rows] = self.sites[second]
        self.c1[rows] = np.minimum(a[:, 0], a[:, 1])
        self.c2[rows] = np.maximum(a[:, 0], a[:, 1])

    def _book(self, rows: IntArray, sign: float) -> None:
        """Add (sign=+1) or remove (sign=-1) the contributions of `rows` to gain/loss/extra.

        Only candidates closer than a demand's second-closest open site contribute, so each
        row touches a short prefix of its distance-sorted candidate list.
        """
        w = sign * self.weights[rows]
        c1 = self.c1[rows]
        c2 = self.c2[rows]
        slots = self.slot_of[self.f1[rows]]
        self.loss += np.bincount(slots, weights=w * (c2 - c1), minlength=self.p)
        row_start = rows * self.m
        counts = np.searchsorted(self._flat_sorted, c2 + rows * self._row_span) - row_start
        total = int(counts.sum())
        if total == 0:
            return
        which = np.repeat(np.arange(len(rows)), counts)
        # Position of each touched entry in the flattened sorted arrays.
        flat = np.arange(total) + np.repeat(row_start - (np.cumsum(counts) - counts), counts)
        dist = self._flat_cost[flat]
        cand = self._flat_order[flat]
        wr, c1r = w[which], c1[which]
        closer = np.maximum(c1r - dist, 0.0)
        self.gain += np.bincount(cand, weights=wr * closer, minlength=self.m)
        won_back = wr * (c2[which] - np.maximum(dist, c1r))
        np.add.at(self._extra_flat, slots[which] * self.m + cand, won_back)

    def best_swap(self, slots: IntArray) -> tuple[int, int, float]:
        """The best (slot, candidate, delta) over closing a site in `slots` and opening any
        closed candidate; delta is the exact change of the objective."""
        if len(slots) == self.p:
            delta = np.subtract(self.loss[:, None], self.gain[None, :], out=self._buffer)
            delta -= self.extra
        else:
            delta = self.loss[slots][:, None] - self.gain[None, :] - self.extra[slots]
        delta[:, self.sites] = np.inf
        flat = int(np.argmin(delta))
        row, col = divmod(flat, self.m)
        return int(slots[row]), col, float(delta[row, col])

    def swap(self, slot: int, site: int) -> None:
        """Close the site in `slot` and open `site` in its place, re-booking affected demands."""
        closed = int(self.sites[slot])
        d_new = self.cost[:, site]
        lost = (self.f1 == closed) | (self.f2 == closed)
        gained = ~lost & (d_new < self.c2)
        rows = np.flatnonzero(lost | gained)
        self._book(rows, -1.0)
        self.extra[slot] = 0.0  # every demand booked on this slot was in `rows`
        self.loss[slot] = 0.0
        self.slot_of[closed] = -1
        self.slot_of[site] = slot
        self.sites[slot] = site
        # Demands that lost their closest or second-closest site: search all open sites.
        self._assign(np.flatnonzero(lost))
        # The others keep both; the new site only slides in as closest or second-closest.
        near = np.flatnonzero(gained)
        d = d_new[near]
        first = d < self.c1[near]
        top, second = near[first], near[~first]
        self.f2[top] = self.f1[top]
        self.c2[top] = self.c1[top]
        self.f1[top] = site
        self.c1[top] = d[first]
        self.f2[second] = site
        self.c2[second] = d[~first]
        self._book(rows, 1.0)
        self.objective = float(self.weights @ self.c1)

    def local_search(self, slots: IntArray, tol: float) -> int:
        """Best-improvement swaps until none improves by more than `tol`; returns moves made."""
        moves = 0
        while True:
            slot, site, delta = self.best_swap(slots)
            if delta >= -tol:
                return moves
            self.swap(slot, site)
            moves += 1

    def move_to(self, target: IntArray) -> None:
        """Swap, site by site, until the open set equals `target` (same size)."""
        wanted = set(int(j) for j in target)
        current = set(int(j) for j in self.sites)
        incoming = sorted(wanted - current)
        outgoing = sorted(current - wanted)
        for out, inc in zip(outgoing, incoming, strict=True):
            self.swap(int(self.slot_of[out]), inc)
