"""Errors raised by the routing package; the web layer maps them to HTTP statuses in one place."""

from __future__ import annotations


class RoutingError(Exception):
    """Base class of every error raised by `routing`."""


class OutsideServiceArea(RoutingError):
    """A point lies farther from any road of the graph than the snap limit allows."""

    def __init__(self, lon: float, lat: float, distance_m: float, limit_m: float) -> None:
        super().__init__(
            f"point ({lon:.6f}, {lat:.6f}) is {distance_m:.0f} m from the nearest road "
            f"(limit {limit_m:.0f} m): outside the service area"
        )
        self.lon = lon
        self.lat = lat
        self.distance_m = distance_m
        self.limit_m = limit_m


class ProfileError(RoutingError):
    """A travel-time profile file is missing a section or holds an invalid value."""


class GraphBuildError(RoutingError):
    """The OSM input cannot be turned into a routable graph (missing file, empty graph)."""


class ArtifactError(RoutingError):
    """A compiled graph folder is missing, incomplete, or of an unsupported format version."""
