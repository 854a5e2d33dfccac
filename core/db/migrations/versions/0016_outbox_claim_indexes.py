"""outbox: partial indexes for the dispatcher's claim

The claim takes the most urgent due heads (the lowest id of each recipient's pending and
sending rows). With only (status, not_before, priority) and (ordering_key, id) to go by, both
planners sorted every due row for each claim and probed each one's whole history of sent
messages for an earlier in-flight row: under a burst of 70,000 replies the claim took four
fifths of the embedded child's time and handling fell from 1,400 to 130 events/s (issue 14).

* pending rows in claim order, (priority, not_before, id): a claim walks one priority at a
  time, from the oldest due row, and stops at its limit;
* in-flight rows by recipient, (ordering_key, id): "is there an earlier one" is one probe,
  however many messages that recipient was sent before.

Sent rows leave both, so they stay small. Queries must spell the statuses as these literals
for the planners to use them.

Revision ID: 0016_outbox_claim_indexes
Revises: 0015_hub_console_settings
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_outbox_claim_indexes"
down_revision: str | None = "0015_hub_console_settings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("status = 'pending'")
_IN_FLIGHT = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_messages_pending_claim",
        "outbox_messages",
        ["priority", "not_before", "id"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_index(
        "ix_outbox_messages_in_flight_key",
        "outbox_messages",
        ["ordering_key", "id"],
        sqlite_where=_IN_FLIGHT,
        postgresql_where=_IN_FLIGHT,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_in_flight_key", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_pending_claim", table_name="outbox_messages")
