"""hub console settings: the CCO channel, business hours, HQ escalation and survey timing

A hub's CCO sets these in the console (core.console.hub_settings); NULL keeps the product's
defaults (notices DM each CCO; business hours 09:00-17:00; HQ told 16 business hours after the
CCO; satisfaction surveys at 10:00 on the next business day).

Revision ID: 0015_hub_console_settings
Revises: 0014_review_comment_shown
Create Date: 2026-12-07 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_hub_console_settings"
down_revision: str | None = "0014_review_comment_shown"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("slack_cco_channel_id", sa.String(32)),
    ("business_day_start", sa.Time()),
    ("business_day_end", sa.Time()),
    ("escalation_hq_hours", sa.Integer()),
    ("survey_send_at", sa.Time()),
)


def upgrade() -> None:
    with op.batch_alter_table("hubs", schema=None) as batch_op:
        for name, kind in COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hubs", schema=None) as batch_op:
        for name, _kind in reversed(COLUMNS):
            batch_op.drop_column(name)
