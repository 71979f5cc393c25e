"""The planner page's simulation jobs, so that they survive a restart and every process sees them.

Revision ID: 0004_planner_jobs
Revises: 0003_token_generation
Create Date: 2026-11-23

One row per job (its state, progress, KPIs and coverage layers); the full results stay in the
planner folder (H115_PLANNER_DIR). `instance` and `heartbeat_s` say which server process runs
a job and when it last showed life, so that a job left by a dead server is marked failed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004_planner_jobs"
down_revision = "0003_token_generation"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "planner_jobs",
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
        sa.Column("result", JSON, nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("instance", sa.String(200), nullable=False),
        sa.Column("heartbeat_s", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed', 'cancelled')",
            name="ck_planner_jobs_state",
        ),
    )
    op.create_index("ix_planner_jobs_state", "planner_jobs", ["state"])
    op.create_index("ix_planner_jobs_owner_state", "planner_jobs", ["owner", "state"])
    op.create_index("ix_planner_jobs_created_s", "planner_jobs", ["created_s"])


def downgrade() -> None:
    op.drop_table("planner_jobs")
