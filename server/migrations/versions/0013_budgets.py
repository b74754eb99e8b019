"""speaking-time budgets on agenda items

Revision ID: 0013_budgets
Revises: 0009_committees
Create Date: 2026-12-05

rooms/budgets.py: an item's budgets (per delegation, per tier, per named
group of delegations) and the time the chair added to every group.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_budgets"
down_revision: str | Sequence[str] | None = "0009_committees"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agenda_items") as batch:
        batch.add_column(sa.Column("budgets", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("budget_added_s", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("agenda_items") as batch:
        batch.drop_column("budget_added_s")
        batch.drop_column("budgets")
