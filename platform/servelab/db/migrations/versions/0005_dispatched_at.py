"""Grading: when a queued submission was last handed to the Celery broker (its outbox mark).

Revision ID: 0005_dispatched_at
Revises: 0004_feedback_score
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_dispatched_at"
down_revision = "0004_feedback_score"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("dispatched_at")
