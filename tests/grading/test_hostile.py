"""Hostile submissions in real containers: each fails clearly, leaves nothing, harms nothing.

Every case runs with short limits, then checks that no container, volume, socket dir or process
of its sandbox remains, and that a well-behaved submission still trains and serves afterwards.
Every case runs twice: under Docker's default runtime (runc) and under gVisor (runsc).
"""

from __future__ import annotations

import io
import re
import shutil
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import docker
import httpx
import pytest
from grading_helpers import SOLUTION, copy_submission, course_settings, tiny_exercise
from sandbox_helpers import HOSTILE, leftovers, report_of

from servelab.db.models.grading import SubmissionStatus
from servelab.grading.archive import MAX_UNCOMPRESSED, ArchiveError, extract_zip
from servelab.grading.limits import MiB, SandboxLimits
from servelab.grading.orphans import SOCKET_ROOT, work_root
from servelab.grading.outcome import GradeOutcome
from servelab.grading.pipeline import grade_directory
from servelab.grading.processes import owner_token
from servelab.grading.sandbox import Sandbox
from support import require_service

pytestmark = [pytest.mark.docker, pytest.mark.slow]

LIMITS = SandboxLimits(
    train_seconds=6,
    startup_seconds=6,
    memory_bytes=256 * MiB,
    pids=64,
    tmpfs_bytes=16 * MiB,
    model_dir_bytes=16 * MiB,
    output_bytes=8 * 1024,
)
SECRET = "SERVELAB-SECRET-" + "7f3a"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "public-data"
    folder.mkdir()
    (folder / "train.csv").write_text("x,y\n1,2\n2,4\n3,6\n")
    return folder


@pytest.fixture(params=["runc", "runsc"])
def oci_runtime(request: pytest.FixtureRequest, docker_client: docker.DockerClient) -> str:
    """The OCI runtime the case runs under; runsc must be registered (ensure-system.sh runsc)."""
    if request.param == "runsc":
        require_service(
            "runsc" in (docker_client.info().get("Runtimes") or {}),
            "gVisor's runsc registered with Docker (deploy/ensure-system.sh runsc)",
        )
    return str(request.param)


@pytest.fixture
def limits(oci_runtime: str) -> SandboxLimits:
    """Short limits; under gVisor, Python (and so every phase) starts about 3x slower."""
    if oci_runtime == "runsc":
        return replace(LIMITS, train_seconds=12, startup_seconds=12)
    return LIMITS


@pytest.fixture
def run(
    tmp_path: Path,
    data_dir: Path,
    docker_client: docker.DockerClient,
    runtime_image: str,
    oci_runtime: str,
    limits: SandboxLimits,
) -> Iterator:
    """Open a sandbox on a hostile fixture; afterwards assert cleanup and a healthy next run."""
    opened: list[Sandbox] = []

    def _open(
        case: str, case_limits: SandboxLimits | None = None, files: dict[str, str] | None = None
    ) -> Sandbox:
        source = tmp_path / "submissions" / f"{case}-{len(opened)}"
        if (HOSTILE / case).is_dir():
            shutil.copytree(HOSTILE / case, source)
        source.mkdir(parents=True, exist_ok=True)
        for name, text in (files or {}).items():
            (source / name).write_text(text)
        for name in ("train.py", "main.py"):
            if not (source / name).exists():
                shutil.copy(HOSTILE / "well_behaved" / name, source / name)
        sandbox = Sandbox(
            source_dir=source,
            data_dir=data_dir,
            work_dir=tmp_path / f"work-{case}",
            limits=case_limits or limits,
            image=runtime_image,
            labels={"servelab.submission": f"hostile-{case}"},
            client=docker_client,
            runtime=oci_runtime,
        )
        opened.append(sandbox)
        return sandbox

    yield _open
    for sandbox in opened:
        sandbox.close()
        assert leftovers(docker_client, sandbox) == []
    _assert_next_submission_works(
        tmp_path, data_dir, docker_client, runtime_image, oci_runtime, limits
    )


def _assert_next_submission_works(
    tmp_path: Path,
    data_dir: Path,
    client: docker.DockerClient,
    image: str,
    oci_runtime: str,
    limits: SandboxLimits,
) -> None:
    with Sandbox(
        source_dir=HOSTILE / "well_behaved",
        data_dir=data_dir,
        work_dir=tmp_path / "work-next",
        limits=limits,
        image=image,
        client=client,
        runtime=oci_runtime,
    ) as sandbox:
        assert sandbox.train().ok
        assert sandbox.start_service().ok
        with _client(sandbox) as http:
            assert http.get("/predict").json() == {"prediction": 4.0}
    assert leftovers(client, sandbox) == []


def _client(sandbox: Sandbox) -> httpx.Client:
    transport = httpx.HTTPTransport(uds=str(sandbox.socket_path))
    return httpx.Client(transport=transport, base_url="http://service", timeout=10)


def test_endless_loop_is_stopped_at_the_training_limit(run, limits: SandboxLimits) -> None:
    started = time.monotonic()
    result = run("endless_loop").train()
    assert (result.ok, result.reason) == (False, "timeout")
    assert limits.train_seconds <= result.seconds < limits.train_seconds + 5
    assert time.monotonic() - started < limits.train_seconds + 10
    assert f"{limits.train_seconds:g} s, the time limit for training" in result.message
    assert "training forever" in result.output


def test_fork_bomb_hits_the_pids_limit_and_is_stopped(
    run, oci_runtime: str, limits: SandboxLimits
) -> None:
    result = run("fork_bomb").train()
    if oci_runtime == "runsc":
        # gVisor's processes are heavier on the host (stub processes on the ptrace platform):
        # the bomb may run out of memory before it reaches the process limit. Either way it
        # is stopped within the training limit.
        assert (result.ok, result.reason in {"timeout", "oom"}) == (False, True), result
        assert result.seconds < limits.train_seconds + 5
        return
    assert (result.ok, result.reason) == (False, "timeout")
    report = report_of(result)
    assert 0 < report["forked"] < limits.pids
    assert report["refused"] > 0
    assert f"at the limit of {limits.pids}" in result.message


def test_memory_bomb_is_reported_as_out_of_memory(run, limits: SandboxLimits) -> None:
    result = run("memory_bomb").train()
    assert (result.ok, result.reason) == (False, "oom")
    assert "256 MiB of memory" in result.message


def test_filling_tmp_and_model_dir_stops_at_their_caps(run, limits: SandboxLimits) -> None:
    result = run("fill_disks").train()
    assert (result.ok, result.reason) == (False, "exit")
    reached = report_of(result)
    assert 8 * MiB <= reached["tmp"] <= limits.tmpfs_bytes
    assert 8 * MiB <= reached["model"] <= limits.model_dir_bytes
    assert "A disk filled up" in result.message
    assert "No space left on device" in result.output


def test_hundreds_of_megabytes_on_stdout_keep_head_and_tail(
    run, oci_runtime: str, limits: SandboxLimits
) -> None:
    flood_limits = replace(limits, train_seconds=60)
    result = run("stdout_flood", flood_limits).train()
    assert result.ok, result.message
    assert result.output.startswith("FIRST-LINE")
    assert result.output.rstrip().endswith("LAST-LINE")
    cut = int(re.search(r"… \[(\d+) bytes cut\] …", result.output).group(1))
    # Under runc every byte passes the capture; gVisor's console path drops part of a flood
    # that outruns the reader (the head and tail are still kept).
    assert cut > (200 * MiB - limits.output_bytes if oci_runtime == "runc" else MiB)
    assert len(result.output) < limits.output_bytes + 100


def test_syntax_error_points_at_the_traceback(run) -> None:
    # Written here, not as a fixture file, so that linters can parse the test tree.
    broken = "import os\n\ndef train(:\n    return os.environ['DATA_DIR']\n"
    result = run("syntax_error", files={"train.py": broken}).train()
    assert (result.ok, result.reason, result.exit_code) == (False, "exit", 1)
    assert "syntax error" in result.message
    assert "SyntaxError" in result.output


def test_missing_package_names_it_and_lists_what_the_image_offers(run) -> None:
    result = run("missing_package").train()
    assert (result.ok, result.reason) == (False, "exit")
    assert "'torch', which the runtime image does not have" in result.message
    assert "scikit-learn 1.9.1" in result.message


def test_server_that_never_answers_is_unhealthy_after_the_startup_limit(
    run, limits: SandboxLimits
) -> None:
    sandbox = run("never_healthy")
    assert sandbox.train().ok
    started = time.monotonic()
    result = sandbox.start_service()
    assert (result.ok, result.reason) == (False, "unhealthy")
    assert limits.startup_seconds <= time.monotonic() - started < limits.startup_seconds + 5
    assert f"did not become healthy within {limits.startup_seconds:g} s" in result.message
    assert "GET /health never answered" in result.message


def test_network_is_unreachable_by_name_or_address(run) -> None:
    result = run("network").train()
    report = report_of(result)
    assert report["interfaces"] == ["lo"]
    for target in ("dns", "raw_ip", "docker_host", "metadata"):
        assert report[target].startswith("blocked"), report
    assert (result.ok, result.reason) == (False, "exit")
    assert "without network" in result.message


def test_filesystem_search_finds_no_graders_hidden_data_or_other_submissions(
    run, tmp_path: Path
) -> None:
    # Plant what a snooper would look for, on the host, next to the submission.
    graders = tmp_path / "graders" / "secret-exercise"
    (graders / "data").mkdir(parents=True)
    (graders / "test_hidden_suite.py").write_text(f"# {SECRET}\n")
    (graders / "data" / "hidden_answers.csv").write_text(f"id,{SECRET}\n")
    other = tmp_path / "submissions" / "someone-else"
    other.mkdir(parents=True)
    (other / "other_submission.py").write_text(f"TOKEN = '{SECRET}'\n")

    sandbox = run("snoop")
    trained = sandbox.train()
    assert trained.ok, trained.output
    at_training = report_of(trained)
    assert sandbox.start_service().ok
    with _client(sandbox) as http:
        at_serving = http.get("/report").json()
    for report in (at_training, at_serving):
        assert report["found"] == []
        assert report["scanned"] > 1000  # it really walked the image
        assert report["pids"] and len(report["pids"]) < 10  # only its own processes
        assert not any("graders" in root for root, _ in report["mounts"])


def test_process_ignoring_sigterm_is_killed_in_training_and_serving(
    run, limits: SandboxLimits
) -> None:
    sandbox = run("ignores_sigterm")
    result = sandbox.train()
    assert (result.ok, result.reason) == (False, "timeout")
    assert result.seconds < limits.train_seconds + 5
    sandbox_two = run("ignores_sigterm")
    (sandbox_two.source_dir / "train.py").write_text("print('quick')\n")
    assert sandbox_two.train().ok
    assert sandbox_two.start_service().ok
    started = time.monotonic()
    sandbox_two.close()
    assert time.monotonic() - started < 5


def test_swapping_the_socket_for_a_symlink_never_reaches_a_host_socket(run, tmp_path: Path) -> None:
    canary_path = tmp_path / "canary.sock"
    canary = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    canary.bind(str(canary_path))
    canary.listen(8)
    canary.settimeout(0.2)
    reached: list[int] = []

    def watch() -> None:
        while not stop.is_set():
            try:
                connection, _ = canary.accept()
                reached.append(1)
                connection.close()
            except OSError:
                pass

    stop = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        sandbox = run("socket_swap", files={"target.txt": str(canary_path)})
        assert sandbox.train().ok
        result = sandbox.start_service()
        if result.ok:  # the platform claimed the real socket first: it talks to the service
            with _client(sandbox) as http:
                assert http.get("/health").json() == {"status": "ok"}
            assert sandbox.service_alive().ok
        else:
            assert result.reason in {"unhealthy", "crashed"}  # the swap broke its own service
    finally:
        stop.set()
        watcher.join(timeout=2)
        canary.close()
    assert reached == []


def test_a_status_line_dripped_at_startup_cannot_stretch_the_startup_limit(
    run, limits: SandboxLimits
) -> None:
    """The service owns its socket with a raw server that sends one byte a second: the
    platform's health probe reads at most a status line within a deadline, so start-up ends
    at its limit, as unhealthy."""
    sandbox = run("drip_health")
    assert sandbox.train().ok
    started = time.monotonic()
    result = sandbox.start_service()
    elapsed = time.monotonic() - started
    assert (result.ok, result.reason) == (False, "unhealthy")
    assert limits.startup_seconds <= elapsed < limits.startup_seconds + 4
    assert f"did not become healthy within {limits.startup_seconds:g} s" in result.message


def test_filling_the_socket_folder_stops_at_its_small_cap(run) -> None:
    """The socket folder is the one folder the serve container shares with the host: 2 GB
    written there end at its 1 MiB tmpfs, the host's disk sees none of it, and the service
    still starts."""
    free_before = shutil.disk_usage(SOCKET_ROOT).free
    sandbox = run("fill_socket_dir")
    assert sandbox.train().ok
    result = sandbox.start_service()
    assert result.ok, result.output
    with _client(sandbox) as http:
        report = http.get("/report").json()
    assert report["error"] == "No space left on device"
    assert report["written"] <= 1 * MiB
    held = sum(f.stat().st_size for f in sandbox.socket_dir.rglob("*") if f.is_file())
    assert held <= 1 * MiB
    assert free_before - shutil.disk_usage(SOCKET_ROOT).free < 64 * MiB  # noise, not 2 GB
    print(f"\nwrote {report['written']} bytes before ENOSPC; the folder holds {held} bytes")


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_slip_writes_nothing_outside_the_submission(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "dest"
    data = _zip({"train.py": b"x=1\n", "../../escaped.py": b"owned\n"})
    with pytest.raises(ArchiveError, match="climbs out"):
        extract_zip(data, dest)
    assert not (tmp_path / "escaped.py").exists()
    assert not list(tmp_path.rglob("escaped.py"))
    assert not dest.exists() or list(dest.iterdir()) == []


def test_zip_bomb_is_refused_before_filling_the_disk(tmp_path: Path) -> None:
    bomb = _zip({"train.py": b"x=1\n", "data.bin": b"\0" * (MAX_UNCOMPRESSED + MiB)})
    assert len(bomb) < 200 * 1024  # tiny archive, huge content
    with pytest.raises(ArchiveError, match="unpacks to more than 50.0 MiB"):
        extract_zip(bomb, tmp_path / "dest")
    assert sum(f.stat().st_size for f in (tmp_path / "dest").rglob("*")) == 0


# -- the same hostility through the whole pipeline (`servelab grade` and the worker use it) ----


@pytest.fixture
def grade(
    tmp_path: Path, docker_client: docker.DockerClient, runtime_image: str, oci_runtime: str
) -> Iterator:
    """Grade a modified copy of the fixture exercise's solution; afterwards check cleanup."""
    settings = course_settings(tmp_path / "var", sandbox_runtime=oci_runtime)
    before = {c.id for c in docker_client.containers.list(all=True, filters=_LOCAL)}
    count = iter(range(100))
    exercise = tiny_exercise()

    def _grade(**files: str) -> GradeOutcome:
        source = copy_submission(SOLUTION, tmp_path / f"submission-{next(count)}", **files)
        return grade_directory(source, exercise, settings)

    yield _grade
    after = {c.id for c in docker_client.containers.list(all=True, filters=_LOCAL)}
    assert after - before == set()
    assert list(work_root(settings).glob("*")) == []
    healthy = grade_directory(SOLUTION, exercise, settings)
    assert healthy.status == SubmissionStatus.GRADED
    assert healthy.result is not None and healthy.score == healthy.max_score


# This process's own local gradings (other processes may share the Docker engine).
_LOCAL = {"label": ["servelab.submission=local", f"servelab.owner={owner_token()}"]}


def test_pipeline_refuses_requirements_the_image_lacks_before_running_anything(grade) -> None:
    outcome = grade(requirements__txt="torch==2.3.0\nfastapi\n")
    assert outcome.status == SubmissionStatus.FAILED
    assert "Nothing was run" in outcome.learner_message
    assert "torch is not in the runtime image" in outcome.learner_message
    assert "scikit-learn 1.9.1" in outcome.learner_message
    assert "train" not in outcome.phase_seconds


def test_pipeline_fails_a_syntax_error_with_the_traceback(grade) -> None:
    outcome = grade(train__py="def train(:\n    pass\n")
    assert outcome.status == SubmissionStatus.FAILED
    assert "syntax error" in outcome.learner_message
    assert "SyntaxError" in outcome.log_excerpt


def test_pipeline_fails_a_memory_bomb_as_out_of_memory(grade) -> None:
    outcome = grade(train__py=(HOSTILE / "memory_bomb" / "train.py").read_text())
    assert outcome.status == SubmissionStatus.FAILED
    assert "512 MiB of memory" in outcome.learner_message


def test_pipeline_fails_a_service_that_tries_the_network_at_startup(grade) -> None:
    main = "import urllib.request\nurllib.request.urlopen('http://1.1.1.1', timeout=3)\n"
    outcome = grade(main__py=main)
    assert outcome.status == SubmissionStatus.FAILED
    assert "stopped while starting" in outcome.learner_message
    assert "without network" in outcome.learner_message


# -- services that attack the grader: its memory, its clock, its blame ----------------------

SERVICES = Path(__file__).parent / "hostile_services"
# The tiny exercise's limits bound every case: training and start-up, the suite's own budget
# and its container's grace, with slack for a loaded machine.
TINY_LIMITS = 30 + 20 + 60 + 15 + 30


def _graded_within_limits(grade, service: str) -> tuple[GradeOutcome, float]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    outcome = grade(main__py=(SERVICES / f"{service}.py").read_text())
    elapsed = time.monotonic() - started
    assert outcome.status == SubmissionStatus.GRADED, outcome.log_excerpt
    assert outcome.result is not None
    assert elapsed < TINY_LIMITS
    print(f"\n{service}: graded in {elapsed:.1f} s, {outcome.score:g}/{outcome.max_score:g}")
    return outcome, elapsed


def _check(outcome: GradeOutcome, nodeid_end: str):  # type: ignore[no-untyped-def]
    assert outcome.result is not None
    return next(t for t in outcome.result.tests if t.nodeid.endswith(nodeid_end))


def test_a_gzip_bomb_answer_is_refused_by_its_decoded_size(grade) -> None:
    """1.8 KB of two gzip layers inflate to 1 GiB: the cap counts decoded bytes, so the
    checks that read it fail and the grader never runs out of memory."""
    outcome, _ = _graded_within_limits(grade, "gzip_bomb")
    assert outcome.result.complete  # the suite was not stopped (no out-of-memory)
    predict = _check(outcome, "test_predict_returns_a_number")
    assert predict.status == "failed"
    assert _check(outcome, "test_health").status == "passed"


def test_a_dripping_answer_stops_at_the_request_deadline(grade) -> None:
    outcome, _ = _graded_within_limits(grade, "drip")
    predict = _check(outcome, "test_predict_returns_a_number")
    assert predict.status == "failed"
    assert "in time" in predict.output or "answer" in predict.output


def test_endless_100_continue_lines_stop_at_the_request_deadline(grade) -> None:
    outcome, _ = _graded_within_limits(grade, "endless_1xx")
    assert _check(outcome, "test_health").status == "passed"
    assert _check(outcome, "test_predict_returns_a_number").status == "failed"


def test_a_cookie_flood_is_neither_kept_nor_sent_back(grade) -> None:
    outcome, _ = _graded_within_limits(grade, "cookie_flood")
    assert outcome.score == outcome.max_score  # a correct service, cookies ignored


def test_a_health_check_that_drips_after_start_up_cannot_hang_grading(grade) -> None:
    outcome, _ = _graded_within_limits(grade, "drip_health_after")
    assert _check(outcome, "test_health").status == "failed"
    assert _check(outcome, "test_predict_returns_a_number").status == "passed"
