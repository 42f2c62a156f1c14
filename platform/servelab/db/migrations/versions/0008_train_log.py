"""Grading: what train.py printed, kept for the learner's result page.

Revision ID: 0008_train_log
Revises: 0007_progress_due_dates
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_train_log"
down_revision = "0007_progress_due_dates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("train_log", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("train_log")
