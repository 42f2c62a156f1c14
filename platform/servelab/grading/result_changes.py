"""What changed between two results of one learner: checks newly passing and newly failing.

Both documents must be what the learner may see (`results.learner_view`, with the same `now`):
comparing a learner view with a full document would name hidden checks. Checks are matched by
name, since node ids are instructor-only and a learner knows a check by its name.
"""

from __future__ import annotations

from dataclasses import dataclass

from servelab.grading.results import CheckStatus, ResultDocument


@dataclass(frozen=True)
class CheckChanges:
    """Names of the checks that changed, in the order of the newer result."""

    newly_passing: list[str]
    newly_failing: list[str]

    @property
    def any(self) -> bool:
        return bool(self.newly_passing or self.newly_failing)


def _passed_by_name(doc: ResultDocument) -> dict[str, bool]:
    """Check name -> passed; a name that repeats counts as passed only if every one passed."""
    passed: dict[str, bool] = {}
    for test in doc.tests:
        passed[test.name] = passed.get(test.name, True) and test.status == CheckStatus.PASSED
    return passed


def check_changes(current: ResultDocument, previous: ResultDocument) -> CheckChanges:
    """Checks shown in both results whose verdict changed; a check only one of them shows (new
    in the exercise, or revealed after the due date) has no earlier verdict and is left out."""
    before = _passed_by_name(previous)
    now = _passed_by_name(current)
    passing = [name for name, ok in now.items() if ok and before.get(name) is False]
    failing = [name for name, ok in now.items() if not ok and before.get(name) is True]
    return CheckChanges(newly_passing=passing, newly_failing=failing)
