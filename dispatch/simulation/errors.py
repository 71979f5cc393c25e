"""Errors of the simulation package."""

from __future__ import annotations


class SimulationError(Exception):
    """Base class of the simulator's errors."""


class ScenarioError(SimulationError):
    """A scenario file is malformed or refers to something that does not exist."""
