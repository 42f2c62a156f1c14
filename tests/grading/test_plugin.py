"""The grader-author plugin: fixtures, markers, feedback and what learners may see."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from grading_helpers import SOLUTION, host_service
from suite_runs import run_suite

from servelab.grading.plugin import fail, feedback, record_table
from servelab.grading.results import CheckStatus, ResultDocument, learner_view, parse_result

SUITE = '''
import numpy as np
import pytest

from servelab.grading.plugin import feedback, record_table

SECRET = 42.1717


@pytest.mark.points(3)
@pytest.mark.category("baseline")
def test_with_feedback(service):
    """Prediction matches the hidden target"""
    prediction = service.post("/predict", json={"x": 1.0}).json()["prediction"]
    feedback("Your prediction is far from the hidden target.", section="baseline")
    record_table("Error by slice", [{"slice": "all", "mae": np.float64(1.5), "n": np.int64(3)}])
    assert prediction == SECRET


def test_without_feedback(service):
    assert service.get("/health").json() == {"status": "broken", "hidden": SECRET}


@pytest.mark.visibility("hidden")
@pytest.mark.category("contract")
def test_hidden_passes(service, hidden_data, public_data, exercise):
    assert hidden_data("holdout.csv").name == "holdout.csv"
    assert public_data("train.csv").is_file()
    assert exercise.title == "Tiny regression service"
    with pytest.raises(ValueError):
        hidden_data("../test_tiny.py")


@pytest.fixture
def broken():
    raise RuntimeError("fixture bug with " + str(SECRET))


def test_setup_error(broken):
    pass


def test_rounded_tables():
    record_table("Default", [{"auc": 0.123456, "n": np.int64(3), "f": np.float32(0.98765)}])
    record_table("Three digits", [{"auc": 0.123456, "label": "a" * 5000}], digits=3)


@pytest.mark.visibility("after_due")
@pytest.mark.parametrize("x", [1, 2])
def test_parametrized(service, x):
    assert service.post("/predict", json={"x": x}).status_code == 200
'''


@pytest.fixture(scope="module")
def socket_path() -> Iterator[Path]:
    with host_service(SOLUTION) as sock:
        yield sock


def _run_suite(
    tmp_path: Path, socket_path: Path, source: str, *options: str
) -> tuple[int, str, Path]:
    grader = tmp_path / "grader"
    (grader / "data").mkdir(parents=True)
    (grader / "data" / "holdout.csv").write_text("x,y\n1,2\n")
    (grader / "test_suite.py").write_text(textwrap.dedent(source))
    run = run_suite(tmp_path, socket_path, grader, *options, timeout=120)
    return run.code, run.output, run.results


def _by_name(doc: ResultDocument) -> dict[str, object]:
    return {t.name: t for t in doc.tests}


def test_result_document_from_a_suite(tmp_path: Path, socket_path: Path) -> None:
    code, output, results = _run_suite(tmp_path, socket_path, SUITE)
    assert code == 1, output
    doc = parse_result(results.read_bytes())
    tests = _by_name(doc)
    assert set(tests) == {
        "Prediction matches the hidden target",
        "Without feedback",
        "Hidden passes",
        "Setup error",
        "Parametrized [1]",
        "Parametrized [2]",
        "Rounded tables",
    }
    fb = tests["Prediction matches the hidden target"]
    assert (fb.status, fb.score, fb.max_score, fb.category) == ("failed", 0, 3, "baseline")
    assert fb.output == "Your prediction is far from the hidden target."
    assert fb.section == "baseline"
    assert fb.tables[0].rows == [{"slice": "all", "mae": 1.5, "n": 3}]
    assert "42.1717" in fb.instructor_output  # instructors see the raw assertion

    bare = tests["Without feedback"]
    assert bare.output == 'The check "Without feedback" did not pass.'
    assert "42.1717" in bare.instructor_output

    hidden = tests["Hidden passes"]
    assert (hidden.status, hidden.score, hidden.visibility) == ("passed", 1, "hidden")
    assert tests["Setup error"].status == CheckStatus.ERROR
    assert tests["Parametrized [2]"].visibility == "after_due"
    assert (doc.score, doc.max_score) == (4, 9)
    default, three = tests["Rounded tables"].tables
    assert default.rows == [{"auc": 0.12, "n": 3, "f": 0.99}]  # learners see rounded metrics
    assert three.rows[0]["auc"] == 0.123
    assert len(three.rows[0]["label"]) <= 200


def test_learners_never_see_raw_assertions_or_hidden_values(
    tmp_path: Path, socket_path: Path
) -> None:
    _, output, results = _run_suite(tmp_path, socket_path, SUITE)
    view = learner_view(parse_result(results.read_bytes()))
    text = view.model_dump_json()
    assert "42.1717" not in text
    assert "assert" not in text
    assert "Hidden passes" not in text
    assert "Parametrized" not in text  # after_due, no due date yet
    assert json.loads(text)["tests"]


def test_bad_marker_is_a_usage_error(tmp_path: Path, socket_path: Path) -> None:
    source = "import pytest\n@pytest.mark.visibility('secret')\ndef test_x():\n    pass\n"
    code, output, _ = _run_suite(tmp_path, socket_path, source)
    assert code == 4
    assert "visibility must be one of visible, hidden, after_due" in output


def test_fail_fails_the_check_with_its_lesson_link(tmp_path: Path, socket_path: Path) -> None:
    source = """
        from servelab.grading.plugin import fail

        def test_linked(service):
            \"\"\"Linked failure\"\"\"
            fail("The interval is upside down.", section="intervals")
    """
    code, output, results = _run_suite(tmp_path, socket_path, source)
    assert code == 1, output
    check = parse_result(results.read_bytes()).tests[0]
    assert (check.status, check.score) == (CheckStatus.FAILED, 0)
    assert check.section == "intervals"
    assert check.output == "The interval is upside down."


def test_helpers_refuse_calls_outside_a_check() -> None:
    with pytest.raises(RuntimeError, match="while a grader check is running"):
        feedback("hello")
    with pytest.raises(RuntimeError, match="while a grader check is running"):
        record_table("t", [{"a": 1}])
    with pytest.raises(RuntimeError, match="while a grader check is running"):
        fail("no check", section="leakage")


HOSTILE_SERVICE = """
import time
from fastapi import FastAPI
from fastapi.responses import Response

app = FastAPI()


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/slow")
def slow():
    time.sleep(30)


@app.get("/big")
def big():
    return Response(b"x" * (20 * 1024 * 1024))
"""

HOSTILE_SUITE = """
import pytest


def test_big(service):
    assert len(service.get("/big").content) > 0


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_slow(service, n):
    assert service.get("/slow").status_code == 200
"""


def test_hanging_or_huge_service_fails_checks_fast_with_a_reason(tmp_path: Path) -> None:
    source = tmp_path / "hostile"
    source.mkdir()
    (source / "train.py").write_text("")
    (source / "main.py").write_text(HOSTILE_SERVICE)
    started = time.monotonic()
    with host_service(source) as sock:
        code, output, results = _run_suite(
            tmp_path, sock, HOSTILE_SUITE, "--servelab-request-timeout=1"
        )
    assert time.monotonic() - started < 25  # two timeouts, then no more waiting
    assert code == 1, output
    tests = {t.name: t for t in parse_result(results.read_bytes()).tests}
    for n in range(1, 5):
        slow = tests[f"Slow [{n}]"]
        assert slow.status == "failed"
        assert "your service did not answer in time" in slow.output
    assert tests["Slow [4]"].seconds < 1  # the breaker answered at once
    assert "over 10 MB" in tests["Big"].instructor_output


def test_helpers_work_when_an_author_runs_a_suite_by_hand(
    tmp_path: Path, socket_path: Path
) -> None:
    grader = tmp_path / "grader"
    grader.mkdir()
    (grader / "test_suite.py").write_text(
        "from servelab.grading.plugin import feedback, record_table\n"
        "def test_notes(service):\n"
        "    feedback('hello')\n"
        "    record_table('t', [{'a': 1}])\n"
        "    assert service.get('/health').status_code == 200\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "servelab.grading.plugin", "-p", "no:cacheprovider",
         "--rootdir", str(grader), f"--servelab-socket={socket_path}", str(grader)],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
