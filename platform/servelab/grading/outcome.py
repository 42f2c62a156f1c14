"""The end of one grading run: what the pipeline returns and the queue stores, one type.

`failed` means the learner's code failed (with the relevant log excerpt); `error` means the
platform failed (the queue retries it; the learner is never blamed for it). Not in results.py:
the plugin imports that module inside the grader container, which has no database models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from servelab.db.models.grading import SubmissionStatus
from servelab.grading.results import ResultDocument


@dataclass(frozen=True)
class GradeOutcome:
    """How a grading ended; `result` (with the same `status`) only when it was graded."""

    status: SubmissionStatus  # graded | failed | error
    result: ResultDocument | None = None
    learner_message: str = ""
    log_excerpt: str = ""  # the learner's own output when failed; diagnostics otherwise
    phase_seconds: dict[str, float] = field(default_factory=dict)
    train_log: str = ""  # what train.py printed, once training finished (public data only)

    @property
    def score(self) -> float | None:
        return self.result.score if self.result else None

    @property
    def max_score(self) -> float | None:
        return self.result.max_score if self.result else None

    def stored_columns(self) -> dict[str, object]:
        """The submission row's columns this outcome sets (the queue writes them at once)."""
        result = self.result
        return {
            "status": self.status,
            "score": result.score if result else None,
            "max_score": result.max_score if result else None,
            # Split hidden data: the feedback part's score (what learners see before the due).
            "feedback_score": result.feedback_score if result else None,
            "feedback_max_score": result.feedback_max_score if result else None,
            "result_json": result.model_dump_json() if result else None,
            "learner_message": self.learner_message,
            "log_excerpt": self.log_excerpt,
            "train_log": self.train_log or None,
            "phase_seconds_json": json.dumps(self.phase_seconds),
        }
