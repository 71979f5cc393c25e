"""The PostgreSQL LISTEN/NOTIFY bridge: events committed by other server processes reach this
process's websocket clients.

Every commit sends `NOTIFY h115_events <seq>` (dispatch.repository). A thread here LISTENs on
its own connection; on a notification newer than what this process has seen it makes the
dispatch service catch up with the log (`load_events(after last seq)`), and the service hands
those events to its subscribers: the hub (in seq order, gap-free) and the acknowledgement
timers. After a lost connection it reconnects with backoff and catches up at once (a
notification sent while it was away is not replayed by PostgreSQL); a slow poll covers the rest.

Other channels may ride on the same connection (`add_channel`: a name and a handler of the
payload), e.g. the planner's job messages (web.routes_planner); they are not replayed either.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
import sqlalchemy as sa

log = logging.getLogger(__name__)
CHANNEL = "h115_events"


def libpq_url(url: str) -> str:
    """A SQLAlchemy `postgresql+psycopg://` URL as a plain libpq one."""
    parsed = sa.make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


class NotifyBridge:
    """LISTEN in a thread; call `catch_up()` when another process may have committed."""

    def __init__(
        self,
        url: str,
        *,
        catch_up: Callable[[], None],
        last_seq: Callable[[], int],
        poll_s: float = 5.0,
        wait_s: float = 0.5,
    ) -> None:
        self._url = libpq_url(url)
        self._channels: dict[str, Callable[[str], None]] = {}
        self._listening: set[str] = set()  # on the current connection
        self._catch_up = catch_up
        self._last_seq = last_seq
        self._poll_s = poll_s
        self._wait_s = wait_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="h115-notify", daemon=True)
        self.notifications = 0
        self.catch_ups = 0
        self.reconnects = 0
        self.connected = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def add_channel(self, channel: str, handler: Callable[[str], None]) -> Callable[[], None]:
        """Also LISTEN on `channel` (within `wait_s`), calling `handler(payload)` in the
        listener's thread; returns the function that stops delivering to it."""
        self._channels = self._channels | {channel: handler}  # replaced whole: no lock needed

        def remove() -> None:
            self._channels = {k: v for k, v in self._channels.items() if k != channel}

        return remove

    def wait_listening(self, channel: str, timeout_s: float) -> bool:
        """Wait until the listener LISTENs on `channel`; False if it did not in time."""
        deadline = time.monotonic() + timeout_s
        while channel not in self._listening:
            if time.monotonic() >= deadline or self._stop.is_set():
                return False
            time.sleep(0.02)
        return True

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)

    def _run(self) -> None:
        backoff_s = 0.2
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=3) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening = set()
                    self._listen_more(conn)
                    self.connected.set()
                    backoff_s = 0.2
                    self._sync()  # whatever was committed while we were not listening
                    self._listen(conn)
            except psycopg.Error as exc:
                self.connected.clear()
                self.reconnects += 1
                log.warning("event listener lost the database (%s); retrying", type(exc).__name__)
                self._stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)
        self.connected.clear()

    def _listen(self, conn: psycopg.Connection) -> None:
        idle_s = 0.0
        while not self._stop.is_set():
            synced = False
            self._listen_more(conn)
            for note in conn.notifies(timeout=self._wait_s):
                self.notifications += 1
                if note.channel != CHANNEL:
                    self._deliver(note.channel, note.payload)
                elif note.payload.isdigit() and int(note.payload) > self._last_seq():
                    self._sync()  # at once: this is the path of a live event
                    synced = True
            idle_s = 0.0 if synced else idle_s + self._wait_s
            if idle_s >= self._poll_s:
                conn.execute("SELECT 1")  # notices a dead connection even when all is quiet
                self._sync()
                idle_s = 0.0

    def _listen_more(self, conn: psycopg.Connection) -> None:
        for channel in set(self._channels) - self._listening:
            conn.execute(f"LISTEN {channel}")
            self._listening.add(channel)

    def _deliver(self, channel: str, payload: str) -> None:
        handler = self._channels.get(channel)
        if handler is None:  # removed meanwhile
            return
        try:
            handler(payload)
        except Exception:  # a bad message must not stop the listener
            log.exception("handling a notification on %s failed", channel)

    def _sync(self) -> None:
        try:
            self._catch_up()
            self.catch_ups += 1
        except Exception:  # the listener must survive a failed catch-up; the next one retries
            log.exception("catching up with the event log failed")
