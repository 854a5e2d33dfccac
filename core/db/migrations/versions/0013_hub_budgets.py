"""hub budgets: the consultation hours HQ budgets per hub and fiscal year, for 稼働率

Revision ID: 0013_hub_budgets
Revises: 0012_figure_months
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db.base

revision: str = "0013_hub_budgets"
down_revision: str | None = "0012_figure_months"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hub_budgets",
        sa.Column("hub_id", _ID, nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("updated_at", core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_co_id", _ID, nullable=True),
        sa.CheckConstraint("hours >= 0", name=op.f("ck_hub_budgets_hours_not_negative")),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["hubs.id"], name=op.f("fk_hub_budgets_hub_id_hubs")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_co_id"],
            ["coordinators.id"],
            name=op.f("fk_hub_budgets_updated_by_co_id_coordinators"),
        ),
        sa.PrimaryKeyConstraint("hub_id", "fiscal_year", name=op.f("pk_hub_budgets")),
    )


def downgrade() -> None:
    op.drop_table("hub_budgets")
