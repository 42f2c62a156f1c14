"""grade_directory on real Docker: phases in order, a vanished folder, a service that dies."""

from __future__ import annotations

from pathlib import Path

import pytest
from grading_helpers import (
    SOLUTION,
    copy_submission,
    course_settings,
    tiny_exercise,
)

from servelab.db.models.grading import SubmissionStatus
from servelab.grading.orphans import work_root
from servelab.grading.pipeline import grade_directory

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_phases_reported_in_order_and_work_dir_removed(runtime_image: str, tmp_path: Path) -> None:
    settings = course_settings(tmp_path / "var")
    seen: list[SubmissionStatus] = []
    outcome = grade_directory(
        SOLUTION, tiny_exercise(), settings, on_phase=seen.append, submission_id=7
    )
    assert outcome.status == SubmissionStatus.GRADED
    assert seen == [
        SubmissionStatus.PREPARING,
        SubmissionStatus.TRAINING,
        SubmissionStatus.STARTING,
        SubmissionStatus.TESTING,
    ]
    assert {"prepare", "train", "startup", "test", "cleanup"} <= set(outcome.phase_seconds)
    assert outcome.result is not None and outcome.result.status == "graded"
    assert not any(work_root(settings).iterdir())


def test_what_train_py_printed_is_kept_apart_from_the_services_log(
    runtime_image: str, tmp_path: Path
) -> None:
    train = (SOLUTION / "train.py").read_text() + "\nprint('fitted <b>ok</b> on the public data')\n"
    folder = copy_submission(SOLUTION, tmp_path / "sub", train__py=train)
    outcome = grade_directory(folder, tiny_exercise(), course_settings(tmp_path / "var"))
    assert outcome.status == SubmissionStatus.GRADED
    assert "fitted <b>ok</b> on the public data" in outcome.train_log
    assert "fitted <b>ok</b>" not in outcome.log_excerpt
    assert outcome.stored_columns()["train_log"] == outcome.train_log


def test_vanished_submission_folder_is_a_platform_error(tmp_path: Path) -> None:
    settings = course_settings(tmp_path / "var")
    outcome = grade_directory(tmp_path / "gone", tiny_exercise(), settings)
    assert outcome.status == SubmissionStatus.ERROR  # retried by the queue, never blamed
    assert "is missing" in outcome.log_excerpt


CRASH_ON_PREDICT = """

import os as _os  # noqa: E402


@app.middleware("http")
async def _die_on_predict(request, call_next):
    if request.url.path == "/predict":
        _os._exit(3)
    return await call_next(request)
"""


def test_service_that_dies_under_the_checks_is_graded_with_an_explanation(
    runtime_image: str, tmp_path: Path
) -> None:
    main = (SOLUTION / "main.py").read_text() + CRASH_ON_PREDICT
    folder = copy_submission(SOLUTION, tmp_path / "sub", main__py=main)
    outcome = grade_directory(folder, tiny_exercise(), course_settings(tmp_path / "var"))
    assert outcome.status == SubmissionStatus.GRADED
    assert outcome.result is not None and outcome.score == 1  # only /health passed
    assert "stopped while being tested" in outcome.learner_message
    predict = next(t for t in outcome.result.tests if "numeric prediction" in t.name)
    assert "the connection to your service failed" in predict.output
