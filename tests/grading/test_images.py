"""The grading images: reuse by content hash, the real images, and the CLI that builds them."""

from __future__ import annotations

import time

import docker
import pytest

from servelab.grading import images
from servelab.grading.images import GRADER, IMAGES, RUNTIME
from servelab.settings import Settings


@pytest.mark.parametrize("spec", IMAGES, ids=lambda s: s.kind)
def test_content_hash_is_stable_and_covers_the_build_inputs(spec: images.ImageSpec) -> None:
    assert spec.content_hash() == spec.content_hash()
    assert {p.name for p in (images.BUILD_SCRIPT, images.DOCKERFILE)} == {
        "build-rootfs.sh",
        "Dockerfile",
    }
    assert "python:3.11-slim" in images.DOCKERFILE.read_text()
    assert RUNTIME.content_hash() != GRADER.content_hash()


def test_the_images_run_as_different_unprivileged_users() -> None:
    assert (RUNTIME.uid, GRADER.uid) == (10001, 10002)
    assert {"pytest", "schemathesis", "hypothesis", "scikit-learn"} <= set(GRADER.pins())
    # the suite computes the same numbers as the learner's code: shared numerical pins
    for name in ("numpy", "pandas", "scipy", "scikit-learn"):
        assert GRADER.pins()[name] == RUNTIME.pins()[name], name


def test_apt_mirror_is_a_url() -> None:
    assert images.apt_mirror().startswith(("http://", "https://"))


@pytest.mark.docker
@pytest.mark.parametrize("spec", IMAGES, ids=lambda s: s.kind)
def test_build_is_a_fast_no_op_when_the_image_is_current(
    docker_client: docker.DockerClient, runtime_image: str, tmp_path, spec: images.ImageSpec
) -> None:
    settings = Settings(environment="test", var_dir=tmp_path / "var")
    started = time.monotonic()
    result = images.build_image(settings, spec=spec, client=docker_client)
    assert result.built is False
    assert result.tag == spec.tag(settings)
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
        assert images.image_exists(settings, docker_client) is False
        assert images.image_exists(Settings(environment="test"), docker_client) is True
    finally:
        container.remove(force=True)
        docker_client.images.remove(stale, force=True)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("spec", IMAGES, ids=lambda s: s.kind)
def test_image_imports_every_package_at_its_pinned_version(
    docker_client: docker.DockerClient, runtime_image: str, spec: images.ImageSpec
) -> None:
    report = images.check_image(Settings(environment="test"), docker_client, spec)
    assert report.problems == []
    assert report.python.startswith("3.11.")
    assert report.versions == spec.pins()
