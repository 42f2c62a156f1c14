"""Quiz: attempts and answers. Owned by the quiz engine.

Revision ID: 0003_quiz
Revises: 0002_grading
"""

revision = "0003_quiz"
down_revision = "0002_grading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
