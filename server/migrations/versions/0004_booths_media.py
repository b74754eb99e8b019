"""booths: who holds each booth's microphone (the media relay reads it)

Revision ID: 0004_booths_media
Revises: 0003
Create Date: 2026-11-22

The minimal table of the booth contract; the interpretation work owns the
full one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_booths_media"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "booths",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column(
            "live_interpreter_id", sa.Integer(), sa.ForeignKey("participants.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("live_since", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("session_id", "language"),
    )
    op.create_index("ix_booths_session_id", "booths", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_booths_session_id", "booths")
    op.drop_table("booths")
