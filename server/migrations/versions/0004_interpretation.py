"""interpretation: booths with their mic lock, interpreters and captioners, chat, captions, presence

Revision ID: 0004_interpretation
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_interpretation"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def _participant(name: str, nullable: bool = True, ondelete: str = "SET NULL") -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("participants.id", ondelete=ondelete), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "language_assignments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        _participant("participant_id", nullable=False, ondelete="CASCADE"),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("works_from", sa.JSON(), nullable=False),
        sa.UniqueConstraint("participant_id", "role"),
    )
    op.create_index("ix_language_assignments_event_id", "language_assignments", ["event_id"])
    op.create_table(
        "booths",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        _participant("live_interpreter_id"),
        sa.Column("live_since", WHEN, nullable=True),
        _participant("handover_requester_id"),
        sa.Column("handover_requested_at", WHEN, nullable=True),
        sa.Column("is_auto_relay", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("is_passthrough", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("relay_advice", sa.String(8), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.UniqueConstraint("session_id", "language"),
    )
    op.create_table(
        "booth_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("booth_id", sa.Integer(), sa.ForeignKey("booths.id", ondelete="CASCADE"), nullable=False),
        _participant("author_id"),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_booth_messages_booth_id", "booth_messages", ["booth_id"])
    op.create_table(
        "captions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        _participant("author_id"),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("speech_id", sa.Integer(), sa.ForeignKey("speeches.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_captions_session_created", "captions", ["session_id", "created_at"])
    op.create_table(
        "presence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        _participant("participant_id", nullable=False, ondelete="CASCADE"),
        sa.Column("connection", sa.String(64), nullable=False, unique=True),
        sa.Column("seen_at", WHEN, nullable=False),
    )
    op.create_index("ix_presence_session_participant", "presence", ["session_id", "participant_id"])


def downgrade() -> None:
    for table in ("presence", "captions", "booth_messages", "booths", "language_assignments"):
        op.drop_table(table)
