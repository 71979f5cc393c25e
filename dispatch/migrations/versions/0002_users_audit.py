"""Users (roles, argon2 password hashes) and the audit log of every action.

Revision ID: 0002_users_audit
Revises: 0001_initial
Create Date: 2026-11-23

The audit log is append-only like the event log (a trigger refuses UPDATE and DELETE).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002_users_audit"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
AUDIT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _is_pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "role IN ('dispatcher', 'crew', 'planner', 'admin')", name="ck_users_role"
        ),
        sa.CheckConstraint(
            "(role = 'crew') = (unit_id IS NOT NULL)", name="ck_users_crew_has_unit"
        ),
    )
    op.create_table(
        "audit_log",
        sa.Column("audit_id", AUDIT_ID, primary_key=True, autoincrement=True),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("detail", JSON, nullable=False),
    )
    op.create_index("ix_audit_log_at_s", "audit_log", ["at_s"])
    op.create_index("ix_audit_log_actor_at_s", "audit_log", ["actor", "at_s"])
    if _is_pg():
        op.execute(
            "CREATE FUNCTION h115_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only (%)', TG_OP; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION h115_audit_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("users")
    if _is_pg():
        op.execute("DROP FUNCTION IF EXISTS h115_audit_append_only()")
