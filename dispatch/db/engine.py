"""Engine set-up for both backends, and the translation of "database down" into one exception.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every write
transaction starts with `BEGIN IMMEDIATE`, so concurrent writers queue on the database lock
instead of failing half-way; PostgreSQL connections are pinged before use, so the pool heals
by itself after a server restart.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc

from dispatch.db.errors import StorageUnavailable
from dispatch.errors import ValidationError

SQLITE_BUSY_TIMEOUT_MS = 30_000
EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), as used by PostGIS geography spheres
READ_ONLY = {"h115_read_only": True}


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two lon/lat points on a spherical Earth."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def make_engine(url: str, *, echo: bool = False) -> sa.Engine:
    """Create an engine for `sqlite:///file` or `postgresql+psycopg://...`.

    A relative SQLite path is relative to the working directory; its folder is created.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10)
    raise ValidationError(
        f"unsupported database URL {parsed.render_as_string()!r}: use sqlite:/// or "
        "postgresql+psycopg://",
        field="database_url",
    )


def _sqlite_engine(url: sa.URL, *, echo: bool) -> sa.Engine:
    if not url.database or url.database == ":memory:":
        raise ValueError("the embedded database must be a file (sqlite:///path/to/file.db)")
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )
    sa_event.listen(engine, "connect", _on_sqlite_connect)
    sa_event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Take transaction control from the sqlite3 module: SQLAlchemy's "begin" hook below
    # issues BEGIN itself (the SQLAlchemy documentation's recipe for pysqlite).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=FULL")  # acknowledged means on disk, even on power loss
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    dbapi_conn.create_function("h115_haversine_m", 4, haversine_m, deterministic=True)


def _on_sqlite_begin(conn: sa.Connection) -> None:
    # A deferred BEGIN that later writes can fail with SQLITE_BUSY without waiting (lock
    # upgrade deadlock); IMMEDIATE takes the write lock up front and waits for it.
    read_only = conn.get_execution_options().get("h115_read_only", False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_postgres(engine: sa.Engine | sa.Connection) -> bool:
    """True when the engine or connection speaks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


@contextmanager
def storage_errors(url: sa.URL | str) -> Iterator[None]:
    """Re-raise connection-level failures as `StorageUnavailable` (the web layer's 503)."""
    try:
        yield
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        safe = sa.make_url(url).render_as_string(hide_password=True)
        raise StorageUnavailable(f"database {safe} unavailable: {exc.orig}") from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise StorageUnavailable(f"database connection lost: {exc.orig}") from exc
        raise
