"""Small interfaces through which the dispatch core reaches the world: travel times, event log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from routing.errors import RoutingError

if TYPE_CHECKING:
    from dispatch.events import Event, StoredEvent


class SnappedPoint(Protocol):
    """A location tied to the road graph, as the routing engine returns it."""

    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...
    @property
    def offroad_m(self) -> float: ...
    @property
    def offroad_s(self) -> float: ...


class TravelTimes(Protocol):
    """Travel times on the road network at a departure time (epoch seconds, UTC).

    Implemented by `routing.engine.Router`; tests may pass a hand-made fake. Times include
    the off-road legs (walking with a stretcher) at both ends; `None` means unreachable.
    """

    def snap(self, lon: float, lat: float) -> SnappedPoint: ...

    def eta_many_to_one(
        self, origins: Sequence[SnappedPoint], dest: SnappedPoint, *, at_s: float
    ) -> list[float | None]: ...

    def eta_one_to_many(
        self, origin: SnappedPoint, dests: Sequence[SnappedPoint], *, at_s: float
    ) -> list[float | None]: ...


class EventRepository(Protocol):
    """The append-only event log the dispatch service writes through (SQLite, PostGIS, memory).

    Optimistic concurrency: every event names the entities it changes
    (`Event.entity_keys()`: `unit:<id>`, `call:<id>`). An entity's version is the number of
    events in the log that name it (0 if none). `append` commits all events in one
    transaction, only if every key in `expected_versions` still has that version, else it
    raises `dispatch.errors.ConcurrencyConflict` and stores nothing. Sequence numbers are
    global, gap-free and increasing (1, 2, ...), in the order of `events`.
    """

    def append(
        self,
        events: Sequence[Event],
        *,
        expected_versions: Mapping[str, int],
        idempotency_key: str | None = None,
    ) -> list[StoredEvent]:
        """Store atomically or raise. `idempotency_key`: recorded on the batch's one
        `CallCreated`; a reused key raises a `Conflict` and stores nothing."""
        ...

    def load_events(self, after_seq: int = 0) -> list[StoredEvent]:
        """Events with `seq > after_seq`, in order."""
        ...

    def last_seq(self) -> int:
        """The highest stored seq (0 for an empty log)."""
        ...

    def call_id_for_idempotency_key(self, key: str) -> str | None:
        """The call created with this idempotency key, if any."""
        ...


# What a TravelTimes raises for a point it cannot place on the network (outside the service
# area). The routing engine is the adapter; the domain names its error here, in one place.
TravelTimesError: type[Exception] = RoutingError
