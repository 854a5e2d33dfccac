"""owners' push window opens at 08:00 by default; outbox rows remember when they failed

The window is now the same every day (closed days no longer hold owners' pushes) and opens at
08:00, so the reminder of a 10:00 booking can go two hours before. Hubs still on the old
default (21:00-09:00, never changed: there was no way to change it) move to the new one; a hub
that set its own hours keeps them.

`outbox_messages.failed_at` lets the CCO's morning note list each owner push that went stale
or was missed exactly once.

Revision ID: 0005_owner_push_window
Revises: 0004_referral_cos_rich_menu
Create Date: 2026-12-06 04:30:00
"""

from collections.abc import Sequence
from datetime import time

import sqlalchemy as sa
from alembic import op

import core.db.base


revision: str = "0005_owner_push_window"
down_revision: str | None = "0004_referral_cos_rich_menu"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_hubs = sa.table("hubs", sa.column("quiet_start", sa.Time()), sa.column("quiet_end", sa.Time()))


def _move(old_end: time, new_end: time) -> None:
    op.execute(
        _hubs.update()
        .where(_hubs.c.quiet_start == time(21, 0), _hubs.c.quiet_end == old_end)
        .values(quiet_end=new_end)
    )


def upgrade() -> None:
    _move(time(9, 0), time(8, 0))
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_at", core.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
    _move(time(8, 0), time(9, 0))
