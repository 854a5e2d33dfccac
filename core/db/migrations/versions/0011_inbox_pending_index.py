"""inbox: a partial index of pending events in id order

The worker takes the oldest pending events first. With only (status, next_attempt_at) to go
by, SQLite sorted every pending row for each claim, so a burst of 200,000 events made each
claim slower than the handling itself (issue 14). An index of the pending ids alone is tiny
(done rows leave it) and gives the oldest pending events in order on both backends. Queries
must spell the status as the literal 'pending' for the planner to use it.

Revision ID: 0011_inbox_pending_index
Revises: 0010_case_messages
Create Date: 2026-12-07 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_inbox_pending_index"
down_revision: str | None = "0010_case_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_inbox_events_pending_id",
        "inbox_events",
        ["id"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_events_pending_id", table_name="inbox_events")
