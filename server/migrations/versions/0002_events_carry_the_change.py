"""events carry the change: the waiting order on the session, recipients per event

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The order of the list of speakers moves from a position on every request to
one list of ids on the session, so a command writes one row, not the whole
list. Events name their recipients (everyone, moderators, participants).
Events logged before this revision carried the whole floor; clients now
apply changes, so a client resuming from before it gets a snapshot.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("waiting_order", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("replayable_after_seq", sa.Integer(), nullable=False, server_default="0"))

    connection = op.get_bind()
    sessions = sa.table(
        "sessions",
        sa.column("id", sa.Integer),
        sa.column("last_seq", sa.Integer),
        sa.column("waiting_order", sa.JSON),
        sa.column("replayable_after_seq", sa.Integer),
    )
    requests = sa.table(
        "speaking_requests",
        sa.column("id", sa.Integer),
        sa.column("session_id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("position", sa.Integer),
    )
    for session_id, last_seq in connection.execute(sa.select(sessions.c.id, sessions.c.last_seq)).all():
        order = (
            connection.execute(
                sa.select(requests.c.id)
                .where(requests.c.session_id == session_id, requests.c.status == "waiting")
                .order_by(requests.c.position, requests.c.id)
            )
            .scalars()
            .all()
        )
        connection.execute(
            sessions.update()
            .where(sessions.c.id == session_id)
            .values(waiting_order=list(order), replayable_after_seq=last_seq)
        )

    with op.batch_alter_table("speaking_requests") as batch:
        batch.drop_column("position")
    with op.batch_alter_table("session_events") as batch:
        batch.alter_column("audience", new_column_name="recipients", type_=sa.Text(), existing_type=sa.String(40))
    # The current speech and the live requests are looked up on every floor command.
    op.create_index("ix_speeches_session_open", "speeches", ["session_id", "ended_at"])
    op.create_index("ix_speaking_requests_session_status", "speaking_requests", ["session_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_speaking_requests_session_status", "speaking_requests")
    op.drop_index("ix_speeches_session_open", "speeches")
    with op.batch_alter_table("session_events") as batch:
        batch.alter_column("recipients", new_column_name="audience", type_=sa.String(40), existing_type=sa.Text())
    with op.batch_alter_table("speaking_requests") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=True))
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("replayable_after_seq")
        batch.drop_column("waiting_order")
