"""Siting problems (p-median, maximal covering) and their results, independent of any solver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Method = Literal["auto", "exact", "heuristic"]


class SitingError(ValueError):
    """An ill-posed siting problem (shapes, p, fixed sites) or a solver failure."""


@dataclass(frozen=True)
class SitingProblem:
    """Demand points, candidate sites and the cost of serving each demand from each site.

    cost: (n_demand, n_candidate) cost of serving demand i from site j (travel seconds or any
        distance; `inf` where unreachable).
    weights: (n_demand,) demand weight (population, calls); default 1 each.
    p: number of open sites in total, fixed ones included.
    fixed: candidate indices that must stay open (existing stations).
    """

    cost: FloatArray
    p: int
    weights: FloatArray = field(default_factory=lambda: np.empty(0))
    fixed: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        cost = np.asarray(self.cost, dtype=np.float64)
        if cost.ndim != 2 or cost.shape[0] == 0 or cost.shape[1] == 0:
            raise SitingError(f"cost must be a non-empty 2-D matrix, got shape {cost.shape}")
        if np.isnan(cost).any() or (cost < 0).any():
            raise SitingError("cost must be non-negative and not NaN (use inf for unreachable)")
        weights = np.asarray(self.weights, dtype=np.float64)
        if weights.size == 0:
            weights = np.ones(cost.shape[0])
        if weights.shape != (cost.shape[0],) or (weights < 0).any() or ~np.isfinite(weights).all():
            raise SitingError("weights must be finite, non-negative, one per demand row")
        fixed = tuple(sorted({int(j) for j in self.fixed}))
        if any(j < 0 or j >= cost.shape[1] for j in fixed):
            raise SitingError("fixed site index out of range")
        if not len(fixed) <= self.p <= cost.shape[1]:
            raise SitingError(f"need len(fixed)={len(fixed)} <= p={self.p} <= {cost.shape[1]}")
        object.__setattr__(self, "cost", cost)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "fixed", fixed)

    @property
    def n_demand(self) -> int:
        return int(self.cost.shape[0])

    @property
    def n_candidate(self) -> int:
        return int(self.cost.shape[1])

    def finite_cost(self) -> FloatArray:
        """The cost matrix with `inf` replaced by a penalty larger than any finite assignment."""
        cost = self.cost
        if np.isfinite(cost).all():
            return cost
        finite = cost[np.isfinite(cost)]
        top = float(finite.max()) if finite.size else 1.0
        # Worse than serving everyone at the largest finite cost: unserved demand never pays.
        positive = self.weights[self.weights > 0]
        smallest = float(positive.min()) if positive.size else 1.0
        penalty = (top + 1.0) * (float(self.weights.sum()) / smallest + 1.0)
        return np.where(np.isfinite(cost), cost, penalty)

    def pmedian_value(self, sites: tuple[int, ...] | list[int] | IntArray) -> float:
        """Weighted sum of each demand's cost to its nearest open site (inf if any unserved)."""
        idx = np.asarray(sites, dtype=np.int64)
        return float(self.weights @ self.cost[:, idx].min(axis=1))

    def covered_weight(self, sites: tuple[int, ...] | list[int] | IntArray, radius: float) -> float:
        """Weight of demand within `radius` (same unit as cost) of an open site."""
        idx = np.asarray(sites, dtype=np.int64)
        return float(self.weights @ (self.cost[:, idx].min(axis=1) <= radius))


@dataclass(frozen=True)
class SitingResult:
    """Open sites and the objective; `bound` and `gap` come from the exact solver.

    objective: p-median total weighted cost, or MCLP covered weight.
    bound: proven bound on the optimum (lower for p-median, upper for MCLP), None if unknown.
    gap: relative gap between objective and bound (0.0 when proven optimal), None if unknown.
    """

    sites: tuple[int, ...]
    objective: float
    method: str
    seconds: float
    optimal: bool = False
    bound: float | None = None
    gap: float | None = None
    iterations: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "sites": list(self.sites),
            "objective": self.objective,
            "method": self.method,
            "seconds": round(self.seconds, 4),
            "optimal": self.optimal,
            "bound": self.bound,
            "gap": self.gap,
            "iterations": self.iterations,
            **self.extra,
        }
