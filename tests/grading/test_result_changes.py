"""check_changes: which checks a learner's newer result passes or fails that the older did not."""

from __future__ import annotations

from servelab.grading.result_changes import check_changes
from servelab.grading.results import CheckStatus, ResultDocument, TestResult


def doc(**statuses: str) -> ResultDocument:
    return ResultDocument(
        tests=[
            TestResult(name=name.replace("_", " "), status=CheckStatus(status))
            for name, status in statuses.items()
        ]
    )


def test_changes_are_named_in_the_newer_results_order() -> None:
    before = doc(a="failed", b="passed", c="error", d="passed", e="skipped")
    after = doc(e="passed", d="failed", c="passed", b="passed", a="passed")
    changes = check_changes(after, before)
    assert changes.newly_passing == ["e", "c", "a"]
    assert changes.newly_failing == ["d"]
    assert changes.any


def test_a_check_only_one_result_shows_has_no_change() -> None:
    # New in the exercise, or revealed after the due date: no earlier verdict to compare with.
    changes = check_changes(doc(a="passed", new_one="failed"), doc(a="passed", gone="failed"))
    assert (changes.newly_passing, changes.newly_failing, changes.any) == ([], [], False)


def test_a_repeated_name_passes_only_when_every_check_of_that_name_passed() -> None:
    twice = ResultDocument(
        tests=[
            TestResult(name="same", status=CheckStatus.PASSED),
            TestResult(name="same", status=CheckStatus.FAILED),
        ]
    )
    assert check_changes(twice, doc(same="passed")).newly_failing == ["same"]
    assert check_changes(doc(same="passed"), twice).newly_passing == ["same"]
