"""Learners: lessons opened (progress), per-learner due dates (extensions), late submissions.

Revision ID: 0007_progress_due_dates
Revises: 0006_regrade_change
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_progress_due_dates"
down_revision = "0006_regrade_change"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lesson_visit",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("user.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("lesson_slug", sa.String(100), primary_key=True, nullable=False),
        sa.Column("first_opened_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "due_extension",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("exercise_slug", sa.String(100), nullable=False),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "granted_by",
            sa.Integer(),
            sa.ForeignKey("user.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("exercise_slug", "user_id", name="uq_due_extension_exercise_user"),
    )
    op.create_index("ix_due_extension_exercise_slug", "due_extension", ["exercise_slug"])
    op.create_index("ix_due_extension_user_id", "due_extension", ["user_id"])
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("late")
    op.drop_table("due_extension")
    op.drop_table("lesson_visit")
