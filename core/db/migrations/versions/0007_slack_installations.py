"""Slack installations in our migrations; hubs know their workspace (issue 18, section 2)

The OAuth install flow keeps each workspace's tokens in slack_sdk's SQLAlchemy stores. Their
tables (slack_installations, slack_bots, slack_oauth_states) are created here, as slack_sdk
3.x defines them, rather than by the SDK's create_all at start-up: one schema, one history.

`hubs.slack_team_id` / `slack_enterprise_id` name the workspace (and Enterprise Grid org) the
hub's channels live in: every send to the hub resolves that workspace's token.
`hubs.slack_disconnected_at` is set when the app is uninstalled from it or its tokens are
revoked (sends wait, held) and cleared by a reinstall.

Revision ID: 0007_slack_installations
Revises: 0006_slack_exactly_once
Create Date: 2026-12-06 13:50:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import core.db.base

revision: str = "0007_slack_installations"
down_revision: str | None = "0006_slack_exactly_once"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BOT_COLUMNS = (
    ("bot_token", 200),
    ("bot_id", 32),
    ("bot_user_id", 32),
    ("bot_scopes", 1000),
    ("bot_refresh_token", 200),
)


def _workspace_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32)),
        sa.Column("enterprise_name", sa.String(200)),
    ]


def upgrade() -> None:
    op.create_table(
        "slack_installations",
        *_workspace_columns(),
        sa.Column("enterprise_url", sa.String(200)),
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(200)),
        *(sa.Column(name, sa.String(size)) for name, size in _BOT_COLUMNS),
        sa.Column("bot_token_expires_at", sa.DateTime()),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("user_token", sa.String(200)),
        sa.Column("user_scopes", sa.String(1000)),
        sa.Column("user_refresh_token", sa.String(200)),
        sa.Column("user_token_expires_at", sa.DateTime()),
        sa.Column("incoming_webhook_url", sa.String(200)),
        sa.Column("incoming_webhook_channel", sa.String(200)),
        sa.Column("incoming_webhook_channel_id", sa.String(200)),
        sa.Column("incoming_webhook_configuration_url", sa.String(200)),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("token_type", sa.String(32)),
        sa.Column("installed_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "slack_installations_idx",
        "slack_installations",
        ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"],
    )
    op.create_table(
        "slack_bots",
        *_workspace_columns(),
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(200)),
        *(sa.Column(name, sa.String(size)) for name, size in _BOT_COLUMNS),
        sa.Column("bot_token_expires_at", sa.DateTime()),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("installed_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "slack_bots_idx", "slack_bots", ["client_id", "enterprise_id", "team_id", "installed_at"]
    )
    op.create_table(
        "slack_oauth_states",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("state", sa.String(200), nullable=False),
        sa.Column("expire_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("hubs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slack_team_id", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("slack_enterprise_id", sa.String(32), nullable=True))
        batch_op.add_column(
            sa.Column(
                "slack_disconnected_at", core.db.base.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("hubs", schema=None) as batch_op:
        batch_op.drop_column("slack_disconnected_at")
        batch_op.drop_column("slack_enterprise_id")
        batch_op.drop_column("slack_team_id")
    op.drop_table("slack_oauth_states")
    op.drop_index("slack_bots_idx", table_name="slack_bots")
    op.drop_table("slack_bots")
    op.drop_index("slack_installations_idx", table_name="slack_installations")
    op.drop_table("slack_installations")
