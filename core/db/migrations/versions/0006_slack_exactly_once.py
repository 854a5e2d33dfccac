"""outbox rows remember when they were first attempted (Slack exactly once, issue 18)

`outbox_messages.first_attempt_at` is set when a row is first claimed for sending. Before a
Slack post that may already have gone out is tried again, the dispatcher looks for it in the
channel's history from that moment on (a little earlier, for clock skew), by the outbox id the
post carries in its message metadata.

Revision ID: 0006_slack_exactly_once
Revises: 0005_owner_push_window
Create Date: 2026-12-06 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db.base

revision: str = "0006_slack_exactly_once"
down_revision: str | None = "0005_owner_push_window"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_attempt_at", core.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("first_attempt_at")
