"""Run the packaged Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from dispatch.db.engine import make_engine, storage_errors

SCRIPT_LOCATION = "dispatch:migrations"
# Alembic keeps its running context in module globals: one migration per process at a time.
# (Separate processes are serialised by the database: the write lock or an advisory lock.)
_ALEMBIC = threading.Lock()


def alembic_config(url: str) -> Config:
    """An Alembic configuration built in code, pointing at the migrations in this package."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this package."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found in the package")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with storage_errors(engine.url), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str, *, revision: str = "head", engine: sa.Engine | None = None) -> str:
    """Migrate the database at `url` up to `revision`; returns the revision reached."""
    own = engine is None
    eng = make_engine(url) if engine is None else engine
    try:
        with _ALEMBIC, storage_errors(eng.url), eng.connect() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        reached = current_revision(eng)
    finally:
        if own:
            eng.dispose()
    if reached is None:
        raise RuntimeError("migration finished without a revision")
    return reached
