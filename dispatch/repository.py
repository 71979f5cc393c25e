"""The SQL event repository: the append-only log plus read models, on SQLite or PostGIS.

`SqlRepository` implements `dispatch.ports.EventRepository`. `append` commits before it
returns (a decision is durable before anyone is told), then hands the stored events to the
subscribers registered with `subscribe` (the web layer's websocket hub). On PostgreSQL the
commit also sends `NOTIFY h115_events` with the newest seq, so other server processes can
catch up with `load_events(after_seq)`.

Writers are serialised on the log (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-level
advisory lock), which keeps `seq` gap-free and in commit order; optimistic concurrency is
checked against the stored entity versions inside that transaction, and every read-model
update is a conditional `UPDATE ... WHERE version = :v`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from dispatch import events as ev
from dispatch import transitions
from dispatch.db import history, projection
from dispatch.db.engine import READ_ONLY, is_postgres, make_engine, storage_errors
from dispatch.db.errors import IdempotencyKeyReused, StorageUnavailable
from dispatch.db.migrate import upgrade
from dispatch.db.schema import calls, events
from dispatch.errors import ConcurrencyConflict, ValidationError
from dispatch.model import DispatchState

__all__ = ["IdempotencyKeyReused", "SqlRepository", "StorageUnavailable"]

log = logging.getLogger(__name__)

Listener = Callable[[Sequence[ev.StoredEvent]], None]
LOG_LOCK_KEY = 0x115_0E7E  # pg_advisory_xact_lock key guarding the event log's tail
NOTIFY_CHANNEL = "h115_events"
IDEMPOTENCY_FIELD = projection.IDEMPOTENCY_FIELD


class SqlRepository:
    """Event log and read models in one SQL database (see the module docstring)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> SqlRepository:
        """Connect to `url` (and bring its schema up to date unless `migrate` is False)."""
        engine = make_engine(url)
        if migrate:
            upgrade(url, engine=engine)
        return cls(engine)

    @property
    def is_postgis(self) -> bool:
        return is_postgres(self.engine)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # -- the EventRepository protocol ------------------------------------------------------

    def append(
        self,
        events: Sequence[ev.Event],
        *,
        expected_versions: Mapping[str, int],
        idempotency_key: str | None = None,
    ) -> list[ev.StoredEvent]:
        """Store `events` atomically, or raise ConcurrencyConflict and store nothing.

        `idempotency_key` (optional) is recorded on the call that the batch's `CallCreated`
        creates; reusing a key raises `IdempotencyKeyReused` naming the existing call.
        """
        if not events:
            return []
        created = _created_call_id(events, idempotency_key)
        try:
            with storage_errors(self.engine.url), self.engine.begin() as conn:
                stored = self._append_in(
                    conn, events, dict(expected_versions), created, idempotency_key
                )
        except sa_exc.IntegrityError as exc:
            self._raise_integrity(exc, idempotency_key)
        self._publish(stored)
        return stored

    def load_events(self, after_seq: int = 0, *, limit: int | None = None) -> list[ev.StoredEvent]:
        """Events with `seq > after_seq`, in order (at most `limit` of them)."""
        query = sa.select(events.c.seq, events.c.payload).where(events.c.seq > after_seq)
        query = query.order_by(events.c.seq).limit(limit)
        with storage_errors(self.engine.url), self._read() as conn:
            rows = conn.execute(query).all()
        return [ev.StoredEvent(seq=seq, event=ev.event_from_dict(doc)) for seq, doc in rows]

    def last_seq(self) -> int:
        """The highest stored seq (0 for an empty log)."""
        with storage_errors(self.engine.url), self._read() as conn:
            return _last_seq(conn)

    # -- beyond the protocol ---------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(stored_events)` after each commit; returns an unsubscribe function.

        Listeners run in the committing thread, after the commit, so a slow listener delays
        the caller's acknowledgement but never the durability of the events.
        """
        with self._listeners_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def replay_state(self) -> DispatchState:
        """Live state rebuilt from the whole event log (what a restarted server does)."""
        return transitions.replay(self.load_events())

    def read_model_state(self) -> DispatchState:
        """Live state as the read-model tables hold it (equal to `replay_state`), with the
        seq of the last event it includes: both read in one snapshot of the database, so a
        commit landing meanwhile is in neither (a service then catches up from that seq).
        What a restarting service loads, instead of replaying a log of months of AVL fixes."""
        with storage_errors(self.engine.url), self._snapshot_read() as conn:
            state = projection.read_state(conn)
            state.last_seq = _last_seq(conn)
        return state

    def rebuild_read_models(self) -> int:
        """Recompute the calls and units tables from the log (after a domain change); returns
        the number of events replayed."""
        with storage_errors(self.engine.url), self.engine.begin() as conn:
            if is_postgres(conn):
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(LOG_LOCK_KEY)))
            rows = conn.execute(sa.select(events.c.seq, events.c.payload).order_by(events.c.seq))
            return projection.rebuild(conn, rows)

    def call_id_for_idempotency_key(self, key: str) -> str | None:
        """The call created with this idempotency key, if any."""
        query = sa.select(calls.c.call_id).where(calls.c.idempotency_key == key)
        with storage_errors(self.engine.url), self._read() as conn:
            return conn.execute(query).scalar_one_or_none()

    def calls_within(
        self, lon: float, lat: float, *, radius_m: float, since_s: float, until_s: float
    ) -> list[str]:
        """Ids of calls created in [since_s, until_s) within `radius_m` of the point."""
        with storage_errors(self.engine.url), self._read() as conn:
            return history.calls_within(
                conn, lon, lat, radius_m=radius_m, since_s=since_s, until_s=until_s
            )

    def load_districts(self, geojson_file: Path) -> int:
        """Replace the districts table with the polygons of a GeoJSON file; returns the count."""
        with storage_errors(self.engine.url), self.engine.begin() as conn:
            return history.load_districts(conn, geojson_file)

    def call_counts_by_district(self, *, since_s: float, until_s: float) -> dict[str, int]:
        """Calls created in [since_s, until_s) per district name (every district listed)."""
        with storage_errors(self.engine.url), self._read() as conn:
            return history.call_counts_by_district(conn, since_s=since_s, until_s=until_s)

    # -- internals -------------------------------------------------------------------------

    def _read(self) -> sa.Connection:
        return self.engine.connect().execution_options(**READ_ONLY)

    def _snapshot_read(self) -> sa.Connection:
        """A read transaction whose statements all see one snapshot: REPEATABLE READ on
        PostgreSQL (its default, READ COMMITTED, gives each statement its own); SQLite's
        deferred BEGIN in WAL mode already does."""
        conn = self._read()
        if self.is_postgis:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        return conn

    def _append_in(
        self,
        conn: sa.Connection,
        batch: Sequence[ev.Event],
        expected: dict[str, int],
        created_call_id: str | None,
        idempotency_key: str | None,
    ) -> list[ev.StoredEvent]:
        if is_postgres(conn):
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(LOG_LOCK_KEY)))
        last = _last_seq(conn)
        snap = projection.load_snapshot(conn, batch, last)
        projection.check_expected(snap, expected)
        for event in batch:  # the domain's own mutator; raises if the batch is not legal now
            transitions.apply(snap.state, event)
        stored = [ev.StoredEvent(seq=last + i, event=e) for i, e in enumerate(batch, start=1)]
        rows = [_event_row(s) for s in stored]
        if idempotency_key is not None:  # kept in the log too, so a rebuild keeps it
            for row, item in zip(rows, stored, strict=True):
                if isinstance(item.event, ev.CallCreated):
                    row["payload"][IDEMPOTENCY_FIELD] = idempotency_key
        conn.execute(sa.insert(events), rows)
        projection.write_back(
            conn,
            snap,
            stored,
            idempotency_key=idempotency_key,
            created_call_id=created_call_id,
        )
        if is_postgres(conn):
            conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, str(stored[-1].seq))))
        return stored

    def _raise_integrity(self, exc: sa_exc.IntegrityError, key: str | None) -> NoReturn:
        existing = self.call_id_for_idempotency_key(key) if key is not None else None
        if existing is not None:
            raise IdempotencyKeyReused(key or "", call_id=existing) from exc
        raise ConcurrencyConflict(f"concurrent write rejected by the database: {exc.orig}") from exc

    def _publish(self, stored: list[ev.StoredEvent]) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(stored)
            except Exception:  # the events are committed: one bad listener must not undo that
                log.exception("event listener %r failed after seq %d", listener, stored[-1].seq)


def _last_seq(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0))).scalar_one())


def _created_call_id(batch: Sequence[ev.Event], key: str | None) -> str | None:
    created = [e.call_id for e in batch if isinstance(e, ev.CallCreated)]
    if key is None:
        return None
    if len(created) != 1:
        raise ValidationError("an idempotency key needs exactly one CallCreated in the batch")
    return created[0]


def _event_row(item: ev.StoredEvent) -> dict[str, Any]:
    event = item.event
    unit_ids, call_ids = event.unit_ids(), event.call_ids()
    return {
        "seq": item.seq,
        "type": event.type,
        "call_id": call_ids[-1] if call_ids else getattr(event, "call_id", None),
        "unit_id": unit_ids[0] if unit_ids else getattr(event, "unit_id", None),
        "payload": event.to_dict(),
        "server_t": event.at_s,
        "device_t": event.device_at_s,
        "actor": event.actor,
        "source": event.source.value,
    }
