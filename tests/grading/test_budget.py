"""The suite's time budget: checks not started in time are not run, a stuck check is stopped,
a slow service's requests are cut to what is left, and a killed suite leaves a document."""

from __future__ import annotations

import json
import time
from pathlib import Path

from attack_services import attack_service, json_answer
from suite_runs import copy_suite, run_suite

from servelab.grading.budget import TimeBudget
from servelab.grading.report import NOT_RUN_TEXT, NotRun
from servelab.grading.results import CheckStatus

BUDGET = 6.0


def _by_id(doc):  # type: ignore[no-untyped-def]
    return {t.nodeid.rsplit("::", 1)[-1]: t for t in doc.tests}


def test_a_check_stuck_in_cpu_work_is_stopped_at_the_budget(tmp_path: Path) -> None:
    grader = copy_suite("budget", tmp_path) / "grader"
    with attack_service() as server:
        run = run_suite(
            tmp_path, server.path, grader, f"--servelab-time-budget={BUDGET}",
            "-k", "not hypothesis",
        )  # fmt: skip
    print("\n" + run.report(f"budget {BUDGET:g} s, a check loops forever"))
    assert run.code == 1, run.output
    tests = _by_id(run.document())
    assert tests["test_quick"].status == CheckStatus.PASSED
    stuck = tests["test_stuck_in_a_loop"]
    assert stuck.status == CheckStatus.FAILED
    assert "ran out of time during this check" in stuck.output
    after = tests["test_after_the_budget"]
    assert (after.status, after.score, after.max_score) == (CheckStatus.SKIPPED, 0, 1)
    assert after.output == NOT_RUN_TEXT[NotRun.OUT_OF_TIME]
    assert run.document().complete
    assert run.seconds < BUDGET + 30  # generous: without the guard it would loop forever


def test_hypothesis_generating_forever_is_stopped_at_the_budget(tmp_path: Path) -> None:
    grader = copy_suite("budget", tmp_path) / "grader"
    with attack_service() as server:
        run = run_suite(
            tmp_path, server.path, grader, f"--servelab-time-budget={BUDGET}",
            "-k", "quick or hypothesis",
        )  # fmt: skip
    print("\n" + run.report(f"budget {BUDGET:g} s, Hypothesis never ends"))
    tests = _by_id(run.document())
    stopped = tests["test_hypothesis_never_ends"]
    assert stopped.status == CheckStatus.FAILED
    assert "ran out of time during this check" in stopped.output
    assert run.seconds < BUDGET + 30


def test_time_limit_blocks_share_the_one_alarm_with_the_budget(tmp_path: Path) -> None:
    """A grader's own time_limit() stops its block and leaves the check going; nested blocks
    stop at the nearest deadline; a block longer than the budget ends with the budget."""
    grader = copy_suite("time_limit", tmp_path) / "grader"
    with attack_service() as server:
        run = run_suite(tmp_path, server.path, grader, f"--servelab-time-budget={BUDGET}")
    tests = _by_id(run.document())
    early = tests["test_a_block_stopped_early_and_the_check_goes_on"]
    assert early.status == CheckStatus.PASSED
    assert early.output.startswith("stopped after 0.")
    assert tests["test_nested_blocks_stop_at_the_nearest_deadline"].status == CheckStatus.PASSED
    longer = tests["test_the_budget_ends_a_longer_block"]
    assert longer.status == CheckStatus.FAILED
    assert "ran out of time during this check" in longer.output
    assert tests["test_after_the_budget"].status == CheckStatus.SKIPPED
    assert run.seconds < BUDGET + 30


def test_a_slow_service_is_graded_until_the_budget_ends(tmp_path: Path) -> None:
    def slow(request, conn, stop):  # type: ignore[no-untyped-def]
        time.sleep(0.5)
        return json_answer(conn, {"prediction": 1.0})

    grader = copy_suite("slow", tmp_path) / "grader"
    with attack_service({"/slow": slow, "/health": slow}) as server:
        run = run_suite(tmp_path, server.path, grader, f"--servelab-time-budget={BUDGET}")
    print("\n" + run.report(f"budget {BUDGET:g} s, 0.5 s per answer, 12 checks x 3 requests"))
    doc = run.document()
    statuses = [t.status for t in doc.tests]
    print("statuses:", [s.value for s in statuses])
    assert len(doc.tests) == 12  # every collected check is listed
    assert statuses[0] == CheckStatus.PASSED  # what finished in time is graded
    assert statuses[-1] == CheckStatus.SKIPPED
    first_not_passed = next(i for i, s in enumerate(statuses) if s != CheckStatus.PASSED)
    assert all(s == CheckStatus.SKIPPED for s in statuses[first_not_passed + 1 :])
    cut = doc.tests[first_not_passed]
    assert "ran out of time" in cut.output and "answered slowly" in cut.output
    assert "were not run: the suite ran out of time" in doc.output
    assert run.seconds < BUDGET + 30


def test_a_killed_suite_leaves_a_document_listing_every_check(tmp_path: Path) -> None:
    grader = copy_suite("killed", tmp_path) / "grader"

    def three_passed(results: Path) -> bool:
        try:
            doc = json.loads(results.read_text())
        except (OSError, ValueError):
            return False
        return sum(t["status"] == "passed" for t in doc["tests"]) >= 3

    with attack_service() as server:
        run = run_suite(tmp_path, server.path, grader, kill_when=three_passed, timeout=120)
    print("\n" + run.report("killed mid-run"))
    assert run.code == -9
    doc = run.document()
    assert not doc.complete
    assert len(doc.tests) == 10  # six quick, the blocking one, three never reached
    tests = _by_id(doc)
    assert tests["test_blocks"].status == CheckStatus.SKIPPED
    assert tests["test_blocks"].output == NOT_RUN_TEXT[NotRun.PENDING]
    assert tests["test_never_reached[2]"].score == 0
    assert sum(t.status == CheckStatus.PASSED for t in doc.tests) >= 3


def test_budget_counts_down() -> None:
    budget = TimeBudget(10, started=time.monotonic() - 4)
    assert 5 < budget.left() <= 6
    assert not budget.spent
    assert TimeBudget(1, started=time.monotonic() - 2).spent
    assert TimeBudget(None).left() == float("inf")
