"""hub profile and access requests: what 拠点のご案内 shows, and partner staff asking in

`hub_profiles`: a hub's public information (official name, address, map position, phone, web
page, opening hours per weekday, how to get there), one row per hub, every field optional.
Nothing is filled in here: the package has no verified source for these values, and a value
that is not set is left out of the owners' answer rather than guessed.

`access_requests`: partner staff who are not registered yet ask from Slack; the hub's CCO
approves (they become partner_staff of the organisation) or denies.

Revision ID: 0009_hub_profile
Revises: 0008_console_access
Create Date: 2026-12-06 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_hub_profile"
down_revision: str | None = "0008_console_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hub_profiles",
        sa.Column("hub_id", ID, nullable=False),
        sa.Column("official_name", sa.String(length=100), nullable=True),
        sa.Column("postal_code", sa.String(length=8), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("website_url", sa.String(length=1000), nullable=True),
        sa.Column("opening_hours", sa.JSON(), nullable=False),
        sa.Column("access", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hub_id"],
            ["hubs.id"],
            name=op.f("fk_hub_profiles_hub_id_hubs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("hub_id", name=op.f("pk_hub_profiles")),
    )
    op.create_table(
        "access_requests",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("hub_id", ID, nullable=False),
        sa.Column("slack_team_id", sa.String(length=32), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("organisation_id", ID, nullable=True),
        sa.Column("organisation_name", sa.String(length=200), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "denied",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", ID, nullable=True),
        sa.Column("partner_staff_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["hubs.id"], name=op.f("fk_access_requests_hub_id_hubs")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["partner_organisations.id"],
            name=op.f("fk_access_requests_organisation_id_partner_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["coordinators.id"],
            name=op.f("fk_access_requests_decided_by_coordinators"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_staff_id"],
            ["partner_staff.id"],
            name=op.f("fk_access_requests_partner_staff_id_partner_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_requests")),
    )
    op.create_index(
        "ix_access_requests_slack_user",
        "access_requests",
        ["slack_team_id", "slack_user_id"],
        unique=False,
    )
    op.create_index(
        "ix_access_requests_hub_status", "access_requests", ["hub_id", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_access_requests_hub_status", table_name="access_requests")
    op.drop_index("ix_access_requests_slack_user", table_name="access_requests")
    op.drop_table("access_requests")
    op.drop_table("hub_profiles")
