"""The grader self-test: how verdicts are reached, and the flagship through the real pipeline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score

from servelab.content.loader import load_course, load_settings_course
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.coverage import markdown_block, matrix_from_report, render_markdown
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import CheckStatus, Part, ResultDocument, TestResult
from servelab.grading.selftest import (
    Candidate,
    Kind,
    MutantDeclaration,
    SelftestError,
    SelftestReport,
    Verdict,
    discover,
    judge,
    run_selftest,
)
from servelab.settings import Settings

FLAGSHIP = "fastapi-for-ml-apis"
CHECKS = ("test_a", "test_b", "test_c")


def _graded(*failed: str) -> GradeOutcome:
    tests = [
        TestResult(
            name=name,
            nodeid=f"test_x.py::{name}",
            max_score=1,
            score=0 if name in failed else 1,
            status=CheckStatus.FAILED if name in failed else CheckStatus.PASSED,
        )
        for name in CHECKS
    ]
    return GradeOutcome(SubmissionStatus.GRADED, result=ResultDocument(tests=tests).with_totals())


def _mutant(*must_fail: str, status: str = "graded") -> Candidate:
    declaration = MutantDeclaration.model_validate(
        {"description": "x", "expect_status": status, "must_fail": list(must_fail)}
    )
    return Candidate("m", Kind.MUTANT, Path("."), declaration)


def test_reference_must_pass_everything() -> None:
    reference = Candidate("solution", Kind.REFERENCE, Path("."))
    assert judge(reference, _graded()).ok
    verdict = judge(reference, _graded("test_b"))
    assert not verdict.ok and "test_b" in verdict.surprises[0]


def test_mutant_must_fail_exactly_its_declared_checks() -> None:
    assert judge(_mutant("test_a"), _graded("test_a")).ok
    missed = judge(_mutant("test_a", "test_b"), _graded("test_a"))
    assert missed.surprises == ["passed checks it must fail: test_b"]
    extra = judge(_mutant("test_a"), _graded("test_a", "test_c"))
    assert extra.surprises == ["failed undeclared checks: test_c"]
    typo = judge(_mutant("test_z"), _graded())
    assert "does not have: test_z" in typo.surprises[0]


def _split(final_failed: tuple[str, ...], feedback_failed: tuple[str, ...]) -> GradeOutcome:
    """Checks test_b and test_c read hidden data: each ran on the final and the feedback part."""

    def check(name: str, part: Part | None, failed: tuple[str, ...]) -> TestResult:
        return TestResult(
            name=name,
            nodeid=f"test_x.py::{name}",
            max_score=1,
            score=0 if name in failed else 1,
            status=CheckStatus.FAILED if name in failed else CheckStatus.PASSED,
            part=part,
        )

    tests = [check("test_a", None, final_failed)]
    tests += [check(n, Part.FINAL, final_failed) for n in ("test_b", "test_c")]
    feedback = [check(n, Part.FEEDBACK, feedback_failed) for n in ("test_b", "test_c")]
    doc = ResultDocument(tests=tests, feedback_tests=feedback).with_totals()
    return GradeOutcome(SubmissionStatus.GRADED, result=doc)


def test_with_split_hidden_data_each_part_must_judge_the_same_way() -> None:
    """A mutant must fail its checks on the feedback part too, and the reference pass both:
    a part too small to tell them apart is a grader bug the self-test reports."""
    assert judge(_mutant("test_b"), _split(("test_b",), ("test_b",))).ok
    verdict = judge(_mutant("test_b"), _split(("test_b",), ()))
    assert verdict.surprises == ["on the feedback part: passed checks it must fail: test_b"]
    reference = Candidate("solution", Kind.REFERENCE, Path("."))
    assert judge(reference, _split((), ())).ok
    assert not judge(reference, _split((), ("test_c",))).ok


def test_mutant_declared_to_fail_before_grading() -> None:
    slow = _mutant(status="failed")
    assert judge(slow, GradeOutcome(SubmissionStatus.FAILED, learner_message="too slow")).ok
    assert not judge(slow, _graded()).ok


def test_mutant_must_fail_for_the_declared_reason() -> None:
    declaration = MutantDeclaration(
        description="x", expect_status="failed", failure_contains="did not become healthy"
    )
    slow = Candidate("slow", Kind.MUTANT, Path("."), declaration)
    healthy_late = "The service did not become healthy within 20 s."
    assert judge(slow, GradeOutcome(SubmissionStatus.FAILED, learner_message=healthy_late)).ok
    crashed = judge(slow, GradeOutcome(SubmissionStatus.FAILED, learner_message="train.py crashed"))
    assert not crashed.ok and "not as declared" in crashed.surprises[0]


def test_platform_error_is_always_a_surprise() -> None:
    reference = Candidate("solution", Kind.REFERENCE, Path("."))
    verdict = judge(reference, GradeOutcome(SubmissionStatus.ERROR, log_excerpt="boom"))
    assert verdict.surprises == ["status error, expected graded: boom"]


def test_starter_must_pass_some_and_fail_some() -> None:
    starter = Candidate("starter", Kind.STARTER, Path("."))
    assert judge(starter, _graded("test_a")).ok
    assert not judge(starter, _graded()).ok
    assert not judge(starter, _graded(*CHECKS)).ok


def test_discover_finds_the_flagship_reference_mutants_and_starter(settings: Settings) -> None:
    candidates = discover(load_settings_course(settings), FLAGSHIP)
    kinds = [(c.kind, c.name) for c in candidates]
    assert kinds[0] == (Kind.REFERENCE, "solution")
    assert kinds[-1] == (Kind.STARTER, "starter")
    assert {name for kind, name in kinds if kind == Kind.MUTANT} == {
        "whole-file-preprocessing",
        "retention-offer",
        "customer-id",
        "constant-prior",
        "no-validation",
        "islands-dropped",
        "slow-predictions",
        "slow-startup",
    }


def test_discover_reports_a_broken_declaration_with_its_line(tmp_path: Path) -> None:
    from servelab.grading.scaffold import create_exercise

    exercises, graders = tmp_path / "exercises", tmp_path / "graders"
    create_exercise(exercises_dir=exercises, graders_dir=graders, slug="demo")
    (graders / "demo" / "mutants" / "constant-mean" / "mutant.toml").write_text(
        'description = "x"\nmust_fial = ["test_a"]\n'
    )
    settings = Settings(environment="test", exercises_dir=exercises, graders_dir=graders)
    with pytest.raises(SelftestError, match=r"mutant.toml:2: .*must_fial"):
        discover(load_settings_course(settings), "demo")


def _self_tested_slugs() -> list[str]:
    """Every exercise with a grader and a reference solution: CI self-tests them all."""
    settings = Settings(environment="test")
    return sorted(
        folder.name
        for folder in settings.exercises_dir.iterdir()
        if (folder / "exercise.toml").is_file()
        and (settings.graders_dir / folder.name / "solution").is_dir()
    )


def test_the_flagship_is_among_the_self_tested_exercises() -> None:
    assert FLAGSHIP in _self_tested_slugs()
    assert "prediction-intervals" in _self_tested_slugs()


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("slug", _self_tested_slugs())
def test_selftest_through_the_real_pipeline(slug: str, grading_settings: Settings) -> None:
    course = load_settings_course(grading_settings)
    # Two at a time, as an instructor would on two cores; the verdicts keep discovery's order.
    report = run_selftest(grading_settings, course, slug, jobs=2)
    assert [v.candidate.name for v in report.verdicts] == [c.name for c in discover(course, slug)]
    surprises = {v.candidate.name: v.surprises for v in report.verdicts if not v.ok}
    assert report.ok, (report.problems, surprises)
    reference = report.verdicts[0]
    assert reference.candidate.kind == Kind.REFERENCE
    assert reference.score == reference.max_score
    _assert_calibration_has_the_matrix(grading_settings, slug, report)
    if slug == FLAGSHIP:
        assert reference.score == 100
        assert len(report.verdicts) == 10  # reference, eight mutants, starter
        slow = next(v for v in report.verdicts if v.candidate.name == "slow-predictions")
        assert slow.outcome is not None and slow.outcome.result is not None
        exercise = load_course(grading_settings.exercises_dir).exercises[slug]
        print(f"slow-predictions: suite {slow.outcome.result.execution_time:.1f} s")
        assert slow.outcome.result.execution_time < exercise.limits.test_seconds
    _assert_failed_checks_teach(grading_settings, slug, report.verdicts)


def _hidden_yardsticks(settings: Settings, slug: str) -> list[str]:
    """What each suite computes on hidden rows and must never show: the grader's own
    baseline on each part of the hidden data, as a learner would see it printed."""
    train = pd.read_csv(settings.exercises_dir / slug / "data" / "train.csv")
    hidden = settings.graders_dir / slug / "data"
    split = (hidden / "final").is_dir()  # a split holdout has two parts, else one file
    holdouts = [
        pd.read_csv(hidden / part / "holdout.csv")
        for part in (("final", "feedback") if split else ("",))
    ]
    values = []
    if slug == FLAGSHIP:
        baseline = LogisticRegression().fit(train[["tenure_months"]], train["churned"])
        for holdout in holdouts:
            scores = baseline.predict_proba(holdout[["tenure_months"]])[:, 1]
            values.append(roc_auc_score(holdout["churned"], scores))
    elif slug == "prediction-intervals":
        numeric = ["distance_km", "items", "hour"]
        linear = LinearRegression().fit(train[numeric], train["delivery_minutes"])
        median = train["delivery_minutes"].median()
        for holdout in holdouts:
            truth = holdout["delivery_minutes"]
            values.append((truth - linear.predict(holdout[numeric])).abs().mean())
            values.append((truth - median).abs().mean())
    elif slug == "monitoring-model-services":
        baseline = LogisticRegression().fit(train[["distance_km"]], train["fraud"])
        for holdout in holdouts:
            scores = baseline.predict_proba(holdout[["distance_km"]])[:, 1]
            values.append(roc_auc_score(holdout["fraud"], scores))
    return [text for value in values for text in (f"{value:.3f}", f"{value:.2f}")]


def _assert_failed_checks_teach(settings: Settings, slug: str, verdicts: list[Verdict]) -> None:
    """Every failed check tells the learner what and why, links a real lesson anchor, and
    shows none of the grader's hidden yardsticks."""
    anchors = load_course(settings.exercises_dir).lessons[slug].anchors
    secrets = _hidden_yardsticks(settings, slug)
    for verdict in verdicts:
        result = verdict.outcome.result if verdict.outcome else None
        for test in result.tests if result else []:
            if test.status == CheckStatus.PASSED:
                continue
            where = f"{verdict.candidate.name}: {test.nodeid}"
            assert test.feedback and test.output.strip(), where
            assert test.section in anchors, where
            assert not any(secret in test.output for secret in secrets), where


def _assert_calibration_has_the_matrix(
    settings: Settings, slug: str, report: SelftestReport
) -> None:
    """CALIBRATION.md holds the coverage matrix of this very self-test (built from its
    gradings, so it costs no grading of its own): a changed check or mutant shows up here."""
    matrix = matrix_from_report(report)
    assert matrix is not None
    calibration = settings.graders_dir / slug / "CALIBRATION.md"
    text = calibration.read_text(encoding="utf-8") if calibration.is_file() else ""
    expected = render_markdown(matrix)
    assert markdown_block(text) == expected, (
        f"{calibration}: its coverage matrix is not this self-test's. Run `servelab exercise "
        f"selftest {slug} --matrix --matrix-markdown {calibration}`, or put this block in it:\n"
        f"{expected}"
    )
