"""Hostile services against a real hidden-suite run: every attack fails its check with a clear
message, the suite ends within its budget, and pytest's memory stays bounded."""

from __future__ import annotations

from pathlib import Path

from attack_services import attack_service
from suite_runs import copy_suite, run_suite

from servelab.grading.results import MAX_RESULT_BYTES, CheckStatus, learner_view

MEMORY_BOUND_MB = 400  # pytest, httpx and the plugin take ~100 MB; a 1 GiB bomb would not fit


def test_attacks_fail_their_checks_with_a_reason_within_budget(tmp_path: Path) -> None:
    grader = copy_suite("attacks", tmp_path) / "grader"
    with attack_service() as server:
        run = run_suite(
            tmp_path,
            server.path,
            grader,
            "--servelab-request-timeout=2",
            "--servelab-time-budget=60",
        )
    print("\n" + run.report("attack suite"))
    assert run.code == 1, run.output
    doc = run.document()
    tests = {t.nodeid.rsplit("::", 1)[-1]: t for t in doc.tests}
    expected = {
        "test_gzip_bomb": "over 10 MB (counted after decompressing it)",
        "test_drip": "did not finish answering within the 2 s each request gets",
        "test_endless_continue": "did not finish answering within the 2 s each request gets",
        "test_slow_headers": "did not finish answering within the 2 s each request gets",
        "test_header_flood[/cookie-flood]": "too many or too large response headers",
        "test_header_flood[/huge-header]": "too many or too large response headers",
        "test_header_flood[/many-headers]": "too many or too large response headers",
    }
    for check, message in expected.items():
        assert tests[check].status == CheckStatus.FAILED, check
        assert message in tests[check].output, (check, tests[check].output)
    for check in ("test_ok_after_drip", "test_ok_after_continue", "test_ok_after_slow_headers"):
        assert tests[check].status == CheckStatus.PASSED, check  # one timeout is not a breaker
    assert tests["test_cookies_are_not_kept"].status == CheckStatus.PASSED
    assert doc.complete
    assert run.seconds < 60  # the budget; three deadline attacks cost ~2 s each
    assert run.maxrss_mb < MEMORY_BOUND_MB
    assert server.seen.largest_request_head < 1000  # no cookie ever sent back


def test_oversized_learner_text_still_yields_a_valid_document(tmp_path: Path) -> None:
    grader = copy_suite("huge", tmp_path) / "grader"
    with attack_service() as server:
        run = run_suite(tmp_path, server.path, grader)
    size = run.results.stat().st_size
    print("\n" + run.report("huge feedback suite") + f", document {size} bytes")
    assert run.code == 1, run.output
    assert size <= MAX_RESULT_BYTES
    doc = run.document()  # parses and validates
    assert len(doc.tests) == 40
    assert not doc.suite_errors
    assert all(t.status == CheckStatus.FAILED and t.max_score == 1 for t in doc.tests)
    assert "shortened to fit the result size limit" in doc.tests[0].output
    assert learner_view(doc).tests[0].feedback  # some feedback survives
    assert run.maxrss_mb < 2 * MEMORY_BOUND_MB  # the grader's own ~100 MB of text, held capped
