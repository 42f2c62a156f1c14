"""Run an exercise's hidden pytest suite against a learner's service.

The suite runs in the platform's own Python (never inside the learner's container) as a
subprocess with its own process group and timeout, and hands back a capped JSON result
document written by `servelab.grading.plugin`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from servelab.content.exercise import Exercise
from servelab.grading.results import ResultDocument, ResultError, read_result_file

_OUTPUT_CAP = 20_000
# pytest exit codes: 0 all passed, 1 some failed; anything else means the suite did not run.
_SUITE_RAN = {0, 1}


class SuiteError(Exception):
    """The hidden suite crashed, timed out or wrote no valid result: a platform problem."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.output = output


def _tail(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    if len(text) <= _OUTPUT_CAP:
        return text
    return f"… [{len(text) - _OUTPUT_CAP} characters cut] …\n{text[-_OUTPUT_CAP:]}"


def _suite_env() -> dict[str, str]:
    """A small environment: no platform secrets reach grader code."""
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "HOME")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"})
    # Installed pytest plugins are not loaded (schemathesis alone costs about a second per
    # submission); hypothesis's is, as grader suites use @given.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def suite_command(
    *, grader_dir: Path, exercise_dir: Path, socket_path: Path, results: Path, config: Path
) -> list[str]:
    """The pytest command line (isolated from the project's own pytest configuration)."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "servelab.grading.plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "_hypothesis_pytestplugin",
        "-c",
        str(config),
        "--rootdir",
        str(grader_dir),
        "--confcutdir",
        str(grader_dir),
        "-q",
        "--no-header",
        "-o",
        "console_output_style=classic",
        f"--servelab-socket={socket_path}",
        f"--servelab-exercise-dir={exercise_dir}",
        f"--servelab-grader-dir={grader_dir}",
        f"--servelab-results={results}",
        str(grader_dir),
    ]


def run_hidden_suite(
    *,
    grader_dir: Path,
    exercise_dir: Path,
    socket_path: Path,
    exercise: Exercise,
    timeout: float,
) -> ResultDocument:
    """Grade the service listening on socket_path; raises SuiteError on a platform problem."""
    grader_dir = Path(grader_dir).resolve()
    if not grader_dir.is_dir():
        raise SuiteError(f"grader suite folder {grader_dir} does not exist")
    with tempfile.TemporaryDirectory(prefix="servelab-suite-") as scratch:
        results = Path(scratch) / "results.json"
        config = Path(scratch) / "pytest.ini"
        config.write_text("[pytest]\naddopts =\n", encoding="utf-8")
        command = suite_command(
            grader_dir=grader_dir,
            exercise_dir=Path(exercise_dir).resolve(),
            socket_path=Path(socket_path),
            results=results,
            config=config,
        )
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=scratch,
            env=_suite_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            raise SuiteError(
                f"the hidden test suite did not finish within {timeout:g} s and was stopped",
                _tail(output),
            ) from None
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        text = _tail(output)
        try:
            doc = read_result_file(results)
        except ResultError as exc:
            if process.returncode not in _SUITE_RAN:
                raise SuiteError(
                    f"the hidden test suite stopped with pytest exit code {process.returncode}",
                    text,
                ) from exc
            raise SuiteError(str(exc), text) from exc
    if doc.suite_errors:
        raise SuiteError("the hidden test suite has errors: " + doc.suite_errors[0][:500], text)
    if process.returncode not in _SUITE_RAN:
        raise SuiteError(
            f"the hidden test suite stopped with pytest exit code {process.returncode}", text
        )
    if not doc.tests:
        raise SuiteError("the hidden test suite collected no checks", text)
    return doc.model_copy(
        update={
            "execution_time": round(time.monotonic() - started, 3),
            "instructor_output": text,
        }
    ).with_totals(dict(exercise.categories))
