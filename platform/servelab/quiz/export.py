"""CSV export of attempts, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime

from servelab.content.quiz import Quiz
from servelab.db.models import User
from servelab.db.models.quiz import QuizAnswer, QuizAttempt

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """Text a spreadsheet will not execute: learner-chosen names could start a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") + "Z"
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def attempts_csv(
    quiz: Quiz,
    rows: Sequence[tuple[QuizAttempt, User]],
    answers: dict[int, list[QuizAnswer]],
) -> str:
    """One line per attempt: who, when, status, score, then the points earned per question."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    question_ids = [q.id for q in quiz.questions]
    writer.writerow(
        [
            "attempt_id",
            "user_email",
            "display_name",
            "attempt_number",
            "status",
            "started_at",
            "submitted_at",
            "seconds_taken",
            "score",
            "max_score",
            "percent",
            "passed",
            *(f"points:{qid}" for qid in question_ids),
        ]
    )
    for attempt, user in rows:
        earned = {a.question_id: a.earned for a in answers.get(attempt.id or 0, [])}
        writer.writerow(
            [
                _cell(attempt.id),
                _cell(user.email),
                _cell(user.display_name),
                _cell(attempt.number),
                _cell(attempt.status),
                _cell(attempt.started_at),
                _cell(attempt.submitted_at),
                _cell(attempt.seconds_taken),
                _cell(attempt.score),
                _cell(attempt.max_score),
                _cell(attempt.percent),
                _cell(None if attempt.passed is None else ("yes" if attempt.passed else "no")),
                *(_cell(earned.get(qid)) for qid in question_ids),
            ]
        )
    return out.getvalue()
