"""An in-memory event repository: for unit tests and the simulator (same contract as SQL)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from mypy_extensions import mypyc_attr

from dispatch import events as ev
from dispatch.errors import ConcurrencyConflict, Conflict, ValidationError
from dispatch.undo import entity_keys


@mypyc_attr(allow_interpreted_subclasses=True)  # tests wrap it (counting, failing writes)
class InMemoryRepository:
    """Implements `dispatch.ports.EventRepository` in a list; thread-safe, not durable.

    `keep_events=False` (simulation) still numbers events but keeps none, so a simulated
    year does not hold every event in memory. `single_writer=True` (simulation: one service
    is the only writer) declares that no other writer exists: it keeps no entity versions,
    and the service writing to it skips its version and undo bookkeeping (`LiveLog`).
    """

    def __init__(self, *, keep_events: bool = True, single_writer: bool = False) -> None:
        self._events: list[ev.StoredEvent] = []
        self._versions: dict[str, int] = {}
        self._keys: dict[str, str] = {}
        self._last_seq = 0
        self._keep = keep_events
        self.single_writer = single_writer
        self._lock = threading.Lock()

    def append(
        self,
        events: Sequence[ev.Event],
        *,
        expected_versions: Mapping[str, int],
        idempotency_key: str | None = None,
    ) -> list[ev.StoredEvent]:
        """Store atomically if every expected version still holds, else ConcurrencyConflict."""
        with self._lock:
            versions = self._versions
            for key, version in expected_versions.items():
                if versions.get(key, 0) != version:
                    raise ConcurrencyConflict(f"{key} changed (now {versions.get(key, 0)})")
            created = None if idempotency_key is None else self._created(events, idempotency_key)
            stored = [ev.StoredEvent(seq, e) for seq, e in enumerate(events, self._last_seq + 1)]
            if not self.single_writer:
                for e in events:
                    for key in entity_keys(e):
                        versions[key] = versions.get(key, 0) + 1
            if idempotency_key is not None and created is not None:
                self._keys[idempotency_key] = created
            self._last_seq += len(stored)
            if self._keep:
                self._events.extend(stored)
            return stored

    def _created(self, events: Sequence[ev.Event], key: str | None) -> str | None:
        if key is None:
            return None
        created = [e.call_id for e in events if isinstance(e, ev.CallCreated)]
        if len(created) != 1:
            raise ValidationError("an idempotency key needs exactly one CallCreated in the batch")
        if key in self._keys:
            raise Conflict(f"idempotency key {key!r} already created call {self._keys[key]!r}")
        return created[0]

    def load_events(self, after_seq: int = 0) -> list[ev.StoredEvent]:
        """Events with seq > after_seq (seq n is at index n - 1 when events are kept)."""
        if not self._keep or after_seq >= self._last_seq:
            return []  # nothing newer (an int read is atomic; every command asks this first)
        with self._lock:
            if not self._keep:
                return []
            return self._events[max(after_seq, 0) :]

    def last_seq(self) -> int:
        with self._lock:
            return self._last_seq

    def call_id_for_idempotency_key(self, key: str) -> str | None:
        with self._lock:
            return self._keys.get(key)
