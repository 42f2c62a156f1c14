"""Quiz: attempts and answers. Owned by the quiz engine.

Revision ID: 0003_quiz
Revises: 0002_grading
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_quiz"
down_revision = "0002_grading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quiz_attempt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("quiz_slug", sa.String(100), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("answers_digest", sa.String(64), nullable=True),
        sa.UniqueConstraint("user_id", "quiz_slug", "number", name="uq_quiz_attempt_user_number"),
    )
    op.create_index("ix_quiz_attempt_user_id", "quiz_attempt", ["user_id"])
    op.create_index("ix_quiz_attempt_quiz_slug", "quiz_attempt", ["quiz_slug"])
    op.create_table(
        "quiz_answer",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "attempt_id",
            sa.Integer(),
            sa.ForeignKey("quiz_attempt.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("question_id", sa.String(64), nullable=False),
        sa.Column("response_json", sa.Text(), nullable=False),
        sa.Column("earned", sa.Float(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.UniqueConstraint("attempt_id", "question_id", name="uq_quiz_answer_attempt_question"),
    )
    op.create_index("ix_quiz_answer_attempt_id", "quiz_answer", ["attempt_id"])


def downgrade() -> None:
    op.drop_table("quiz_answer")
    op.drop_table("quiz_attempt")
