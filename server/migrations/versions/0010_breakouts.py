"""breakout groups: a group is a session whose parent is the plenary

Revision ID: 0010_breakouts
Revises: 0007_attendance_liveness
Create Date: 2026-12-05

rooms/breakouts.py: the plenary splits into groups (sessions of kind
"breakout" with a parent), each with its rapporteur; the plenary keeps when
its groups end and whether members choose their group; a group keeps when
it was closed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.models import UTCDateTime

revision: str = "0010_breakouts"
down_revision: str | Sequence[str] | None = "0007_attendance_liveness"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rapporteur_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("breakout_ends_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("breakout_choice", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_foreign_key("fk_sessions_parent", "sessions", ["parent_id"], ["id"], ondelete="CASCADE")
        batch.create_foreign_key(
            "fk_sessions_rapporteur", "participants", ["rapporteur_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_sessions_parent_id", ["parent_id"])


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_parent_id")
        batch.drop_constraint("fk_sessions_rapporteur", type_="foreignkey")
        batch.drop_constraint("fk_sessions_parent", type_="foreignkey")
        for column in ("breakout_choice", "breakout_ends_at", "closed_at", "rapporteur_id", "parent_id"):
            batch.drop_column(column)
