"""attendance: each stay names its socket and when its process last saw it

Revision ID: 0007_attendance_liveness
Revises: 0006_registration
Create Date: 2026-12-05

Stays are written in batches by each process (server/attendance.py): the
socket's key finds the row to close, and ``seen_at``, refreshed while the
socket is open, bounds a stay whose process died without closing it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.models import UTCDateTime

revision: str = "0007_attendance_liveness"
down_revision: str | Sequence[str] | None = "0006_registration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attendance") as batch:
        batch.add_column(sa.Column("connection", sa.String(64), nullable=True))
        batch.add_column(sa.Column("seen_at", UTCDateTime(), nullable=True))
        batch.create_unique_constraint("uq_attendance_connection", ["connection"])


def downgrade() -> None:
    with op.batch_alter_table("attendance") as batch:
        batch.drop_constraint("uq_attendance_connection", type_="unique")
        batch.drop_column("seen_at")
        batch.drop_column("connection")
