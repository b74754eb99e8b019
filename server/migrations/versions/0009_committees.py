"""committees: dated memberships with a role; a session may be a committee's meeting

Revision ID: 0009_committees
Revises: 0012_agenda
Create Date: 2026-12-05

Committees of the event's organisation (rooms/committees.py) with their
members' terms; a session names the committee meeting in it, and the roles
its chair and members get there are marked as derived from the committee.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_committees"
down_revision: str | Sequence[str] | None = "0012_agenda"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "committees",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.UniqueConstraint("event_id", "key"),
    )
    op.create_index("ix_committees_event_id", "committees", ["event_id"])
    op.create_table(
        "committee_memberships",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("committee_id", sa.Integer(), sa.ForeignKey("committees.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("organisation_key", sa.String(100), nullable=False),
        sa.Column("organisation_name", sa.String(200), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
    )
    op.create_index("ix_committee_memberships_committee_id", "committee_memberships", ["committee_id"])
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("committee_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_sessions_committee_id", "committees", ["committee_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("participant_roles") as batch:
        batch.add_column(sa.Column("from_committee", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("participant_roles") as batch:
        batch.drop_column("from_committee")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_constraint("fk_sessions_committee_id", type_="foreignkey")
        batch.drop_column("committee_id")
    op.drop_index("ix_committee_memberships_committee_id", "committee_memberships")
    op.drop_table("committee_memberships")
    op.drop_index("ix_committees_event_id", "committees")
    op.drop_table("committees")
