"""delegations: their names per language, as the event file may give them

Revision ID: 0011_delegation_names
Revises: 0010_breakouts
Create Date: 2026-12-05

A delegation is "Cambodia", "Cambodge", "Camboya", "كمبوديا": the event file
names it per language like titles; pages show the viewer's.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_delegation_names"
down_revision: str | Sequence[str] | None = "0010_breakouts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delegations") as batch:
        batch.add_column(sa.Column("names", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("delegations") as batch:
        batch.drop_column("names")
