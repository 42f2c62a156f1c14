"""Grades in the CSV layouts LMS gradebooks import: Canvas and Moodle.

Both take one row per learner, the best or the latest submission (`grades.pick_per_learner`),
with the score in points (the gradebook item's maximum should be the exercise's maximum).
A learner without a graded pick gets an empty cell: both LMSs leave an empty cell unchanged
instead of writing a zero. Every text cell goes through `grades.spreadsheet_cell`, since
names are chosen by learners. README's "Grade export" section says how to import each.

- Canvas (Grades → Import): "Student, ID, SIS User ID, SIS Login ID, Section, <assignment>",
  then a "Points Possible" row. Canvas matches a row by ID, SIS User ID or SIS Login ID; we
  fill SIS Login ID with the learner's email (ServeLab knows no Canvas ids). Each extra
  column would become an assignment, so categories are left out.
- Moodle (Grade administration → Import → CSV file): "Email address", the grade item, then
  one column per category; at import, map "Email address" to the user's email and each
  other column to a grade item (or ignore it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import StrEnum

from sqlmodel import Session

from servelab.content.exercise import Exercise
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.grades import (
    Pick,
    SubmissionRow,
    categories_of,
    pick_per_learner,
    spreadsheet_cell,
    submission_rows,
)

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


class Layout(StrEnum):
    SERVELAB = "servelab"  # grades.grades_csv: every detail, for people and scripts
    CANVAS = "canvas"
    MOODLE = "moodle"


def _write(rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([[spreadsheet_cell(cell) for cell in row] for row in rows])
    return out.getvalue()


def _graded(row: SubmissionRow) -> bool:
    return row.submission.status == SubmissionStatus.GRADED


def _points_possible(rows: list[SubmissionRow]) -> float | str:
    maxima = [r.submission.max_score for r in rows if _graded(r) and r.submission.max_score]
    return max(maxima) if maxima else ""


def canvas_csv(session: Session, *, exercise_slug: str, exercise: Exercise, pick: Pick) -> str:
    rows = pick_per_learner(submission_rows(session, exercise_slug=exercise_slug), pick)
    table: list[list[object]] = [[*CANVAS_COLUMNS, exercise.title]]
    table.append(["Points Possible", "", "", "", "", _points_possible(rows)])
    for row in rows:
        score = row.submission.score if _graded(row) else ""
        table.append([row.learner.display_name, "", "", row.learner.email, "", score])
    return _write(table)


def moodle_csv(session: Session, *, exercise_slug: str, exercise: Exercise, pick: Pick) -> str:
    rows = pick_per_learner(submission_rows(session, exercise_slug=exercise_slug), pick)
    categories = categories_of(rows)
    header: list[object] = ["Email address", exercise.title]
    header += [f"{exercise.title}: {exercise.category_label(c)}" for c in categories]
    table: list[list[object]] = [header]
    for row in rows:
        graded = _graded(row)
        by_category = {c.category: c.score for c in row.categories}
        table.append(
            [
                row.learner.email,
                row.submission.score if graded else "",
                *[by_category.get(c, "") if graded else "" for c in categories],
            ]
        )
    return _write(table)
