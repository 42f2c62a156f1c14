"""The runtime image: pins, learners' requirements, reuse by content hash, and the real image."""

from __future__ import annotations

import re
import socket
import time

import docker
import pytest
from typer.testing import CliRunner

from servelab.cli import app
from servelab.grading import runtime
from servelab.settings import Settings


def test_pins_are_exact_and_cover_the_featured_packages() -> None:
    pins = runtime.runtime_packages()
    for name in ("fastapi", "uvicorn", "pydantic", "numpy", "pandas", "scipy", "scikit-learn"):
        assert re.fullmatch(r"\d+(\.\d+)+(\.post\d+)?", pins[name]), name
    assert "joblib" in pins
    assert list(runtime.featured_packages()) == list(runtime.FEATURED)


def test_requirements_the_image_satisfies_pass() -> None:
    pins = runtime.runtime_packages()
    text = f"""
    # my service
    fastapi
    scikit-learn>=1.0  # any recent one
    numpy=={pins["numpy"]}
    Pandas ; python_version >= "3.8"
    torch ; python_version < "3.0"
    """
    assert runtime.check_requirements(text) == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("torch==2.3.0", "torch is not in the runtime image. The runtime image offers: fastapi"),
        ("pandas<2", "'pandas<2' does not match the image, which has pandas"),
        ("uvicorn[standard]", "optional extras the image does not install; write just 'uvicorn'"),
        ("-r other.txt", "options such as '-r' are not supported"),
        ("--index-url https://evil.example/simple", "options such as '--index-url'"),
        ("mypkg @ https://evil.example/x.whl", "comes from a URL"),
        ("not a requirement!!", "is not a requirement pip could read"),
    ],
)
def test_requirements_the_image_cannot_satisfy_are_explained(line: str, expected: str) -> None:
    problems = runtime.check_requirements(f"fastapi\n{line}\n")
    assert len(problems) == 1
    assert problems[0].startswith("requirements.txt line 2: ")
    assert expected in problems[0]


def test_content_hash_is_stable_and_covers_the_build_inputs() -> None:
    assert runtime.content_hash() == runtime.content_hash()
    assert {p.name for p in (runtime.REQUIREMENTS, runtime.BUILD_SCRIPT, runtime.DOCKERFILE)} == {
        "requirements.txt",
        "build-rootfs.sh",
        "Dockerfile",
    }
    assert "python:3.11-slim" in runtime.DOCKERFILE.read_text()


def test_apt_mirror_is_a_url() -> None:
    assert runtime.apt_mirror().startswith(("http://", "https://"))


@pytest.mark.docker
def test_build_is_a_fast_no_op_when_the_image_is_current(
    docker_client: docker.DockerClient, runtime_image: str, tmp_path
) -> None:
    settings = Settings(environment="test", var_dir=tmp_path / "var")
    started = time.monotonic()
    result = runtime.build_image(settings, client=docker_client)
    assert result.built is False
    assert result.tag == runtime_image
    assert time.monotonic() - started < 5


@pytest.mark.docker
def test_an_image_with_another_hash_is_not_current(
    docker_client: docker.DockerClient, runtime_image: str, tmp_path
) -> None:
    image = docker_client.images.get(runtime_image)
    stale = f"servelab-runtime-test:stale-{tmp_path.name[-8:].lower()}"
    container = docker_client.containers.create(
        image.id, ["true"], labels={"servelab.managed": "1"}
    )
    try:
        container.commit(repository=stale, changes=['LABEL servelab.runtime.hash="old"'])
        settings = Settings(environment="test", runtime_image=stale)
        assert runtime.image_exists(settings, docker_client) is False
        assert runtime.image_exists(Settings(environment="test"), docker_client) is True
    finally:
        container.remove(force=True)
        docker_client.images.remove(stale, force=True)


@pytest.mark.docker
@pytest.mark.slow
def test_image_imports_every_package_at_its_pinned_version(
    docker_client: docker.DockerClient, runtime_image: str
) -> None:
    report = runtime.check_image(Settings(environment="test"), docker_client)
    assert report.problems == []
    assert report.python.startswith("3.11.")
    assert report.versions == runtime.runtime_packages()


@pytest.mark.docker
@pytest.mark.slow
def test_cli_runtime_build_and_check(
    docker_client: docker.DockerClient, runtime_image: str
) -> None:
    runner = CliRunner()
    built = runner.invoke(app, ["runtime", "build"])
    assert built.exit_code == 0, built.output
    assert "is current" in built.output
    checked = runner.invoke(app, ["runtime", "check"])
    assert checked.exit_code == 0, checked.output
    assert "packages import at their pinned versions" in checked.output
    assert "scikit-learn" in checked.output


@pytest.mark.docker
def test_cli_runtime_sweep_removes_an_orphan(
    docker_client: docker.DockerClient, runtime_image: str
) -> None:
    dead_owner = f"{socket.gethostname()}:{2**22 + 7}:1"  # above pid_max: never alive
    labels = {"servelab.managed": "1", "servelab.owner": dead_owner}
    volume = docker_client.volumes.create(labels=labels)
    result = CliRunner().invoke(app, ["runtime", "sweep"])
    assert result.exit_code == 0, result.output
    assert "Removed" in result.output
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(volume.name)


def test_a_requirements_file_over_the_limits_is_refused_unparsed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "requirements.txt"
    assert runtime.requirements_refusal(path) is None  # no file: nothing to check
    path.write_bytes(b"!!\n" * 1_000_000)
    refusal = runtime.requirements_refusal(path)
    assert refusal is not None and len(refusal) < 1000
    assert "requirements.txt is 2930 KiB; the limit is 64 KiB and 500 lines" in refusal
    assert "was not read" in refusal and "line 1" not in refusal
    path.write_text("fastapi\n" * (runtime.MAX_REQUIREMENTS_LINES + 1))
    refusal = runtime.requirements_refusal(path)
    assert refusal is not None and f"is {runtime.MAX_REQUIREMENTS_LINES + 1} lines" in refusal
    path.write_text("fastapi\n" * runtime.MAX_REQUIREMENTS_LINES)
    assert runtime.requirements_refusal(path) is None


def test_a_requirements_refusal_lists_twenty_problems_and_counts_the_rest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "requirements.txt"
    path.write_text("".join(f"{'x' * 300}{n}!!\n" for n in range(100)))
    refusal = runtime.requirements_refusal(path)
    assert refusal is not None
    lines = refusal.splitlines()
    assert lines[0] == "Nothing was run: requirements.txt asks for what the image lacks."
    assert lines[1].startswith("requirements.txt line 1: ") and lines[20].startswith(
        "requirements.txt line 20: "
    )
    assert lines[21:] == ["… and 80 more problems"]
    assert all(len(line) < 200 for line in lines)  # learners' lines are quoted cut short
