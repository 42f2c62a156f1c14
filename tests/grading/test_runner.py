"""The hidden-suite runner: the suite in its own container against a real sandboxed service."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from grading_helpers import EXERCISE_DIR, GRADER_DIR, SOLUTION, STARTER, course_settings
from sandbox_helpers import leftovers

from servelab.content.exercise import load_exercise
from servelab.grading.limits import SandboxLimits
from servelab.grading.runner import GRACE_SECONDS, PreparedSuite, SuiteError, SuiteOutcome
from servelab.grading.sandbox import Sandbox

pytestmark = [pytest.mark.docker, pytest.mark.slow]

EXERCISE = load_exercise(EXERCISE_DIR / "exercise.toml")
LIMITS = SandboxLimits.from_exercise(EXERCISE.limits)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient, runtime_image: str
) -> Iterator[Sandbox]:
    """The tiny reference solution, trained and serving in a real sandbox, for the module."""
    with _started(SOLUTION, tmp_path_factory.mktemp("served"), docker_client, runtime_image) as box:
        yield box


class _started:
    def __init__(self, source: Path, tmp: Path, client: docker.DockerClient, image: str) -> None:
        self.sandbox = Sandbox(
            source_dir=source,
            data_dir=EXERCISE_DIR / "data",
            work_dir=tmp,
            limits=LIMITS,
            image=image,
            labels={"servelab.submission": "runner-test"},
            client=client,
        )

    def __enter__(self) -> Sandbox:
        assert self.sandbox.train().ok
        assert self.sandbox.start_service().ok
        return self.sandbox

    def __exit__(self, *exc: object) -> None:
        self.sandbox.close()
        assert leftovers(self.sandbox.client, self.sandbox) == []


def _run(sandbox: Sandbox, tmp_path: Path, grader_dir: Path = GRADER_DIR, **over) -> SuiteOutcome:  # type: ignore[no-untyped-def]
    exercise = EXERCISE.model_copy(update=over) if over else EXERCISE
    # Against a service that is already healthy: start the suite and run it at once.
    return PreparedSuite(
        sandbox=sandbox,
        settings=course_settings(tmp_path / "var"),
        grader_dir=grader_dir,
        exercise_dir=EXERCISE_DIR,
        exercise=exercise,
        wait_seconds=GRACE_SECONDS,
    ).run()


def _grader(tmp_path: Path, source: str, name: str = "grader") -> Path:
    grader = tmp_path / name
    grader.mkdir()
    (grader / "test_suite.py").write_text(source)
    return grader


def test_reference_solution_gets_full_marks(served: Sandbox, tmp_path: Path) -> None:
    outcome = _run(served, tmp_path)
    doc = outcome.doc
    assert (doc.score, doc.max_score, doc.complete, outcome.stopped) == (8, 8, True, None)
    assert {c.label: c.score for c in doc.categories} == {
        "API contract": 6,
        "Beats the baseline": 2,
    }
    assert "7 passed" in doc.instructor_output  # the suite's own output, for instructors
    assert {"create", "start", "remove"} <= set(outcome.timings)
    assert not any((GRADER_DIR / name).exists() for name in (".pytest_cache", "__pycache__"))


def test_starter_gets_partial_marks_with_feedback(
    tmp_path: Path, docker_client: docker.DockerClient, runtime_image: str
) -> None:
    with _started(STARTER, tmp_path, docker_client, runtime_image) as sandbox:
        doc = _run(sandbox, tmp_path).doc
    assert (doc.score, doc.max_score) == (3, 8)
    baseline = next(t for t in doc.tests if t.category == "baseline")
    assert baseline.output == "Your model is no better than always predicting the mean."
    assert baseline.tables[0].name == "Mean absolute error"


PROBE_SUITE = """
import json, os, socket
from pathlib import Path

def _walk(root, limit=200_000):
    seen = 0
    for folder, dirs, files in os.walk(root, onerror=lambda e: None):
        dirs[:] = [d for d in dirs if not (folder == "/" and d in ("proc", "sys", "dev"))]
        for name in files:
            seen += 1
            if seen > limit:
                return
            yield os.path.join(folder, name)

def test_probe(service):
    report = {"uid": os.getuid()}
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
        report["loopback"] = "connected"
    except OSError as exc:
        report["loopback"] = type(exc).__name__
    try:
        socket.getaddrinfo("pypi.org", 443)
        report["dns"] = "resolved"
    except OSError as exc:
        report["dns"] = type(exc).__name__
    report["canary"] = [p for p in _walk("/") if "other-exercise-canary" in p]
    report["submission_files"] = [
        p for p in _walk("/")
        if p.endswith("/train.py") and not p.startswith(("/exercise/starter/", "/proc/"))
    ]
    report["submission_dir"] = os.listdir("/submission") if os.path.isdir("/submission") else []
    for path in ("/x", "/grader/x", "/exercise/x", "/opt/servelab/x", "/results/x", "/tmp/x"):
        try:
            Path(path).write_text("x")
            report.setdefault("writable", []).append(path)
        except OSError:
            pass
    status = Path("/proc/self/status").read_text()
    report["cap_eff"] = [l.split()[1] for l in status.splitlines() if l.startswith("CapEff")][0]
    report["no_new_privs"] = [l.split()[1] for l in status.splitlines()
                              if l.startswith("NoNewPrivs")][0]
    report["service"] = service.get("/health").status_code
    Path("/results/probe.json").write_text(json.dumps(report))
"""


def test_the_suite_container_is_locked_down_and_sees_only_its_exercise(
    served: Sandbox, tmp_path: Path
) -> None:
    """No network (a loopback listener on the host gets nothing), unprivileged, read-only
    except /tmp and /results, and no other exercise's grader folder anywhere."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connections: list[object] = []
    listener.settimeout(0.2)

    def accept() -> None:
        for _ in range(100):
            try:
                connections.append(listener.accept())
            except TimeoutError:
                continue
            except OSError:
                return

    watcher = threading.Thread(target=accept, daemon=True)
    watcher.start()
    other = tmp_path / "graders" / "other" / "data"
    other.mkdir(parents=True)
    (other / "other-exercise-canary.csv").write_text("secret\n")
    grader = _grader(tmp_path, PROBE_SUITE.replace("{port}", str(port)))
    probe_path = served.host_dir / "results" / "probe.json"
    outcome = _run(served, tmp_path, grader)
    report = json.loads(probe_path.read_text())
    listener.close()
    watcher.join(timeout=5)
    assert outcome.doc.tests[0].status == "passed", outcome.doc.instructor_output
    assert connections == []
    assert report["loopback"] != "connected"
    assert report["dns"] != "resolved"
    assert report["uid"] == 10002  # not the learner's 10001, not root
    assert report["cap_eff"] == "0000000000000000"
    assert report["no_new_privs"] == "1"
    assert sorted(report.get("writable", [])) == ["/results/x", "/tmp/x"]
    assert report["canary"] == []
    # the learner's files are not mounted in (the starter is the exercise's public one)
    assert (report["submission_files"], report["submission_dir"]) == ([], [])
    assert report["service"] == 200  # the learner's service only through its socket


def test_a_check_that_outlives_the_budget_fails_and_the_rest_still_grade(
    served: Sandbox, tmp_path: Path
) -> None:
    source = (
        "import time\n"
        "def test_slow():\n    time.sleep(600)\n"
        "def test_after(service):\n    assert service.get('/health').status_code == 200\n"
    )
    limits = EXERCISE.limits.model_copy(update={"test_seconds": 4})
    started = time.monotonic()
    outcome = _run(served, tmp_path, _grader(tmp_path, source), limits=limits)
    assert time.monotonic() - started < 4 + 15  # the budget, plus the container's grace
    slow, after = outcome.doc.tests
    assert (slow.status, outcome.stopped) == ("failed", None)
    assert "time" in slow.output
    assert after.status != "passed"  # not started: the budget was spent
    assert served.service_alive().ok  # the service is untouched by the grader's end


def test_a_suite_killed_at_its_wall_clock_is_graded_on_what_finished(
    served: Sandbox, tmp_path: Path
) -> None:
    """Stuck where no alarm reaches it (signals blocked, as C code can be): the container is
    killed at its wall clock and the last document it wrote grades what had finished."""
    source = (
        "import signal, time\n"
        "def test_first(service):\n    assert service.get('/health').status_code == 200\n"
        "def test_stuck():\n"
        "    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
        "    time.sleep(600)\n"
    )
    # 8 s, not less: on a loaded machine the suite's own start-up can eat a smaller budget
    # before the first check starts, and that check is then (rightly) marked not run.
    limits = EXERCISE.limits.model_copy(update={"test_seconds": 8})
    started = time.monotonic()
    outcome = _run(served, tmp_path, _grader(tmp_path, source), limits=limits)
    assert time.monotonic() - started < 8 + 15 + 10
    assert (outcome.stopped, outcome.doc.complete) == ("timeout", False)
    first, stuck = outcome.doc.tests
    assert (first.status, stuck.status, stuck.score) == ("passed", "skipped", 0)
    assert "was not run" in stuck.output
    assert (outcome.doc.score, outcome.doc.max_score) == (1, 2)


def test_broken_suite_is_a_platform_error(served: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="has errors") as info:
        _run(served, tmp_path, _grader(tmp_path, "def test_x(:\n    pass\n"))
    assert "SyntaxError" in info.value.output or "invalid syntax" in str(info.value)


def test_empty_suite_is_a_platform_error(served: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="exit code 5|collected no checks"):
        _run(served, tmp_path, _grader(tmp_path, "x = 1\n"))


def test_suite_gets_no_platform_secrets(
    served: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVELAB_SECRET_KEY", "do-not-leak")
    source = (
        "import os\n"
        "from servelab.grading.plugin import feedback\n"
        "def test_env():\n"
        "    feedback(','.join(sorted(os.environ)))\n"
    )
    doc = _run(served, tmp_path, _grader(tmp_path, source)).doc
    assert "SERVELAB_SECRET_KEY" not in doc.tests[0].output
    assert "PYTHONPATH" in doc.tests[0].output


@pytest.mark.parametrize("swap", ["symlink", "fifo"])
def test_a_result_file_swapped_for_a_link_or_fifo_is_refused(
    served: Sandbox, tmp_path: Path, swap: str
) -> None:
    """The result file comes from a process that read hostile data: the host (root) opens
    only a regular file, so a link cannot make it read a host file, nor a FIFO block it."""
    make = "os.symlink('/etc/shadow', path)" if swap == "symlink" else "os.mkfifo(path)"
    conftest = (
        "import os\n"
        "def pytest_unconfigure(config):\n"
        "    path = '/results/results.json'\n"
        "    if os.path.exists(path):\n"
        "        os.unlink(path)\n"
        f"    {make}\n"
    )
    grader = _grader(tmp_path, "def test_ok():\n    pass\n")
    (grader / "conftest.py").write_text(conftest)
    with pytest.raises(SuiteError, match="not a regular file|cannot be opened"):
        _run(served, tmp_path, grader)
