"""Initial schema: the append-only event log, calls and units read models, districts.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-23

Dialect-aware: on PostgreSQL the points and polygons also get PostGIS geometry columns
(SRID 4326) generated from `lon, lat` / the GeoJSON text, with GIST indexes, and the
event log is protected against UPDATE, DELETE and TRUNCATE by a trigger; on SQLite the
same protection is two triggers, and there are no geometry columns (SpatiaLite is not needed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
ID = sa.String(64)
POINT_SQL = "ST_SetSRID(ST_MakePoint(lon, lat), 4326)"
DISTRICT_SQL = "ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326))"


def _is_pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _geom(kind: str, expression: str) -> sa.Column[object]:
    geometry = Geometry(kind, srid=4326, spatial_index=False)
    return sa.Column("geom", geometry, sa.Computed(expression, persisted=True))


def upgrade() -> None:
    pg = _is_pg()
    if pg:
        _ensure_postgis()
    _create_events(pg)
    _create_calls(pg)
    _create_units(pg)
    _create_districts(pg)


def _ensure_postgis() -> None:
    bind = op.get_bind()
    have = bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first()
    if have is None:  # creating it needs rights a production role may lack; skip if present
        op.execute("CREATE EXTENSION postgis")


def _create_events(pg: bool) -> None:
    op.create_table(
        "events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("call_id", ID, nullable=True),
        sa.Column("unit_id", ID, nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("server_t", sa.Float(), nullable=False),
        sa.Column("device_t", sa.Float(), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
    )
    op.create_index("ix_events_call_id_seq", "events", ["call_id", "seq"])
    op.create_index("ix_events_unit_id_seq", "events", ["unit_id", "seq"])
    op.create_index("ix_events_server_t", "events", ["server_t"])
    if pg:
        op.execute(
            "CREATE FUNCTION h115_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'events are append-only (%)', TG_OP; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION h115_events_append_only()"
        )
        op.execute(
            "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
            "FOR EACH STATEMENT EXECUTE FUNCTION h115_events_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
                "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
            )


def _create_calls(pg: bool) -> None:
    extra = [_geom("POINT", POINT_SQL)] if pg else []
    op.create_table(
        "calls",
        sa.Column("call_id", ID, primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(8), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("unit_id", ID, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("doc", JSON, nullable=False),
        *extra,
        sa.UniqueConstraint("idempotency_key", name="uq_calls_idempotency_key"),
    )
    op.create_index("ix_calls_created_at", "calls", ["created_at"])
    op.create_index("ix_calls_status", "calls", ["status"])
    op.create_index("ix_calls_lat_lon", "calls", ["lat", "lon"])
    if pg:
        op.create_index("ix_calls_geom", "calls", ["geom"], postgresql_using="gist")
        # Radius queries cast to geography (metres on the spheroid); index that expression.
        op.execute("CREATE INDEX ix_calls_geog ON calls USING gist ((geom::geography))")


def _create_units(pg: bool) -> None:
    extra = [_geom("POINT", POINT_SQL)] if pg else []
    op.create_table(
        "units",
        sa.Column("unit_id", ID, primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("call_id", ID, nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("position_at", sa.Float(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("doc", JSON, nullable=False),
        *extra,
    )
    op.create_index("ix_units_status", "units", ["status"])
    if pg:
        op.create_index("ix_units_geom", "units", ["geom"], postgresql_using="gist")


def _create_districts(pg: bool) -> None:
    extra = [_geom("MULTIPOLYGON", DISTRICT_SQL)] if pg else []
    op.create_table(
        "districts",
        sa.Column("district_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("geojson", sa.Text(), nullable=False),
        *extra,
    )
    if pg:
        op.create_index("ix_districts_geom", "districts", ["geom"], postgresql_using="gist")


def downgrade() -> None:
    for table in ("districts", "units", "calls", "events"):
        op.drop_table(table)
    if _is_pg():
        op.execute("DROP FUNCTION IF EXISTS h115_events_append_only()")
