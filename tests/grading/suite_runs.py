"""Run a small grader suite with ServeLab's plugin in a real pytest process, as the runner does.

Returns the exit code, the output, the result document's path, the wall time and pytest's
peak memory (ru_maxrss from wait4 in a small launcher, so each run is measured on its own).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grading_helpers import EXERCISE_DIR

from servelab.grading.results import ResultDocument, parse_result
from servelab.settings import PROJECT_ROOT

SUITES = PROJECT_ROOT / "tests" / "fixtures" / "suites"


@dataclass
class SuiteRun:
    code: int
    output: str
    results: Path
    seconds: float
    maxrss_mb: float

    def document(self) -> ResultDocument:
        return parse_result(self.results.read_bytes())

    def report(self, label: str) -> str:
        return f"{label}: exit {self.code} in {self.seconds:.1f} s, max RSS {self.maxrss_mb:.0f} MB"


def copy_suite(name: str, dest: Path) -> Path:
    """A copy of tests/fixtures/suites/<name>/ (its grader/ and maybe exercise/ folders)."""
    shutil.copytree(SUITES / name, dest / name)
    return dest / name


def run_suite(
    tmp_path: Path,
    socket_path: Path,
    grader: Path,
    *options: str,
    exercise: Path = EXERCISE_DIR,
    timeout: float = 180,
    kill_when: Callable[[Path], bool] | None = None,
) -> SuiteRun:
    """pytest on `grader` against the service on `socket_path`.

    With `kill_when`, the child is SIGKILLed as soon as kill_when(results) is true (polled),
    the way a container is killed at its wall clock.
    """
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts =\n")
    results = tmp_path / "results.json"
    log = tmp_path / "suite.log"
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    command = [
        sys.executable, "-m", "pytest", "-p", "servelab.grading.plugin",
        "-p", "no:cacheprovider", "-p", "_hypothesis_pytestplugin",
        "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(grader), "--confcutdir", str(grader),
        "-q", f"--servelab-socket={socket_path}", f"--servelab-exercise-dir={exercise}",
        f"--servelab-grader-dir={grader}", f"--servelab-results={results}", str(grader),
        *options,
    ]  # fmt: skip
    started = time.monotonic()
    usage_file = tmp_path / "usage.txt"
    with log.open("wb") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(usage_file), *command[1:]],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while launcher.poll() is None:
            overdue = time.monotonic() - started > timeout
            if overdue or (kill_when is not None and kill_when(results)):
                os.killpg(launcher.pid, signal.SIGKILL)
                launcher.wait()
                break
            time.sleep(0.05)
    seconds = time.monotonic() - started
    code, maxrss_kb = launcher.returncode, 0
    if usage_file.exists():
        maxrss_kb, code = (int(n) for n in usage_file.read_text().split())
    return SuiteRun(
        code=code,
        output=log.read_text(errors="replace"),
        results=results,
        seconds=seconds,
        maxrss_mb=maxrss_kb / 1024,
    )


# A small Python forks pytest and waits for it with wait4: Linux keeps a process's peak RSS
# across fork and exec, so forking pytest from this test process would report our own peak.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as handle:
    handle.write(f"{usage.ru_maxrss} {code}")
sys.exit(code if code >= 0 else 128 - code)
"""
