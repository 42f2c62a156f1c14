"""Grading: the score before an instructor's regrade and when it was asked for, so the
dashboard can show "was X → now Y" and follow the regraded batch.

Revision ID: 0006_regrade_change
Revises: 0005_dispatched_at
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_regrade_change"
down_revision = "0005_dispatched_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("previous_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("regraded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("regraded_at")
        batch.drop_column("previous_score")
