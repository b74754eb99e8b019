"""registration: deadlines, focal points, registrations, notes verbales, the outbox, attendance

Revision ID: 0006_registration
Revises: 0005_event_revision
Create Date: 2026-12-05

The organizer's half (rooms/registration.py): delegations get a focal point
who nominates members, members register, organizers decide; e-mails are
written to an outbox in the deciding transaction and sent later; each stay
of a participant in a session is kept for the attendance report.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.models import UTCDateTime

revision: str = "0006_registration"
down_revision: str | Sequence[str] | None = "0005_event_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("nominations_close_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("sponsored_nominations_close_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("delegations") as batch:
        batch.add_column(sa.Column("member_limit", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("focal_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("focal_email", sa.String(320), nullable=True))
        batch.add_column(sa.Column("focal_language", sa.String(8), nullable=True))
        batch.add_column(sa.Column("focal_token_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("focal_token_version", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("invitation", sa.String(12), nullable=True))
        batch.add_column(sa.Column("invited_at", UTCDateTime(), nullable=True))
        batch.create_unique_constraint("uq_delegations_focal_token_hash", ["focal_token_hash"])
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("email", sa.String(320), nullable=True))
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))

    op.create_table(
        "registrations",
        sa.Column(
            "participant_id", sa.Integer(), sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("sponsorship", sa.String(12), nullable=True),
        sa.Column("reject_reason", sa.String(500), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("gender", sa.String(12), nullable=True),
        sa.Column("accessibility", sa.JSON(), nullable=False),
        sa.Column("accessibility_note", sa.String(1000), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("question_session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="SET NULL")),
        sa.Column("question_text", sa.Text(), nullable=True),
        sa.Column("question_language", sa.String(8), nullable=True),
        sa.Column("question_id", sa.Integer(), sa.ForeignKey("questions.id", ondelete="SET NULL")),
        sa.Column("speak_session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="SET NULL")),
        sa.Column("speak_language", sa.String(8), nullable=True),
        sa.Column("speaking_request_id", sa.Integer(), sa.ForeignKey("speaking_requests.id", ondelete="SET NULL")),
        sa.Column("nominated_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_registrations_event_id", "registrations", ["event_id"])

    op.create_table(
        "notes_verbales",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("delegation_id", sa.Integer(), sa.ForeignKey("delegations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("dated", sa.Date(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=True),
        sa.Column("file_type", sa.String(100), nullable=True),
        sa.Column("file_data", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_notes_verbales_delegation_id", "notes_verbales", ["delegation_id"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=True, unique=True),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
    )
    op.create_index("ix_outbox_event_id", "outbox", ["event_id"])
    op.create_index("ix_outbox_due", "outbox", ["sent_at", "next_attempt_at"])

    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("participant_id", sa.Integer(), sa.ForeignKey("participants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.Column("left_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_attendance_session_participant", "attendance", ["session_id", "participant_id"])


def downgrade() -> None:
    op.drop_table("attendance")
    op.drop_table("outbox")
    op.drop_table("notes_verbales")
    op.drop_table("registrations")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("language")
        batch.drop_column("email")
    with op.batch_alter_table("delegations") as batch:
        batch.drop_constraint("uq_delegations_focal_token_hash", type_="unique")
        for column in (
            "invited_at",
            "invitation",
            "focal_token_version",
            "focal_token_hash",
            "focal_language",
            "focal_email",
            "focal_name",
            "member_limit",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("events") as batch:
        batch.drop_column("sponsored_nominations_close_at")
        batch.drop_column("nominations_close_at")
