"""AVL fixes from crew sockets, written by one worker thread that keeps only each unit's newest.

Each fix is a committed event (`PositionReported`). The writer commits every fix waiting at
that moment in one transaction (`DispatchService.report_positions`: one durable commit for
the group, still one event per fix, none published before the commit), so the fixes of all
units cost one fsync, not one each. Under a steady stream it commits at most every `group_s`
(0.1 s: a fix may wait that long before its commit, invisible on a map updated each second),
so each commit, and each websocket frame, carries several fixes. When fixes arrive faster
than they commit, an older fix still waiting for a unit is replaced by the newer one: the map
wants where the ambulance is now, not where it was.
(The REST endpoint writes synchronously, one fix per request, committed before it answers.)

Commands from people (a dispatcher creating a call, a crew pressing a button) come first: while
any API request is in progress the writer waits (at most `max_wait_s`), so a stream of AVL
commits never makes a dispatcher queue for the service's lock.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dispatch.avl import PositionFix
from dispatch.errors import ConcurrencyConflict
from dispatch.model import EventSource, Point

if TYPE_CHECKING:
    from dispatch.service import DispatchService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report of a unit's device."""

    position: Point
    device_time_s: float | None = None
    speed_kph: float | None = None
    heading_deg: float | None = None


class PositionWriter:
    """One thread committing the latest pending fix of every unit, all in one commit."""

    def __init__(
        self, service: DispatchService, *, max_wait_s: float = 1.0, group_s: float = 0.1
    ) -> None:
        self._service = service
        self._max_wait_s = max_wait_s
        self._group_s = group_s
        self._last_start_s = -math.inf  # monotonic time the last commit started
        self._pending: dict[str, Fix] = {}
        self._cv = threading.Condition()
        self._busy = 0  # API requests in progress
        self._idle = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None
        self.written = 0
        self.batches = 0  # commits (each holds every fix pending when it started)
        self.superseded = 0
        self.failed = 0

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="h115-avl", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        with self._cv:
            self._running = False
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def submit(self, unit_id: str, fix: Fix) -> None:
        """Queue a fix; replaces the unit's fix still waiting, if any."""
        with self._cv:
            if self._pending.pop(unit_id, None) is not None:
                self.superseded += 1
            self._pending[unit_id] = fix
            self._cv.notify()

    @contextmanager
    def priority(self) -> Iterator[None]:
        """Hold the writer back while a request is served (see the module docstring)."""
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                if self._busy == 0:
                    self._idle.notify_all()

    def _wait_for_requests(self) -> None:
        deadline = time.monotonic() + self._max_wait_s
        with self._idle:
            while self._busy > 0 and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)

    def _wait_for_group(self) -> None:
        """At most one commit per `group_s`: under a steady stream each commit carries the
        fixes of that interval (fewer fsyncs, one frame per client per commit); a fix after
        a quiet spell is written at once."""
        left_s = self._last_start_s + self._group_s - time.monotonic()
        if left_s > 0:
            with self._cv:
                self._cv.wait_for(lambda: not self._running, timeout=left_s)

    def _loop(self) -> None:
        while True:
            with self._cv:
                while self._running and not self._pending:
                    self._cv.wait()
                stopping = not self._running
            if not stopping:
                self._wait_for_requests()
                self._wait_for_group()
            with self._cv:
                pending, self._pending = self._pending, {}
            if pending:
                self._last_start_s = time.monotonic()
                self._write(pending)
            if stopping:
                return

    def _write(self, pending: dict[str, Fix]) -> None:
        """Commit every pending fix in one transaction (one event each); retry a batch that
        lost an optimistic race once (the service catches up with the log first)."""
        fixes = [
            PositionFix(
                unit_id=unit_id,
                position=fix.position,
                device_at_s=fix.device_time_s,
                speed_kph=fix.speed_kph,
                heading_deg=fix.heading_deg,
                actor=f"crew:{unit_id}",
                source=EventSource.AVL,
            )
            for unit_id, fix in pending.items()
        ]
        for attempt in range(2):
            try:
                outcomes = self._service.report_positions(fixes)
                break
            except ConcurrencyConflict:
                if attempt == 1:
                    self.failed += len(fixes)
                    log.warning("%d positions not recorded: concurrent writes", len(fixes))
                    return
            except Exception:  # the worker must survive a storage outage; the error is logged
                self.failed += len(fixes)
                log.exception("%d positions not recorded", len(fixes))
                return
        self.batches += 1
        for fix, problem in zip(fixes, outcomes, strict=True):
            if problem is None:
                self.written += 1
            else:
                self.failed += 1
                log.info("position of %s not recorded: %s", fix.unit_id, problem)
