"""agenda items: taken up by sessions; rights of reply limited per delegation and item

Revision ID: 0012_agenda
Revises: 0011_delegation_names
Create Date: 2026-12-05

rooms/agenda.py: an event's items carry their rules for rights of reply
(how many per delegation, each one's time limit, held to the end of the
day); a session takes up items and discusses one at a time; a request
records the item it was made on, a reply its own limit and whether the
chair gave it beyond the limit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_agenda"
down_revision: str | Sequence[str] | None = "0011_delegation_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agenda_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("titles", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reply_limits", sa.JSON(), nullable=False),
        sa.Column("hold_replies_to_day_end", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("event_id", "key"),
    )
    op.create_index("ix_agenda_items_event_id", "agenda_items", ["event_id"])
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("item_ids", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("current_item_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_sessions_current_item", "agenda_items", ["current_item_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("speaking_requests") as batch:
        batch.add_column(sa.Column("agenda_item_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("limit_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("is_override", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_foreign_key("fk_requests_item", "agenda_items", ["agenda_item_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("speaking_requests") as batch:
        batch.drop_constraint("fk_requests_item", type_="foreignkey")
        for column in ("is_override", "limit_s", "agenda_item_id"):
            batch.drop_column(column)
    with op.batch_alter_table("sessions") as batch:
        batch.drop_constraint("fk_sessions_current_item", type_="foreignkey")
        batch.drop_column("current_item_id")
        batch.drop_column("item_ids")
    op.drop_table("agenda_items")
