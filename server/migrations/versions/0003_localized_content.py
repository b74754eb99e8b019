"""event content in several languages; the languages a session is interpreted into

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Titles and descriptions may be given per language in the event file. The
plain columns keep one text; the new JSON columns keep every language.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("events", "sessions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("titles", sa.JSON(), nullable=False, server_default="{}"))
            batch.add_column(sa.Column("descriptions", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("languages", sa.JSON(), nullable=True))
    # Rows loaded before keep their one text as the text given without a language.
    for table in ("events", "sessions"):
        rows = sa.table(table, sa.column("id"), sa.column("title"), sa.column("description"))
        connection = op.get_bind()
        for row in connection.execute(sa.select(rows.c.id, rows.c.title, rows.c.description)).all():
            connection.execute(
                sa.text(f"UPDATE {table} SET titles = :titles, descriptions = :descriptions WHERE id = :id").bindparams(
                    sa.bindparam("titles", type_=sa.JSON()), sa.bindparam("descriptions", type_=sa.JSON())
                ),
                {
                    "id": row.id,
                    "titles": {"": row.title},
                    "descriptions": {"": row.description} if row.description else {},
                },
            )


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("languages")
    for table in ("events", "sessions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("descriptions")
            batch.drop_column("titles")
