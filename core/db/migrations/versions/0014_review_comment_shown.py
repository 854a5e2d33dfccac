"""review comment shown: a CO agrees to show an owner's comment on the hub's dashboard

Revision ID: 0014_review_comment_shown
Revises: 0013_hub_budgets
Create Date: 2026-12-07 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_review_comment_shown"
down_revision: str | None = "0013_hub_budgets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("co_reviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("comment_shown", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("co_reviews", schema=None) as batch_op:
        batch_op.drop_column("comment_shown")
