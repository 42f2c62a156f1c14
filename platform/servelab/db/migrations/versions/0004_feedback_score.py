"""Grading: the feedback part's score beside the grade, for exercises with split hidden data.

Revision ID: 0004_feedback_score
Revises: 0003_quiz
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_feedback_score"
down_revision = "0003_quiz"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("feedback_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("feedback_max_score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("feedback_max_score")
        batch.drop_column("feedback_score")
