"""The sandbox with real containers: the happy path, the lock-down as seen from inside, cleanup."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import docker
import httpx
import pytest
from sandbox_helpers import HOSTILE, leftovers, report_of

from servelab.content.exercise import ExerciseLimits
from servelab.grading import hostmount
from servelab.grading.limits import HARD_CAP, GiB, MiB, SandboxLimits
from servelab.grading.orphans import MANAGED_LABEL, OWNER_LABEL, SOCKET_ROOT, sweep_orphans
from servelab.grading.output import CappedOutput
from servelab.grading.runtime import RuntimeImageError
from servelab.grading.sandbox import Sandbox

LIMITS = SandboxLimits(train_seconds=20, startup_seconds=20, memory_bytes=512 * MiB, cpus=1.5)

INSPECT_TRAIN = """
import json, os
report = {"uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd()}
report["env"] = {k: os.environ.get(k) for k in ("DATA_DIR", "MODEL_DIR", "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "PYTHONDONTWRITEBYTECODE")}
writable = {}
for path in ("/submission/x", "/x", "/data/x", "/tmp/x", "/model/model.json", "/etc/x"):
    try:
        with open(path, "w") as handle:
            handle.write("{}")
        writable[path] = True
    except OSError:
        writable[path] = False
report["writable"] = writable
with open("/proc/self/status") as handle:
    report["cap_eff"] = [l.split()[1] for l in handle if l.startswith("CapEff")][0]
with open("/proc/self/status") as handle:
    report["no_new_privs"] = [l.split()[1] for l in handle if l.startswith("NoNewPrivs")][0]
import resource
report["nofile"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
report["core"] = resource.getrlimit(resource.RLIMIT_CORE)[0]
report["fsize"] = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
print("REPORT " + json.dumps(report))
"""

PROBE_MAIN = """
import os
from fastapi import FastAPI
app = FastAPI()

@app.get("/health")
def health() -> dict:
    return {}

@app.get("/probe")
def probe() -> dict:
    try:
        open("/model/new", "w").close()
        model_writable = True
    except OSError:
        model_writable = False
    return {"model": sorted(os.listdir("/model")), "model_writable": model_writable,
            "data": os.path.exists("/data/train.csv"), "uid": os.getuid()}
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "train.csv").write_text("x,y\n1,1\n2,3\n")
    return folder


@pytest.fixture
def make_sandbox(tmp_path: Path, data_dir: Path, docker_client, runtime_image: str):  # type: ignore[no-untyped-def]
    opened: list[Sandbox] = []

    def _make(files: dict[str, str] | None = None, limits: SandboxLimits = LIMITS) -> Sandbox:
        source = tmp_path / f"src-{len(opened)}"
        shutil.copytree(HOSTILE / "well_behaved", source)
        for name, text in (files or {}).items():
            (source / name).write_text(text)
        sandbox = Sandbox(
            source_dir=source,
            data_dir=data_dir,
            work_dir=tmp_path / "work",
            limits=limits,
            image=runtime_image,
            labels={"servelab.submission": "test"},
            client=docker_client,
        )
        opened.append(sandbox)
        return sandbox

    yield _make
    for sandbox in opened:
        sandbox.close()
        assert leftovers(docker_client, sandbox) == []


def _http(sandbox: Sandbox) -> httpx.Client:
    transport = httpx.HTTPTransport(uds=str(sandbox.socket_path))
    return httpx.Client(transport=transport, base_url="http://service", timeout=10)


@pytest.mark.docker
def test_a_good_submission_trains_serves_and_is_cleaned_up(make_sandbox, docker_client) -> None:
    sandbox = make_sandbox()
    with sandbox:
        trained = sandbox.train()
        assert (trained.ok, trained.reason, trained.exit_code) == (True, "ok", 0)
        assert trained.output == "trained on 2 rows\n"
        assert {"create", "start", "remove"} <= set(trained.timings)
        started = sandbox.start_service()
        assert (started.ok, started.reason) == (True, "ok"), started.output
        assert started.message == "The service started and GET /health answered 200."
        with _http(sandbox) as http:
            assert http.get("/predict").json() == {"prediction": 2.0}
        assert "Application startup complete" in sandbox.service_output()
        assert sandbox.service_alive().ok
    assert leftovers(docker_client, sandbox) == []
    assert "cleanup" in sandbox.timings
    sandbox.close()  # idempotent


@pytest.mark.docker
def test_the_serve_container_is_locked_down(make_sandbox, docker_client) -> None:
    sandbox = make_sandbox()
    assert sandbox.train().ok
    assert sandbox.start_service().ok
    (serve,) = docker_client.containers.list(
        filters={"label": [f"servelab.sandbox={sandbox.id}", "servelab.role=serve"]}
    )
    host = serve.attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Memory"] == host["MemorySwap"] == 512 * MiB
    assert host["NanoCpus"] == 1_500_000_000
    assert host["PidsLimit"] == LIMITS.pids
    assert {u["Name"] for u in host["Ulimits"]} == {"nofile", "fsize", "core"}
    assert serve.attrs["Config"]["User"] == "10001:10001"
    assert serve.labels["servelab.submission"] == "test"
    assert serve.labels[MANAGED_LABEL] == "1"
    mounts = {m["Destination"]: m for m in serve.attrs["Mounts"]}
    assert set(mounts) == {"/submission", "/model", "/run/servelab"}
    assert mounts["/submission"]["RW"] is False
    assert mounts["/model"]["RW"] is False
    assert mounts["/run/servelab"]["Source"] == str(sandbox.socket_dir)
    env = dict(e.split("=", 1) for e in serve.attrs["Config"]["Env"])
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "2"  # 1.5 CPUs, rounded up
    assert "DATA_DIR" not in env


@pytest.mark.docker
def test_training_sees_only_what_it_should(make_sandbox) -> None:
    sandbox = make_sandbox({"train.py": INSPECT_TRAIN})
    result = sandbox.train()
    assert result.ok, result.output
    report = report_of(result)
    assert (report["uid"], report["gid"], report["cwd"]) == (10001, 10001, "/submission")
    assert report["env"] == {
        "DATA_DIR": "/data",
        "MODEL_DIR": "/model",
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
        "NUMEXPR_NUM_THREADS": "2",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    assert report["writable"] == {
        "/submission/x": False,
        "/x": False,
        "/data/x": False,
        "/tmp/x": True,
        "/model/model.json": True,
        "/etc/x": False,
    }
    assert int(report["cap_eff"], 16) == 0
    assert report["no_new_privs"] == "1"
    assert (report["nofile"], report["core"]) == (LIMITS.nofile, 0)
    assert report["fsize"] == LIMITS.fsize_bytes
    # What training wrote is what serving reads, read-only, without the training data.
    (sandbox.source_dir / "main.py").write_text(PROBE_MAIN)
    assert sandbox.start_service().ok
    with _http(sandbox) as http:
        probe = http.get("/probe").json()
    assert probe == {"model": ["model.json"], "model_writable": False, "data": False, "uid": 10001}


@pytest.mark.docker
def test_startup_crash_is_explained(make_sandbox) -> None:
    sandbox = make_sandbox({"main.py": "import json\nraise RuntimeError('no model here')\n"})
    assert sandbox.train().ok
    result = sandbox.start_service()
    assert (result.ok, result.reason, result.exit_code) == (False, "crashed", 1)
    assert "RuntimeError: no model here" in result.output
    assert "The service stopped while starting (exit code 1)" in result.message


@pytest.mark.docker
def test_a_service_that_dies_under_test_is_reported(make_sandbox) -> None:
    main = (HOSTILE / "well_behaved" / "main.py").read_text() + (
        "\n\n@app.get('/die')\ndef die() -> dict:\n    os._exit(3)\n"
    )
    sandbox = make_sandbox({"main.py": main})
    assert sandbox.train().ok
    assert sandbox.start_service().ok
    with _http(sandbox) as http, pytest.raises(httpx.HTTPError):
        http.get("/die")
    alive = sandbox.service_alive()
    assert (alive.ok, alive.reason, alive.exit_code) == (False, "crashed", 3)
    assert "stopped while being tested (exit code 3)" in alive.message


def test_limits_come_from_the_exercise_within_the_hard_cap() -> None:
    limits = SandboxLimits.from_exercise(
        ExerciseLimits(train_seconds=10_000, memory_mb=64 * 1024, cpus=64, pids=100)
    )
    assert limits.train_seconds == HARD_CAP.train_seconds
    assert limits.memory_bytes == HARD_CAP.memory_bytes == 4 * GiB
    assert limits.cpus <= HARD_CAP.cpus
    assert limits.pids == 100
    default = SandboxLimits.from_exercise(ExerciseLimits())
    assert (default.train_seconds, default.startup_seconds, default.test_seconds) == (120, 30, 300)
    assert (default.memory_bytes, default.cpus, default.pids) == (GiB, 1.0, 512)
    assert SandboxLimits(cpus=0.5).threads == 1


def test_capped_output_keeps_head_and_tail() -> None:
    capture = CappedOutput(10)
    capture.consume([b"HEAD", b"-" * 1000, b"TAIL!"])
    text = capture.text()
    assert text.startswith("HEAD-")
    assert text.endswith("TAIL!")
    assert "\n… [999 bytes cut] …\n" in text
    small = CappedOutput(100)
    small.write("héllo".encode())
    assert small.text() == "héllo"


@pytest.mark.docker
def test_sweep_removes_what_a_dead_worker_left_and_spares_live_ones(
    docker_client: docker.DockerClient, runtime_image: str, make_sandbox
) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead_pid = finished.pid
    dead_owner = f"{socket.gethostname()}:{dead_pid}:1"
    labels = {MANAGED_LABEL: "1", OWNER_LABEL: dead_owner, "servelab.sandbox": "orphan-test"}
    orphan = docker_client.containers.create(
        runtime_image, ["sleep", "60"], labels=labels, network_mode="none"
    )
    orphan.start()
    volume = docker_client.volumes.create(f"servelab-orphan-{orphan.short_id}", labels=labels)
    stale_dir = SOCKET_ROOT / f"{dead_pid}.1-orphan"
    (stale_dir / "model").mkdir(parents=True, exist_ok=True)
    hostmount.mount_tmpfs(stale_dir / "model", size_bytes=MiB, uid=10001)
    (stale_dir / "model" / "model.json").write_text("{}")
    live = make_sandbox()
    assert live.train().ok  # creates its holder and volume under this live process

    removed = sweep_orphans(docker_client)

    assert removed >= 2
    with pytest.raises(docker.errors.NotFound):
        orphan.reload()
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(volume.name)
    assert not stale_dir.exists()
    assert str(stale_dir) not in Path("/proc/self/mountinfo").read_text()
    assert (live.model_dir / "model.json").exists()  # the live sandbox keeps its model
    assert live.start_service().ok


@pytest.mark.docker
def test_model_dir_as_a_held_docker_volume_also_reaches_the_service(
    tmp_path: Path, data_dir: Path, docker_client: docker.DockerClient, runtime_image: str
) -> None:
    """The store used when the platform cannot mount (not root): a volume kept by a holder."""
    with Sandbox(
        source_dir=HOSTILE / "well_behaved",
        data_dir=data_dir,
        work_dir=tmp_path / "work",
        limits=LIMITS,
        image=runtime_image,
        client=docker_client,
        model_store="volume",
    ) as sandbox:
        assert sandbox.train().ok
        assert docker_client.volumes.get(sandbox.volume_name)
        assert sandbox.start_service().ok
        with _http(sandbox) as http:
            assert http.get("/predict").json() == {"prediction": 2.0}
    assert leftovers(docker_client, sandbox) == []


@pytest.mark.docker
def test_model_dir_is_capped_in_host_mode(make_sandbox) -> None:
    fill = (
        "for n in range(3):\n"
        "    with open(f'/model/part{n}', 'wb') as out:\n"
        "        for _ in range(100):\n"
        "            out.write(b'0' * (1024 * 1024))\n"
    )
    sandbox = make_sandbox({"train.py": fill})
    assert sandbox.model_store == "host"
    result = sandbox.train()
    assert (result.ok, result.reason) == (False, "exit")
    assert "No space left on device" in result.output
    assert "MODEL_DIR holds at most 256 MiB" in result.message


@pytest.mark.docker
def test_one_file_over_the_file_size_limit_is_refused(make_sandbox) -> None:
    big = "open('/tmp/big', 'wb').write(b'0' * (5 * 1024 * 1024))\n"
    sandbox = make_sandbox({"train.py": big}, SandboxLimits(fsize_bytes=4 * MiB))
    result = sandbox.train()
    assert (result.ok, result.reason) == (False, "exit")
    assert "File too large" in result.output
    assert "larger than 4 MiB, the limit for one file" in result.message


CRASHING_WORKER = """
import os, sys
from pathlib import Path
from servelab.grading.limits import SandboxLimits
from servelab.grading.sandbox import Sandbox
sandbox = Sandbox(source_dir=Path(sys.argv[1]), data_dir=Path(sys.argv[2]),
                  work_dir=Path(sys.argv[3]), limits=SandboxLimits(), image=sys.argv[4],
                  labels={"servelab.submission": "crash-test"})
assert sandbox.train().ok and sandbox.start_service().ok
print(sandbox.id, sandbox.host_dir, flush=True)
os._exit(1)  # a worker dying mid-grading: nothing is closed
"""


@pytest.mark.docker
@pytest.mark.slow
def test_sweep_after_a_real_worker_crash_leaves_nothing(
    tmp_path: Path, data_dir: Path, docker_client: docker.DockerClient, runtime_image: str
) -> None:
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_WORKER, str(HOSTILE / "well_behaved"), str(data_dir)]
        + [str(tmp_path / "work"), runtime_image],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 1, crashed.stderr
    sandbox_id, host_dir = crashed.stdout.split()
    label = {"label": f"servelab.sandbox={sandbox_id}"}
    assert docker_client.containers.list(filters=label)  # the service outlived its worker
    assert Path(host_dir).is_dir()

    sweep_orphans(docker_client)

    assert docker_client.containers.list(all=True, filters=label) == []
    assert docker_client.volumes.list(filters=label) == []
    assert not Path(host_dir).exists()
    assert host_dir not in Path("/proc/self/mountinfo").read_text()


@pytest.mark.docker
def test_an_exercise_without_public_data_gets_an_empty_data_dir(
    tmp_path: Path, docker_client: docker.DockerClient, runtime_image: str
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("import os\nprint(os.listdir(os.environ['DATA_DIR']))\n")
    with Sandbox(
        source_dir=source,
        data_dir=tmp_path / "no-such-folder",
        work_dir=tmp_path / "work",
        limits=LIMITS,
        image=runtime_image,
        client=docker_client,
    ) as sandbox:
        result = sandbox.train()
    assert (result.ok, result.output) == (True, "[]\n")
    assert leftovers(docker_client, sandbox) == []


@pytest.mark.docker
def test_a_missing_runtime_image_says_how_to_build_it(
    tmp_path: Path, data_dir: Path, docker_client: docker.DockerClient
) -> None:
    with Sandbox(
        source_dir=HOSTILE / "well_behaved",
        data_dir=data_dir,
        work_dir=tmp_path / "work",
        limits=LIMITS,
        image="servelab-runtime:does-not-exist",
        client=docker_client,
    ) as sandbox:
        with pytest.raises(RuntimeImageError, match="servelab runtime build"):
            sandbox.train()
    assert leftovers(docker_client, sandbox) == []
