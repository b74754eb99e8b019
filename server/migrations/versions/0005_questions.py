"""questions: guiding questions per session, audience questions and their votes

Revision ID: 0005_questions
Revises: 0004_interpretation
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_questions"
down_revision: str | Sequence[str] | None = "0004_interpretation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("questions_moderated", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "question_topics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.UniqueConstraint("session_id", "key"),
    )
    op.create_index("ix_question_topics_session_id", "question_topics", ["session_id"])
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(100), nullable=True),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("participants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("delegation_id", sa.Integer(), sa.ForeignKey("delegations.id", ondelete="SET NULL"), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("original_text", sa.Text(), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("topic_id", sa.Integer(), sa.ForeignKey("question_topics.id", ondelete="SET NULL"), nullable=True),
        sa.Column("is_anonymous", sa.Boolean(), nullable=False),
        sa.Column("wants_to_ask", sa.Boolean(), nullable=False),
        sa.Column("is_presubmitted", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("reject_reason", sa.String(500), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), sa.ForeignKey("questions.id", ondelete="SET NULL"), nullable=True),
        sa.Column(
            "speaking_request_id",
            sa.Integer(),
            sa.ForeignKey("speaking_requests.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("queue_rank", sa.Integer(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("session_id", "key"),
    )
    op.create_index("ix_questions_session_state", "questions", ["session_id", "state"])
    op.create_table(
        "question_votes",
        sa.Column("question_id", sa.Integer(), sa.ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "participant_id", sa.Integer(), sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("question_votes")
    op.drop_index("ix_questions_session_state", table_name="questions")
    op.drop_table("questions")
    op.drop_index("ix_question_topics_session_id", table_name="question_topics")
    op.drop_table("question_topics")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("questions_moderated")
