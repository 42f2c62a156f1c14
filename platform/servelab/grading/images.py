"""The two images grading runs: the learners' runtime and the grader's; build, reuse, check.

The runtime image runs a learner's `train.py` and service; the grader image runs the hidden
pytest suite (pytest, Hypothesis, schemathesis, numpy/pandas/scikit-learn), with ServeLab's own
package mounted read-only at run time so the plugin always matches the platform reading its
results. Two ways to build either. Online: `runtime/Dockerfile` on python:3.11-slim. Offline
(air-gapped hosts, and machines where no image registry is reachable): `runtime/build-rootfs.sh`
debootstraps Debian bookworm (CPython 3.11), installs wheels downloaded here on the host into a
venv inside a chroot, and `docker import`s the result. Either way an image carries a hash of its
inputs as a label, and a build whose inputs have not changed is a no-op.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import docker
import docker.errors
from packaging.utils import canonicalize_name

from servelab.grading.orphans import MANAGED_LABEL, OWNER_LABEL, ROLE_LABEL
from servelab.grading.processes import owner_token
from servelab.grading.runtime import (
    FEATURED,
    GRADER_UID,
    LEARNER_UID,
    REQUIREMENTS,
    RUNTIME_DIR,
    RuntimeImageError,
    read_pins,
)

if TYPE_CHECKING:
    from servelab.settings import Settings

BUILD_SCRIPT = RUNTIME_DIR / "build-rootfs.sh"
DOCKERFILE = RUNTIME_DIR / "Dockerfile"
HASH_LABEL = "servelab.runtime.hash"
# pip runs from its wheel during the offline build only; it is not installed in either image.
BUILD_PIP = "pip==26.3"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BASE_RECIPE = "debootstrap --variant=minbase --include=python3,python3-venv bookworm"


@dataclass(frozen=True)
class ImageSpec:
    """One image: its pins, the unprivileged user it runs as, and what its check imports."""

    kind: Literal["runtime", "grader"]
    requirements: Path
    uid: int
    user: str
    imports: dict[str, str] = field(default_factory=dict)  # distribution -> import name

    def tag(self, settings: Settings) -> str:
        return settings.runtime_image if self.kind == "runtime" else settings.grader_image

    def pins(self) -> dict[str, str]:
        return read_pins(self.requirements)

    def content_hash(self) -> str:
        """Hash of everything the image is built from; stored as a label to spot stale images."""
        digest = hashlib.sha256(f"{self.kind}:{self.user}:{self.uid}\0".encode())
        for path in (self.requirements, BUILD_SCRIPT, DOCKERFILE):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()[:16]


RUNTIME = ImageSpec("runtime", REQUIREMENTS, LEARNER_UID, "learner", dict(FEATURED))
GRADER = ImageSpec(
    "grader",
    RUNTIME_DIR / "grader-requirements.txt",
    GRADER_UID,
    "grader",
    {
        "pytest": "pytest",
        "hypothesis": "hypothesis",
        "schemathesis": "schemathesis",
        "httpx": "httpx",
        "pydantic": "pydantic",
        "numpy": "numpy",
        "pandas": "pandas",
        "scipy": "scipy",
        "scikit-learn": "sklearn",
        # its text parser reads a learner's /metrics (the monitoring exercise)
        "prometheus-client": "prometheus_client",
    },
)
IMAGES = (RUNTIME, GRADER)


def image_exists(
    settings: Settings, client: docker.DockerClient | None = None, spec: ImageSpec = RUNTIME
) -> bool:
    """True when the tagged image is there and was built from the current inputs."""
    client = client or docker.from_env()
    try:
        image = client.images.get(spec.tag(settings))
    except docker.errors.ImageNotFound:
        return False
    return (image.labels or {}).get(HASH_LABEL) == spec.content_hash()


def images_ready(settings: Settings, client: docker.DockerClient | None = None) -> bool:
    """Both images current: what grading needs."""
    client = client or docker.from_env()
    return all(image_exists(settings, client, spec) for spec in IMAGES)


def stale_images(settings: Settings, client: docker.DockerClient | None = None) -> list[str]:
    """What is wrong with the images grading needs, one line each (empty: both are current).

    An image built from other pins than its requirements file grades with other packages
    (a grader suite importing a new package fails every check that uses it), so callers
    refuse to grade instead of reporting misleading failures. An unreachable engine is left
    to grading itself, which reports it."""
    try:
        client = client or docker.from_env()
        return [
            f"the {spec.kind} image {spec.tag(settings)} is missing or was built from other "
            f"inputs than {spec.requirements.name}: run `servelab runtime build`"
            for spec in IMAGES
            if not image_exists(settings, client, spec)
        ]
    except docker.errors.DockerException:
        return []


@dataclass(frozen=True)
class BuildResult:
    tag: str
    built: bool  # False when the existing image was current
    offline: bool
    seconds: float
    content_hash: str


def registry_reachable(timeout: float = 2.0) -> bool:
    """Whether Docker Hub answers at all; the offline build is used when it does not."""
    try:
        with socket.create_connection(("registry-1.docker.io", 443), timeout=timeout):
            return True
    except OSError:
        return False


def build_image(
    settings: Settings,
    offline: bool | None = None,
    *,
    spec: ImageSpec = RUNTIME,
    client: docker.DockerClient | None = None,
    on_step: Callable[[str], None] | None = None,
    force: bool = False,
) -> BuildResult:
    """Build `spec`'s image unless a current one exists; offline=None picks automatically."""
    client = client or docker.from_env()
    step = on_step or (lambda _: None)
    started = time.monotonic()
    tag = spec.tag(settings)
    wanted = spec.content_hash()
    build_dir = settings.var_dir / "runtime"
    build_dir.mkdir(parents=True, exist_ok=True)
    with build_lock(settings):
        if not force and image_exists(settings, client, spec):
            return BuildResult(tag, False, bool(offline), time.monotonic() - started, wanted)
        if offline is None:
            offline = not registry_reachable()
        if offline:
            _build_offline(settings, build_dir, spec, tag, wanted, step)
        else:
            _build_online(client, spec, tag, wanted, step)
        _prune_dangling(client)
    step("done")
    return BuildResult(tag, True, offline, time.monotonic() - started, wanted)


@contextmanager
def build_lock(settings: Settings) -> Iterator[None]:
    """One image build at a time per host (grading and deployment images, every checkout:
    they share the base cache); the second waits, then finds its image current."""
    assert settings.image_cache_dir is not None  # set by Settings' validator
    settings.image_cache_dir.mkdir(parents=True, exist_ok=True)
    with (settings.image_cache_dir / "build.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _platform_tags() -> list[str]:
    machine = platform.machine()
    return [f"manylinux2014_{machine}", f"manylinux_2_17_{machine}", f"manylinux_2_28_{machine}"]


def download_wheels(wheels: Path, requirements: Path, step: Callable[[str], None]) -> None:
    """Fetch the pinned cp311 wheels (and pip, to install them) into a host cache directory."""
    step("download wheels")
    wheels.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    args += ["--dest", str(wheels), "--no-deps", "--only-binary=:all:", "--python-version", "3.11"]
    args += ["--implementation", "cp", "--abi", "cp311", "--abi", "none", "--abi", "abi3"]
    for tag in _platform_tags():
        args += ["--platform", tag]
    args += ["-r", str(requirements), BUILD_PIP]
    _run(args, "downloading the pinned wheels")


def apt_mirror() -> str:
    """The Debian mirror this host's apt uses (so debootstrap goes where apt already can)."""
    sources = Path("/etc/apt")
    for path in sorted(sources.glob("sources.list.d/*.sources")):
        for match in re.finditer(r"^URIs:\s*(\S+)", path.read_text(), re.MULTILINE):
            if "security" not in match.group(1):
                return match.group(1)
    listed = sources / "sources.list"
    if listed.exists():
        for match in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", listed.read_text(), re.M):
            if "security" not in match.group(1):
                return match.group(1)
    return DEFAULT_MIRROR


def base_cache(settings: Settings, mirror: str) -> Path:
    """The cached bare Debian base (a tarball in `settings.image_cache_dir`); the deployment's
    images start from it too, and every checkout on the machine shares it.

    It depends only on what debootstrap is asked for and from where, not on any pins.
    """
    base_key = hashlib.sha256(f"{BASE_RECIPE} {mirror}".encode()).hexdigest()[:12]
    assert settings.image_cache_dir is not None  # set by Settings' validator
    settings.image_cache_dir.mkdir(parents=True, exist_ok=True)
    return settings.image_cache_dir / f"base-{base_key}.tar"


def _build_offline(
    settings: Settings,
    build_dir: Path,
    spec: ImageSpec,
    tag: str,
    wanted: str,
    step: Callable[[str], None],
) -> None:
    download_wheels(build_dir / "wheels", spec.requirements, step)
    rootfs = build_dir / f"rootfs-{spec.kind}-{wanted}"
    mirror = apt_mirror()
    args = ["bash", str(BUILD_SCRIPT), str(rootfs), str(build_dir / "wheels")]
    args += [str(spec.requirements), mirror, tag, wanted, str(base_cache(settings, mirror))]
    args += [spec.kind, spec.user, str(spec.uid)]
    run_build_script(args, spec.kind, step)


def run_build_script(args: list[str], kind: str, step: Callable[[str], None]) -> None:
    """Run an offline image build script; its `==> step` lines go to `step`, its errors into
    RuntimeImageError."""
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        for line in process.stdout:
            if line.startswith("==> "):
                step(line[4:].strip())
        errors = process.stderr.read()
    if process.returncode != 0:
        raise RuntimeImageError(f"The offline {kind} image build failed:\n{errors[-3000:]}")


def _build_online(
    client: docker.DockerClient,
    spec: ImageSpec,
    tag: str,
    wanted: str,
    step: Callable[[str], None],
) -> None:
    step("docker build")
    buildargs = {
        "REQUIREMENTS": spec.requirements.name,
        "IMAGE_KIND": spec.kind,
        "IMAGE_USER": spec.user,
        "IMAGE_UID": str(spec.uid),
    }
    try:
        client.images.build(
            path=str(RUNTIME_DIR),
            tag=tag,
            labels={HASH_LABEL: wanted},
            buildargs=buildargs,
            rm=True,
            pull=True,
        )
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise RuntimeImageError(f"The online {spec.kind} image build failed: {exc}") from exc


def _prune_dangling(client: docker.DockerClient) -> None:
    """Remove older images that a new tag replaced, so rebuilds do not fill the disk."""
    for image in client.images.list(filters={"dangling": True, "label": "servelab.runtime=1"}):
        try:
            client.images.remove(image.id, noprune=False)
        except docker.errors.APIError:
            pass  # still used by a container; the next build retries


def _run(args: list[str], what: str) -> None:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeImageError(f"Failed {what}:\n{(result.stderr or result.stdout)[-3000:]}")


_CHECK_SCRIPT = """
import importlib, importlib.metadata as md, json, sys
names = json.loads(sys.argv[1])
found = {}
for dist, module in names.items():
    importlib.import_module(module)
for dist in json.loads(sys.argv[2]):
    found[dist] = md.version(dist)
print(json.dumps({"python": sys.version.split()[0], "versions": found}))
"""


@dataclass(frozen=True)
class ImageCheck:
    python: str
    versions: dict[str, str]
    problems: list[str]
    seconds: float


def check_image(
    settings: Settings, client: docker.DockerClient | None = None, spec: ImageSpec = RUNTIME
) -> ImageCheck:
    """Run the image the way grading does and import every package at its pinned version."""
    client = client or docker.from_env()
    pins = spec.pins()
    started = time.monotonic()
    try:
        raw = client.containers.run(
            spec.tag(settings),
            ["python", "-c", _CHECK_SCRIPT, json.dumps(spec.imports), json.dumps(sorted(pins))],
            remove=True,
            network_mode="none",
            read_only=True,
            user=f"{spec.uid}:{spec.uid}",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            labels={MANAGED_LABEL: "1", OWNER_LABEL: owner_token(), ROLE_LABEL: "image-check"},
            stdout=True,
            stderr=True,
            **({"runtime": settings.sandbox_runtime} if settings.sandbox_runtime else {}),
        )
    except docker.errors.ImageNotFound:
        raise RuntimeImageError(
            f"The {spec.kind} image {spec.tag(settings)} is missing; run `servelab runtime build`."
        ) from None
    except docker.errors.ContainerError as exc:
        raise RuntimeImageError(f"The {spec.kind} image does not work: {exc}") from None
    report = json.loads(raw.decode().strip().splitlines()[-1])
    versions: dict[str, str] = {canonicalize_name(k): v for k, v in report["versions"].items()}
    problems = [
        f"{name}: pinned {pin}, image has {versions.get(name, 'nothing')}"
        for name, pin in pins.items()
        if versions.get(name) != pin
    ]
    if not report["python"].startswith("3.11."):
        problems.append(f"python: expected 3.11, image has {report['python']}")
    return ImageCheck(report["python"], versions, problems, time.monotonic() - started)
