"""deploy/compose.yaml for real: the images built offline, the stack up with docker-compose, a
submission graded through the HTTP API by a worker container that drives the host's engine."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
import yaml

from live_server import free_port
from servelab.deploy_images import DEFAULT_TAGS, app_pins, build_deploy_image
from servelab.grading.orphans import MANAGED_LABEL, OWNER_LABEL, remove_container
from servelab.settings import PROJECT_ROOT, Settings
from support import COURSE, IN_CI, SLUG, SOLUTION, require_service

COMPOSE_FILE = PROJECT_ROOT / "deploy" / "compose.yaml"
COMPOSE = shutil.which("docker-compose")
WORKERS = 2
WEB_PROCESSES = 2
UP_SECONDS = 240  # image start, migrations, both web processes ready
GRADE_SECONDS = 300
WEB_UID = 10000  # compose.yaml's RUN_AS_UID for web


def _compose_env(**values: str) -> dict[str, str]:
    """The calling environment without its own SERVELAB_* values, plus the stack's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVELAB_", "POSTGRES_"))}
    return env | values


def test_the_compose_file_is_valid_for_docker_compose() -> None:
    require_service(COMPOSE is not None, "docker-compose (deploy/ensure-system.sh compose)")
    assert COMPOSE is not None
    env = _compose_env(
        SERVELAB_HOST_DIR="/srv/servelab", SERVELAB_SECRET_KEY="k" * 40, POSTGRES_PASSWORD="pw"
    )
    result = subprocess.run(
        [COMPOSE, "-f", str(COMPOSE_FILE), "config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    worker = config["services"]["worker"]
    # The worker hands the host's engine host paths: its folder is bound at the same path.
    assert "/srv/servelab:/srv/servelab:rw" in worker["volumes"]
    assert "/var/run/docker.sock:/var/run/docker.sock:rw" in worker["volumes"]
    assert worker["environment"]["SERVELAB_QUEUE_BACKEND"] == "celery"
    assert config["services"]["web"]["environment"]["SERVELAB_QUEUE_BACKEND"] == "celery"
    for name, service in config["services"].items():
        assert service["restart"] == "unless-stopped", name
        assert "healthcheck" in service, name


def test_the_compose_file_refuses_to_start_without_its_secrets() -> None:
    require_service(COMPOSE is not None, "docker-compose (deploy/ensure-system.sh compose)")
    assert COMPOSE is not None
    result = subprocess.run(
        [COMPOSE, "-f", str(COMPOSE_FILE), "config"],
        env=_compose_env(SERVELAB_HOST_DIR="/srv/servelab", POSTGRES_PASSWORD="pw"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "set SERVELAB_SECRET_KEY" in result.stderr


def test_the_app_image_pins_what_this_environment_runs() -> None:
    pins = app_pins()
    assert pins["fastapi"] and pins["sqlalchemy"]
    # Extras servelab asks for come along (uvicorn[standard], psycopg[binary], celery[redis]).
    assert {"uvloop", "httptools", "psycopg-binary", "redis", "celery"} <= set(pins)
    # Its own test extras do not.
    assert not {"ruff", "mypy", "playwright", "pytest-timeout"} & set(pins)
    assert "servelab" not in pins
    # Markers are read for the image's Python (Debian's 3.11.2), not this one: redis needs
    # async-timeout there, whether or not this interpreter does.
    assert pins["async-timeout"]


class Stack:
    """One Compose project of this test: its name, host folder and port; `down` removes it all."""

    def __init__(self, host_dir: Path, port: int) -> None:
        assert COMPOSE is not None
        self.project = f"servelab-test-{secrets.token_hex(4)}"
        self.host_dir = host_dir
        self.port = port
        content = host_dir / "content"
        shutil.copytree(COURSE, content)
        self.env = _compose_env(
            SERVELAB_HOST_DIR=str(host_dir),
            SERVELAB_SECRET_KEY=secrets.token_hex(32),
            POSTGRES_PASSWORD=secrets.token_hex(16),
            SERVELAB_BIND="127.0.0.1",
            SERVELAB_PORT=str(port),
            SERVELAB_WEB_PROCESSES=str(WEB_PROCESSES),
            SERVELAB_WORKER_COUNT="1",
            SERVELAB_EXERCISES_DIR=str(content / "exercises"),
            SERVELAB_GRADERS_DIR=str(content / "graders"),
        )
        self.base = [COMPOSE, "-p", self.project, "-f", str(COMPOSE_FILE)]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.base, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def container_ids(self, service: str) -> list[str]:
        return self.run("ps", "-q", service, timeout=60).stdout.split()

    def down(self, client: docker.DockerClient) -> None:
        # Containers a killed worker left behind carry its hostname (the container id).
        hosts = {cid[:12] for cid in self.container_ids("worker")}
        print(self.run("logs", "--no-color", "--tail", "60", timeout=120).stdout[-6000:])
        self.run("down", "--volumes", "--remove-orphans", "--timeout", "60", timeout=300)
        for container in client.containers.list(
            all=True, filters={"label": MANAGED_LABEL}, ignore_removed=True
        ):
            if container.labels.get(OWNER_LABEL, "").partition(":")[0] in hosts:
                remove_container(container)


@pytest.fixture
def stack(docker_client: docker.DockerClient, runtime_image: str) -> Iterator[Stack]:
    require_service(COMPOSE is not None, "docker-compose (deploy/ensure-system.sh compose)")
    require_service(os.geteuid() == 0, "root (the offline image build uses chroot)")
    settings = Settings(environment="test")  # the machine's base cache (image_cache_dir)
    for kind in DEFAULT_TAGS:
        result = build_deploy_image(settings, kind, client=docker_client)
        print(f"{kind}: {'built' if result.built else 'current'} in {result.seconds:.1f} s")
    # A short path: sandbox sockets live under it and must fit in 108 bytes.
    host_dir = Path(tempfile.mkdtemp(prefix="slc-", dir="/tmp"))
    host_dir.chmod(0o755)  # as an operator's `mkdir`: the unprivileged web app reads it
    stack = Stack(host_dir, free_port())
    try:
        yield stack
    finally:
        stack.down(docker_client)
        shutil.rmtree(host_dir, ignore_errors=True)


def _wait_ready(base_url: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < UP_SECONDS:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(2)
    pytest.fail(f"the web service was not ready within {UP_SECONDS} s")


@pytest.mark.docker
@pytest.mark.slow
def test_the_compose_stack_grades_the_reference_solution_through_the_api(stack: Stack) -> None:
    started = time.monotonic()
    up = stack.run("up", "-d", "--scale", f"worker={WORKERS}")
    assert up.returncode == 0, up.stderr[-4000:]
    base_url = f"http://127.0.0.1:{stack.port}"
    ready_after = _wait_ready(base_url)
    assert len(stack.container_ids("worker")) == WORKERS

    created = stack.run(
        "exec", "-T", "web", "servelab", "users", "create", "--email", "learner@compose.test",
        "--password", "correct horse battery", "--token", timeout=120,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    match = re.search(r"API token \(shown once, store it now\): (\S+)", created.stdout)
    assert match, created.stdout
    auth = {"Authorization": f"Bearer {match.group(1)}"}

    files = {path.name: path.read_text() for path in sorted(SOLUTION.glob("*.py"))}
    with httpx.Client(base_url=base_url, headers=auth, timeout=30) as client:
        sent = client.post("/api/v1/submissions", json={"exercise": SLUG, "files": files})
        assert sent.status_code == 201, sent.text
        submission_id = sent.json()["id"]
        submitted = time.monotonic()
        while time.monotonic() - submitted < GRADE_SECONDS:
            body = client.get(f"/api/v1/submissions/{submission_id}").json()
            if body["final"]:
                break
            time.sleep(1)
        else:
            pytest.fail(f"submission {submission_id} was not graded within {GRADE_SECONDS} s")
    graded_after = time.monotonic() - submitted
    assert body["status"] == "graded", body
    assert body["score"] == body["max_score"] and body["max_score"], body
    # The web app wrote the submission unprivileged, under the folder the worker shares.
    stored = list((stack.host_dir / "var" / "submissions").iterdir())
    assert len(stored) == 1 and stored[0].stat().st_uid == WEB_UID
    # The web processes log one JSON line per request, as `servelab serve` does.
    web_log = stack.run("logs", "--no-color", "web", timeout=120).stdout
    assert '"method": "POST", "path": "/api/v1/submissions"' in web_log, web_log[-3000:]
    # ... from SERVELAB_WEB_PROCESSES uvicorn processes.
    assert len(set(re.findall(r"Started server process \[(\d+)\]", web_log))) == WEB_PROCESSES
    # Published on the host at the same path the worker handed the engine.
    assert list((stack.host_dir / "app").glob("*/lib/servelab/grading/runner.py"))
    print(
        f"compose: ready {ready_after:.1f} s after up; graded {graded_after:.1f} s after submit; "
        f"{time.monotonic() - started:.1f} s in all (CI={IN_CI})"
    )
