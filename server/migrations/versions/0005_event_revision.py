"""the event's revision: bumped by every load, so a server process knows what it holds is stale

Revision ID: 0005_event_revision
Revises: 0004_interpretation
Create Date: 2026-11-22

The kernel keeps a session's floor, rules and senders in memory between
commands (server/held.py). The session's last_seq tells it when another
process ran a command; this counter tells it when the organizer loaded the
event again (participants, roles, delegations, session rules).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_event_revision"
down_revision: str | Sequence[str] | None = "0004_interpretation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("revision")
