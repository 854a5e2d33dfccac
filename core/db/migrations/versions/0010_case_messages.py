"""case conversations: owners' own words and COs' answers, and お問い合わせ cases

`case_messages` keeps each message of a case's conversation (issue 17): what an owner typed
outside a form, and what a CO answered from Slack, so the App Home view, erasure and
retention have one record to read and blank. `cases.kind` tells an inquiry (a question to a
person, opened by the owner's message) from a consultation request (the intake).

Revision ID: 0010_case_messages
Revises: 0009_hub_profile
Create Date: 2026-12-06 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db.base

revision: str = "0010_case_messages"
down_revision: str | None = "0009_hub_profile"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.Enum(
                    "consultation",
                    "inquiry",
                    name="kind",
                    native_enum=False,
                    create_constraint=True,
                    length=16,
                ),
                nullable=False,
                server_default="consultation",
            )
        )
    op.create_table(
        "case_messages",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column(
            "direction",
            sa.Enum(
                "from_owner",
                "to_owner",
                name="direction",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("attachment", sa.JSON(), nullable=True),
        sa.Column("author_co_id", _ID, nullable=True),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refusal", sa.String(length=64), nullable=True),
        sa.Column("created_at", core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_co_id"],
            ["coordinators.id"],
            name=op.f("fk_case_messages_author_co_id_coordinators"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_messages_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_messages")),
        sa.UniqueConstraint("source_key", name=op.f("uq_case_messages_source_key")),
    )
    with op.batch_alter_table("case_messages", schema=None) as batch_op:
        batch_op.create_index("ix_case_messages_case_id_id", ["case_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_case_messages_case_id_id")
    op.drop_table("case_messages")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("kind")
