"""inbox: the pending events of each person, for the claim's "is an earlier one waiting"

Both backends' claims ask, for each candidate, whether an earlier event of the same person
is still pending. With only (ordering_key, id) to answer it, each probe walked the person's
whole history of handled events: an owner who had written 400 times cost 400 row reads per
candidate, and a claim looks at up to 16 candidates (issue 14). Handled events leave this
partial index, so a probe reads what is pending and nothing else. Queries must spell the
status as the literal 'pending' for the planners to use it.

Revision ID: 0017_inbox_pending_key_index
Revises: 0016_outbox_claim_indexes
Create Date: 2026-12-07 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_inbox_pending_key_index"
down_revision: str | None = "0016_outbox_claim_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_inbox_events_pending_key",
        "inbox_events",
        ["ordering_key", "id"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_events_pending_key", table_name="inbox_events")
