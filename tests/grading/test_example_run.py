"""A lesson's example in the sandbox: every lesson's output matches in a real container, the
container is locked down like a grading one, and a hang, a crash or a flood is stopped, said
plainly and capped. The comparison and the output cleaning are checked without Docker."""

from __future__ import annotations

import time
from pathlib import Path

import docker
import pytest

from servelab.content.lesson import load_lesson
from servelab.grading import example_run
from servelab.grading.example_run import (
    DIFF_CHARS,
    OUTPUT_BYTES,
    STDERR_TAIL_CHARS,
    ExampleUnavailable,
    compare,
    printable,
    run_example,
)
from servelab.grading.orphans import MANAGED_LABEL, OWNER_LABEL
from servelab.grading.processes import owner_token
from servelab.settings import PROJECT_ROOT, Settings

LESSONS = sorted((PROJECT_ROOT / "exercises").glob("*/lesson.md"))


def _settings(tmp_path: Path, **update: object) -> Settings:
    return Settings(environment="test", var_dir=tmp_path / "var", **update)  # type: ignore[arg-type]


def _no_example_containers_left(client: docker.DockerClient) -> bool:
    mine = {"label": [f"{MANAGED_LABEL}=1", f"{OWNER_LABEL}={owner_token()}"]}
    containers = client.containers.list(all=True, filters=mine)
    return not [c for c in containers if c.labels.get("servelab.role") == example_run.ROLE]


@pytest.mark.docker
@pytest.mark.parametrize("lesson_path", LESSONS, ids=lambda p: p.parent.name)
def test_every_lesson_example_prints_its_expected_output_in_the_sandbox(
    lesson_path: Path, runtime_image: str, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    """What the Run button does: every lesson's example, not only the flagship's."""
    lesson = load_lesson(lesson_path)
    started = time.monotonic()
    run = run_example(
        lesson.example.code, lesson.example.expected_output, settings=_settings(tmp_path)
    )
    total = time.monotonic() - started
    name = lesson_path.parent.name
    print(f"\n{name} example: {run.seconds:.2f} s in its container, {total:.2f} s in all")
    assert run.reason == "ok" and run.exit_code == 0, run.stderr_tail
    assert run.matches and run.diff == ""
    assert run.output == lesson.example.expected_output
    assert "matches" in run.message
    assert _no_example_containers_left(docker_client)


LOCKS = """
import os, socket
print("uid", os.getuid())
try:
    open("/example/new.txt", "w")
    print("example folder writable")
except OSError:
    print("example folder read-only")
try:
    open("/etc/new.txt", "w")
    print("root writable")
except OSError:
    print("root read-only")
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    print("network")
except OSError:
    print("no network")
caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")]
print("capabilities", caps[0])
"""


@pytest.mark.docker
def test_the_example_runs_as_the_learner_without_network_on_a_read_only_root(
    runtime_image: str, tmp_path: Path
) -> None:
    expected = (
        "uid 10001\nexample folder read-only\nroot read-only\nno network\n"
        "capabilities 0000000000000000\n"
    )
    run = run_example(LOCKS, expected, settings=_settings(tmp_path))
    assert run.reason == "ok", run.stderr_tail
    assert run.output == expected, run.diff


@pytest.mark.docker
def test_an_example_that_hangs_is_stopped_at_its_time_limit(
    runtime_image: str, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    code = "import time\nprint('started', flush=True)\ntime.sleep(120)\n"
    run = run_example(
        code, "started\nfinished\n", settings=_settings(tmp_path, example_run_seconds=2)
    )
    print(f"\nhanging example stopped after {run.seconds:.2f} s")
    assert run.reason == "timeout" and not run.matches
    assert "ran out of its 2 s time limit" in run.message
    assert run.output == "started\n"
    assert "+started" not in run.diff and "-finished" in run.diff
    assert _no_example_containers_left(docker_client)


@pytest.mark.docker
def test_a_crash_shows_the_end_of_stderr(runtime_image: str, tmp_path: Path) -> None:
    code = (
        "import sys\nprint('before')\n"
        "sys.stderr.write('noise\\n' * 5000)\nraise RuntimeError('the <b>model</b> is gone')\n"
    )
    run = run_example(code, "before\nafter\n", settings=_settings(tmp_path))
    assert run.reason == "exit" and run.exit_code == 1
    assert "exit code 1" in run.message
    assert run.output == "before\n"  # stderr is kept apart from what is compared
    assert len(run.stderr_tail) <= STDERR_TAIL_CHARS
    assert run.stderr_tail.rstrip().endswith("RuntimeError: the <b>model</b> is gone")


@pytest.mark.docker
def test_an_output_flood_is_capped(runtime_image: str, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "for _ in range(200):\n"
        "    sys.stdout.write('line of output\\x1b[31m\\n' * 5000)\n"
        "    sys.stderr.write('e' * 50000)\n"
        "print('the end')\n"
    )
    run = run_example(code, "the end\n", settings=_settings(tmp_path))
    print(f"\n~30 MB of output captured as {len(run.output)} characters in {run.seconds:.2f} s")
    assert run.reason == "ok" and not run.matches
    assert len(run.output) <= OUTPUT_BYTES + 200  # characters: bytes kept, plus the marker
    assert "bytes cut" in run.output and run.output.endswith("the end\n")
    assert "\x1b" not in run.output  # terminal escapes never reach the page
    assert len(run.diff) <= DIFF_CHARS and len(run.stderr_tail) <= STDERR_TAIL_CHARS


def test_docker_that_does_not_answer_makes_examples_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(ExampleUnavailable) as refused:
        run_example("print('hi')\n", "hi\n", settings=_settings(tmp_path))
    assert "cannot run right now" in refused.value.message


def test_compare_matches_line_for_line_and_diffs_within_a_cap() -> None:
    assert compare("a\nb\n", "a\nb") == (True, "")
    matches, diff = compare("a\nb\nc\n", "a\nB\nc\n")
    assert not matches
    assert "-b" in diff.splitlines() and "+B" in diff.splitlines()
    assert diff.startswith("--- expected output\n+++ this run")
    matches, diff = compare("x\n", "".join(f"line {i}\n" for i in range(100_000)))
    assert not matches and len(diff) <= DIFF_CHARS and "more diff lines" in diff


def test_printable_replaces_control_characters_but_keeps_lines_and_tabs() -> None:
    assert printable("a\tb\r\nc\x1b[2Jd\x00\n") == "a\tb\nc\ufffd[2Jd\ufffd\n"
