"""Lesson 3's exercise through the real pipeline (Docker): reference, 9 mutants, starter."""

from __future__ import annotations

import pytest
from selftest_checks import check_selftest

from servelab.settings import Settings


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_selftest_through_the_real_pipeline(grading_settings: Settings) -> None:
    report = check_selftest("monitoring-model-services", grading_settings)
    assert len(report.verdicts) == 11
