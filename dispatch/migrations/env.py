"""Alembic environment: runs the revisions on the connection handed over by dispatch.db.migrate."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from dispatch.db.engine import make_engine
from dispatch.db.schema import metadata

MIGRATION_LOCK_KEY = 0x115_A1E1  # two servers starting at once must not both migrate


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
        transactional_ddl=True,  # both backends roll DDL back: a half migration never sticks
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        context.run_migrations()


def run_migrations_online() -> None:
    """Use the caller's connection if given, else open one from `sqlalchemy.url`."""
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `hanoi115 db upgrade`")
run_migrations_online()
