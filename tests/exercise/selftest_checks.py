"""The self-test of one exercise through the real pipeline, as CI runs it for every exercise.

Each exercise has its own test file (test_selftest_<slug>.py) calling `check_selftest`, so the
Docker pass (`--dist loadfile`) grades the exercises on different workers at once;
test_selftest.py checks that no exercise with a grader lacks its file.
"""

from __future__ import annotations

import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score

from servelab.content.loader import load_course, load_settings_course
from servelab.grading.coverage import markdown_block, matrix_from_report, render_markdown
from servelab.grading.results import CheckStatus
from servelab.grading.selftest import Kind, SelftestReport, Verdict, discover, run_selftest
from servelab.settings import Settings

FLAGSHIP = "fastapi-for-ml-apis"


def self_tested_slugs() -> list[str]:
    """Every exercise with a grader and a reference solution: CI self-tests them all."""
    settings = Settings(environment="test")
    return sorted(
        folder.name
        for folder in settings.exercises_dir.iterdir()
        if (folder / "exercise.toml").is_file()
        and (settings.graders_dir / folder.name / "solution").is_dir()
    )


def check_selftest(slug: str, settings: Settings) -> SelftestReport:
    """Self-test `slug` as an instructor would on two cores, and check what every exercise
    owes: the reference at full marks, every candidate as declared, the coverage matrix in
    CALIBRATION.md, and failed checks that teach without hidden yardsticks."""
    course = load_settings_course(settings)
    report = run_selftest(settings, course, slug, jobs=2)
    assert [v.candidate.name for v in report.verdicts] == [c.name for c in discover(course, slug)]
    surprises = {v.candidate.name: v.surprises for v in report.verdicts if not v.ok}
    assert report.ok, (report.problems, surprises)
    reference = report.verdicts[0]
    assert reference.candidate.kind == Kind.REFERENCE
    assert reference.score == reference.max_score
    _assert_calibration_has_the_matrix(settings, slug, report)
    _assert_failed_checks_teach(settings, slug, report.verdicts)
    return report


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
