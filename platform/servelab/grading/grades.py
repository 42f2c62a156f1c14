"""Instructor reports on an exercise: every submission with its totals, and a grades CSV.

The CSV has one row per learner who submitted, choosing either their best graded
submission (highest score, the latest of equal scores) or their latest one. Scores come
from the full result document, hidden and after-due checks included: it is the grade.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from servelab.db.models import User
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import views
from servelab.grading.results import CategoryTotal


class Pick(StrEnum):
    BEST = "best"
    LATEST = "latest"


@dataclass(frozen=True)
class SubmissionRow:
    submission: Submission
    learner: User
    categories: list[CategoryTotal]
    phase_seconds: dict[str, float]

    @property
    def total_seconds(self) -> float | None:
        s = self.submission
        if s.finished_at is None or s.requested_at is None:
            return None
        return (s.finished_at - s.requested_at).total_seconds()


def submission_rows(session: Session, *, exercise_slug: str) -> list[SubmissionRow]:
    """Every submission of an exercise, newest first, with learner and per-category totals."""
    submissions = views.list_submissions(session, exercise_slug=exercise_slug)
    user_ids = {s.user_id for s in submissions}
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(user_ids))).all()}
    rows = []
    for submission in submissions:
        doc = views.full_result(submission)
        rows.append(
            SubmissionRow(
                submission=submission,
                learner=users[submission.user_id],
                categories=doc.categories if doc else [],
                phase_seconds=views.phase_seconds(submission),
            )
        )
    return rows


def categories_of(rows: list[SubmissionRow]) -> list[str]:
    """Every category the rows' results hold, in the order they first appear."""
    categories: list[str] = []
    for row in rows:
        for total in row.categories:
            if total.category not in categories:
                categories.append(total.category)
    return categories


def pick_per_learner(rows: list[SubmissionRow], pick: Pick) -> list[SubmissionRow]:
    """One row per learner: their best graded submission (else their latest), or their latest."""
    chosen: dict[int, SubmissionRow] = {}
    for row in rows:  # newest first
        uid = row.submission.user_id
        current = chosen.get(uid)
        if current is None:
            chosen[uid] = row
            continue
        if pick == Pick.BEST and _better(row.submission, current.submission):
            chosen[uid] = row
    return sorted(chosen.values(), key=lambda r: r.learner.email)


def _better(candidate: Submission, current: Submission) -> bool:
    """Is an older candidate strictly better than the newer current choice?"""
    if candidate.status != SubmissionStatus.GRADED:
        return False
    if current.status != SubmissionStatus.GRADED:
        return True
    return (candidate.score or 0) > (current.score or 0)


def spreadsheet_cell(value: object) -> object:
    """Neutralise spreadsheet formulas in text people chose (display names): a cell that
    starts with = + - @ (or a tab or carriage return) gets a leading '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def grades_csv(session: Session, *, exercise_slug: str, pick: Pick) -> str:
    rows = pick_per_learner(submission_rows(session, exercise_slug=exercise_slug), pick)
    categories = categories_of(rows)
    counts: dict[int, int] = {}
    for s in views.list_submissions(session, exercise_slug=exercise_slug):
        counts[s.user_id] = counts.get(s.user_id, 0) + 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "email",
            "name",
            "submission_id",
            "status",
            "score",
            "max_score",
            "percent",
            *categories,
            "submitted_at",
            "graded_at",
            "submissions",
            "picked",
            "late",
        ]
    )
    for row in rows:
        s = row.submission
        graded = s.status == SubmissionStatus.GRADED
        by_category = {c.category: c.score for c in row.categories}
        percent = round(100 * (s.score or 0) / s.max_score, 1) if graded and s.max_score else ""
        writer.writerow(
            [
                spreadsheet_cell(row.learner.email),
                spreadsheet_cell(row.learner.display_name),
                s.id,
                s.status,
                s.score if graded else "",
                s.max_score if graded else "",
                percent,
                *[by_category.get(c, "") if graded else "" for c in categories],
                s.requested_at.isoformat() if s.requested_at else "",
                s.graded_at.isoformat() if s.graded_at else "",
                counts.get(s.user_id, 0),
                pick.value,
                "yes" if s.late else "no",
            ]
        )
    return out.getvalue()
