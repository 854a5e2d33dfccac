"""console access: who is an administrator, and partner staff who left

`console_admin` marks the people the operations console trusts beyond their everyday role:
on a coordinator of the HQ hub it means HQ (本部, every hub); on a partner's staff member it
means the admin of their organisation. A column on the person rather than a table of grants,
so deactivating the person ends their access with everything else.

`partner_staff.active`: staff who leave keep their history (the cases they handed over) but
can no longer sign in or hand over.

Revision ID: 0008_console_access
Revises: 0007_slack_installations
Create Date: 2026-12-06 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_console_access"
down_revision: str | None = "0007_slack_installations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("coordinators", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("console_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("partner_staff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("console_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("partner_staff", schema=None) as batch_op:
        batch_op.drop_column("active")
        batch_op.drop_column("console_admin")
    with op.batch_alter_table("coordinators", schema=None) as batch_op:
        batch_op.drop_column("console_admin")
