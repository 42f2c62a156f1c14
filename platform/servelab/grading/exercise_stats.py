"""The numbers behind the instructor dashboard's charts for one exercise.

- the score distribution: each learner's best graded score, in percent of the maximum (one
  value per learner, so a learner who submits twenty times does not weigh twenty times);
- the failure rate of each check: of the graded submissions that ran it, the share where it
  failed or errored (which checks trip learners);
- time per phase: median and 90th percentile of the train, start-up and test seconds of the
  finished submissions (graded or failed: both ran the learner's code).

The best scores are one GROUP BY; checks and phases are read from the latest STATS_WINDOW
finished submissions only, so the page's cost stays bounded on a large course.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading.results import CheckStatus

STATS_WINDOW = 1000
PHASES = {"train": "Training", "startup": "Start-up", "test": "Checks"}
FAILING = {CheckStatus.FAILED.value, CheckStatus.ERROR.value}


@dataclass(frozen=True)
class CheckFailures:
    name: str
    failed: int
    ran: int  # graded submissions in the window whose result holds this check

    @property
    def percent(self) -> float:
        return 100 * self.failed / self.ran if self.ran else 0.0


@dataclass(frozen=True)
class PhaseTimes:
    phase: str  # key in phase_seconds ("train", ...)
    label: str
    count: int
    median: float
    p90: float


@dataclass(frozen=True)
class ExerciseStats:
    best_percent: list[float]  # one per learner with a graded submission
    checks: list[CheckFailures]  # most failed first
    phases: list[PhaseTimes]
    graded_in_window: int
    finished_in_window: int
    window_full: bool  # the window was filled: older submissions were left out


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty list (the median is fraction 0.5)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def best_percent_per_learner(session: Session, *, exercise_slug: str) -> list[float]:
    percent = func.max(col(Submission.score) * 100.0 / col(Submission.max_score))
    stmt = (
        select(Submission.user_id, percent)
        .where(Submission.exercise_slug == exercise_slug)
        .where(Submission.status == SubmissionStatus.GRADED)
        .where(col(Submission.max_score) > 0)
        .group_by(col(Submission.user_id))
    )
    return [float(value) for _, value in session.exec(stmt).all() if value is not None]


def _json(text: str | None) -> object:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def exercise_stats(session: Session, *, exercise_slug: str) -> ExerciseStats:
    finished = (
        select(Submission.status, Submission.result_json, Submission.phase_seconds_json)
        .where(Submission.exercise_slug == exercise_slug)
        .where(col(Submission.status).in_([SubmissionStatus.GRADED, SubmissionStatus.FAILED]))
        .order_by(col(Submission.id).desc())
        .limit(STATS_WINDOW)
    )
    rows = session.exec(finished).all()
    ran: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    seconds: dict[str, list[float]] = {key: [] for key in PHASES}
    graded = 0
    for state, result_json, phase_json in rows:
        phases = _json(phase_json)
        if isinstance(phases, dict):
            for key, values in seconds.items():
                value = phases.get(key)
                if isinstance(value, int | float) and math.isfinite(value):
                    values.append(float(value))
        if state != SubmissionStatus.GRADED:
            continue
        graded += 1
        # The stored document was validated when it was stored; only names and states are read.
        doc = _json(result_json)
        tests = doc.get("tests") if isinstance(doc, dict) else None
        for test in tests if isinstance(tests, list) else []:
            if not isinstance(test, dict) or test.get("status") == CheckStatus.SKIPPED:
                continue
            name = str(test.get("name", ""))[:300]
            ran[name] += 1
            if test.get("status") in FAILING:
                failed[name] += 1
    checks = sorted(
        (CheckFailures(name, failed[name], n) for name, n in ran.items()),
        key=lambda c: (-c.percent, c.name),
    )
    phases = [
        PhaseTimes(key, label, len(v), percentile(v, 0.5), percentile(v, 0.9))
        for key, label in PHASES.items()
        if (v := seconds[key])
    ]
    return ExerciseStats(
        best_percent=best_percent_per_learner(session, exercise_slug=exercise_slug),
        checks=checks,
        phases=phases,
        graded_in_window=graded,
        finished_in_window=len(rows),
        window_full=len(rows) >= STATS_WINDOW,
    )
