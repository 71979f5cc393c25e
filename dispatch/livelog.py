"""The live state kept equal to an event log: commit a command's batch, then publish it.

`LiveLog` is the base of `DispatchService`: under one lock it catches up with the log
(other processes may have written), lets a command decide and emit events, commits them
through the repository (optimistic versions), rolls the state back if that fails, and only
after the commit tells the listeners, in seq order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from dispatch import events as ev
from dispatch.errors import RollbackImpossible
from dispatch.model import DispatchState
from dispatch.ports import EventRepository
from dispatch.transitions import Batch, replay, rollback

T = TypeVar("T")
Listener = Callable[[Sequence[ev.StoredEvent]], None]


class LiveLog:
    """State rebuilt from `repo` and advanced by committed batches only."""

    def __init__(self, repo: EventRepository) -> None:
        self._repo = repo
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._state = self._rebuild()
        # A log nobody else writes (the simulator's) needs no versions and no undo records;
        # a command failing half-way then leaves the state unusable, and the service says so.
        self._tracked = not getattr(repo, "single_writer", False)
        self._broken: str | None = None

    @property
    def state(self) -> DispatchState:
        """The live state (read it; never mutate it)."""
        return self._state

    def events_since(self, seq: int) -> list[ev.StoredEvent]:
        """Stored events after `seq` (for a client resuming)."""
        return self._repo.load_events(after_seq=seq)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(events)` after each commit, in seq order; returns an unsubscribe."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _run(
        self, decide: Callable[[DispatchState, Batch], T], *, idempotency_key: str | None = None
    ) -> T:
        """Run one command: decide on the live state, commit, then publish."""
        with self._lock:
            if self._broken is not None:
                raise RollbackImpossible(self._broken)
            self._catch_up()
            batch = Batch(tracked=self._tracked)
            try:
                result = decide(self._state, batch)
                stored = self._store(batch, idempotency_key)
            except BaseException as exc:
                if not batch.tracked and batch.events:
                    self._broken = f"a command failed after changing the state: {exc!r}"
                    raise
                rollback(self._state, batch)
                raise
            self._advance(stored)
            return result

    def _store(self, batch: Batch, idempotency_key: str | None) -> list[ev.StoredEvent]:
        if not batch.events:
            return []
        return self._repo.append(
            batch.events, expected_versions=batch.expected_versions, idempotency_key=idempotency_key
        )

    def _advance(self, stored: list[ev.StoredEvent]) -> None:
        """Our events are applied; account for their seqs, then tell the listeners."""
        if stored and stored[0].seq != self._state.last_seq + 1:
            # Another process committed between our catch-up and our commit (on other
            # entities, or the optimistic check would have failed): rebuild to keep the order,
            # then tell the listeners every event up to the rebuilt state, ours included.
            before = self._state.last_seq
            self._state = self._rebuild()
            upto = self._state.last_seq
            self._publish([s for s in self._repo.load_events(after_seq=before) if s.seq <= upto])
        elif stored:
            self._state.last_seq = stored[-1].seq
            self._publish(stored)

    def _rebuild(self) -> DispatchState:
        """The whole state from the repository: its read models when it keeps them (one
        snapshot, whatever the log's length), else a replay of the whole log."""
        read_models: Callable[[], DispatchState] | None = getattr(
            self._repo, "read_model_state", None
        )
        return read_models() if read_models is not None else replay(self._repo.load_events())

    def _catch_up(self) -> None:
        if not self._tracked:  # a single-writer log holds nothing we did not write
            return
        newer = self._repo.load_events(after_seq=self._state.last_seq)
        if newer:
            replay(newer, self._state)
            self._publish(newer)

    def _publish(self, stored: Sequence[ev.StoredEvent]) -> None:
        for listener in list(self._listeners):
            listener(stored)
