"""Token generation per user, so that tokens can be revoked before they expire.

Revision ID: 0003_token_generation
Revises: 0002_users_audit
Create Date: 2026-11-30

Every token carries its user's generation; disabling the user, a new password, role or unit
and "sign out everywhere" bump it, and tokens of an older generation are refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_token_generation"
down_revision = "0002_users_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("users", "token_generation")
