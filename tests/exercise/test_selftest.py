"""The grader self-test: how verdicts are reached, how candidates are found, and that every
exercise is self-tested through the real pipeline (one test_selftest_<slug>.py each)."""

from __future__ import annotations

from pathlib import Path

import pytest
from selftest_checks import FLAGSHIP, self_tested_slugs

from servelab.content.loader import load_settings_course
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import CheckStatus, Part, ResultDocument, TestResult
from servelab.grading.selftest import (
    Candidate,
    Kind,
    MutantDeclaration,
    SelftestError,
    discover,
    judge,
    run_selftest,
)
from servelab.settings import Settings

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


def test_the_flagship_is_among_the_self_tested_exercises() -> None:
    slugs = self_tested_slugs()
    assert {FLAGSHIP, "prediction-intervals", "monitoring-model-services"} <= set(slugs)


def test_every_self_tested_exercise_has_its_own_pipeline_test() -> None:
    """One file per exercise, so the Docker pass grades them on different workers; an
    exercise added without its file would silently never be self-tested in CI."""
    here = Path(__file__).parent
    files = {path.name for path in here.glob("test_selftest_*.py")}
    missing = [
        slug
        for slug in self_tested_slugs()
        if f"test_selftest_{slug.replace('-', '_')}.py" not in files
    ]
    assert not missing, (
        f"add tests/exercise/test_selftest_<slug>.py calling check_selftest for: {missing}"
    )


@pytest.mark.docker
def test_selftest_refuses_to_grade_with_a_stale_image(grading_settings: Settings) -> None:
    """An image built from other pins grades with other packages: the self-test says so and
    grades nothing, instead of reporting failures the suite did not cause."""
    settings = grading_settings.model_copy(update={"grader_image": "servelab-grader:never-built"})
    report = run_selftest(settings, load_settings_course(settings), FLAGSHIP)
    assert not report.ok and report.verdicts == []
    assert report.problems == [
        "the grader image servelab-grader:never-built is missing or was built from other "
        "inputs than grader-requirements.txt: run `servelab runtime build`"
    ]
