"""Table definitions shared by both backends: the event log (the record) and its read models.

Geometry columns exist only on PostgreSQL/PostGIS, where they are generated from `lon, lat`
(so they can never drift from them) and indexed with GIST; they are declared in
`dispatch.db.spatial`, not here, so that one `MetaData` serves SQLite and PostgreSQL alike.
The Alembic migrations in `dispatch/migrations` create these tables; a test checks that the
migrated database and this module agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

# The event seq is assigned by the repository (last + 1) while it holds the log's write
# lock, not by an identity/sequence: those leave gaps on rollback, and readers that resume
# from a seq (websocket clients) need the log gap-free and in commit order.
SEQ_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")
ID_TYPE = sa.String(64)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", SEQ_TYPE, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("call_id", ID_TYPE, nullable=True),
    sa.Column("unit_id", ID_TYPE, nullable=True),
    sa.Column("payload", JSON_TYPE, nullable=False),
    sa.Column("server_t", sa.Float(), nullable=False),
    sa.Column("device_t", sa.Float(), nullable=True),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Index("ix_events_call_id_seq", "call_id", "seq"),
    sa.Index("ix_events_unit_id_seq", "unit_id", "seq"),
    sa.Index("ix_events_server_t", "server_t"),
)

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("call_id", ID_TYPE, primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("priority", sa.String(8), nullable=True),
    sa.Column("lon", sa.Float(), nullable=False),
    sa.Column("lat", sa.Float(), nullable=False),
    sa.Column("created_at", sa.Float(), nullable=False),
    sa.Column("updated_at", sa.Float(), nullable=False),
    sa.Column("unit_id", ID_TYPE, nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=True),
    sa.Column("last_seq", sa.BigInteger(), nullable=False),
    sa.Column("doc", JSON_TYPE, nullable=False),
    sa.UniqueConstraint("idempotency_key", name="uq_calls_idempotency_key"),
    sa.Index("ix_calls_created_at", "created_at"),
    sa.Index("ix_calls_status", "status"),
    sa.Index("ix_calls_lat_lon", "lat", "lon"),
)

units = sa.Table(
    "units",
    metadata,
    sa.Column("unit_id", ID_TYPE, primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("call_id", ID_TYPE, nullable=True),
    sa.Column("lon", sa.Float(), nullable=True),
    sa.Column("lat", sa.Float(), nullable=True),
    sa.Column("position_at", sa.Float(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("last_seq", sa.BigInteger(), nullable=False),
    sa.Column("doc", JSON_TYPE, nullable=False),
    sa.Index("ix_units_status", "status"),
)

districts = sa.Table(
    "districts",
    metadata,
    sa.Column("district_id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("geojson", sa.Text(), nullable=False),
)

# Access control and the audit trail (migration 0002; used by web.security and web.audit).
users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("unit_id", sa.String(64), nullable=True),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.Float(), nullable=False),
    # Bumped on disable, new password, role or unit, and "sign out everywhere": tokens carry
    # the generation they were issued at, and an older one is refused (web.security).
    sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("audit_id", SEQ_TYPE, primary_key=True, autoincrement=True),
    sa.Column("at_s", sa.Float(), nullable=False),
    sa.Column("actor", sa.String(64), nullable=True),
    sa.Column("role", sa.String(16), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("action", sa.String(200), nullable=False),
    sa.Column("status", sa.Integer(), nullable=True),
    sa.Column("detail", JSON_TYPE, nullable=False),
    sa.Index("ix_audit_log_at_s", "at_s"),
    sa.Index("ix_audit_log_actor_at_s", "actor", "at_s"),
)

# The planner page's simulation jobs (migration 0004; web.planner_store): one row per job,
# shared by every server process. `instance` is the server process that runs the job and
# `heartbeat_s` its last sign of life; a job whose server is gone is marked failed.
planner_jobs = sa.Table(
    "planner_jobs",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("scenario", sa.String(100), nullable=False),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("days", sa.Float(), nullable=True),
    sa.Column("replications", sa.Integer(), nullable=True),
    sa.Column("hour_local", sa.Float(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("fraction", sa.Float(), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("created_s", sa.Float(), nullable=False),
    sa.Column("started_s", sa.Float(), nullable=True),
    sa.Column("finished_s", sa.Float(), nullable=True),
    sa.Column("result", JSON_TYPE, nullable=True),  # {"kpis", "layers"} of a finished job
    sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("instance", sa.String(200), nullable=False),
    sa.Column("heartbeat_s", sa.Float(), nullable=False),
    sa.Index("ix_planner_jobs_state", "state"),
    sa.Index("ix_planner_jobs_owner_state", "owner", "state"),
    sa.Index("ix_planner_jobs_created_s", "created_s"),
)
