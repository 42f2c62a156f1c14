"""The flagship's self-test through the real pipeline (Docker): ten candidates as declared."""

from __future__ import annotations

import pytest
from selftest_checks import FLAGSHIP, check_selftest

from servelab.content.loader import load_course
from servelab.settings import Settings


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_selftest_through_the_real_pipeline(grading_settings: Settings) -> None:
    report = check_selftest(FLAGSHIP, grading_settings)
    assert report.verdicts[0].score == 100
    assert len(report.verdicts) == 10  # reference, eight mutants, starter
    slow = next(v for v in report.verdicts if v.candidate.name == "slow-predictions")
    assert slow.outcome is not None and slow.outcome.result is not None
    exercise = load_course(grading_settings.exercises_dir).exercises[FLAGSHIP]
    print(f"slow-predictions: suite {slow.outcome.result.execution_time:.1f} s")
    assert slow.outcome.result.execution_time < exercise.limits.test_seconds
