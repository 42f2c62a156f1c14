"""Grading: submissions, jobs and their phase events. Owned by the grading engine.

Revision ID: 0002_grading
Revises: 0001_accounts
"""

revision = "0002_grading"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
