"""Duration distributions as scenario data (turnout, on scene, handover...), drawn in bulk."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dispatch.simulation.errors import ScenarioError

_PARAMS: dict[str, tuple[str, ...]] = {
    "fixed": ("value_s",),
    "exponential": ("mean_s",),
    "uniform": ("low_s", "high_s"),
    "triangular": ("low_s", "mode_s", "high_s"),
    "lognormal": ("median_s", "sigma"),
    "gamma": ("mean_s", "cv"),
}


@dataclass(frozen=True)
class Distribution:
    """One named distribution of durations in seconds, e.g. lognormal(median_s=900, sigma=0.5)."""

    kind: str
    params: tuple[tuple[str, float], ...]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Distribution:
        """Parse `{dist = "lognormal", median_s = 900, sigma = 0.5}`."""
        kind = str(data.get("dist", ""))
        if kind not in _PARAMS:
            raise ScenarioError(f"unknown distribution {kind!r}; use one of {sorted(_PARAMS)}")
        names = _PARAMS[kind]
        extra = set(data) - {"dist", *names}
        missing = [n for n in names if n not in data]
        if missing or extra:
            raise ScenarioError(f"{kind}: needs {names}, missing {missing}, unknown {extra}")
        params = tuple((n, float(data[n])) for n in names)
        if any(v < 0 for _, v in params):
            raise ScenarioError(f"{kind}: parameters must be non-negative")
        return cls(kind, params)

    def param(self, name: str) -> float:
        return dict(self.params)[name]

    @property
    def mean_s(self) -> float:
        """The distribution's mean in seconds (used by reports and the Erlang check)."""
        p = dict(self.params)
        if self.kind == "fixed":
            return p["value_s"]
        if self.kind in ("exponential", "gamma"):
            return p["mean_s"]
        if self.kind == "uniform":
            return (p["low_s"] + p["high_s"]) / 2
        if self.kind == "triangular":
            return (p["low_s"] + p["mode_s"] + p["high_s"]) / 3
        return p["median_s"] * math.exp(p["sigma"] ** 2 / 2)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` durations in seconds, as a float array."""
        p = dict(self.params)
        if self.kind == "fixed":
            return np.full(size, p["value_s"])
        if self.kind == "exponential":
            return rng.exponential(p["mean_s"], size)
        if self.kind == "uniform":
            return rng.uniform(p["low_s"], p["high_s"], size)
        if self.kind == "triangular":
            return rng.triangular(p["low_s"], p["mode_s"], p["high_s"], size)
        if self.kind == "lognormal":
            return np.asarray(rng.lognormal(math.log(max(p["median_s"], 1e-9)), p["sigma"], size))
        shape = 1.0 / max(p["cv"], 1e-9) ** 2
        return rng.gamma(shape, p["mean_s"] / shape, size)
