"""The runtime image learners' services run in: pins, requirement checks, build, check.

Two ways to build the same image. Online: `runtime/Dockerfile` on python:3.11-slim. Offline (air-
gapped hosts, and machines where no image registry is reachable): `runtime/build-rootfs.sh`
debootstraps Debian bookworm (CPython 3.11), installs wheels downloaded here on the host into a
venv inside a chroot, and `docker import`s the result. Either way the image carries a hash of its
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
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import docker.errors
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from servelab.grading.orphans import MANAGED_LABEL, OWNER_LABEL, ROLE_LABEL, owner_token
from servelab.listing import bounded_join

if TYPE_CHECKING:
    from servelab.settings import Settings

RUNTIME_DIR = Path(__file__).parent / "runtime"
REQUIREMENTS = RUNTIME_DIR / "requirements.txt"
BUILD_SCRIPT = RUNTIME_DIR / "build-rootfs.sh"
DOCKERFILE = RUNTIME_DIR / "Dockerfile"
HASH_LABEL = "servelab.runtime.hash"
LEARNER_UID = 10001
# pip runs from its wheel during the offline build only; it is not installed in the image.
BUILD_PIP = "pip==26.3"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BASE_RECIPE = "debootstrap --variant=minbase --include=python3,python3-venv bookworm"
# The packages a learner is told about, with their import names.
FEATURED = {
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "pydantic": "pydantic",
    "numpy": "numpy",
    "pandas": "pandas",
    "scipy": "scipy",
    "scikit-learn": "sklearn",
    "joblib": "joblib",
}


class RuntimeImageError(RuntimeError):
    """The runtime image cannot be built or does not work; the message says what to do."""


@cache
def runtime_packages() -> dict[str, str]:
    """Every package pinned in the image: canonical name -> exact version."""
    pins: dict[str, str] = {}
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        pins[canonicalize_name(name)] = version.strip()
    return pins


def featured_packages() -> dict[str, str]:
    """The main packages with their versions, for the exercise page and messages."""
    pins = runtime_packages()
    return {name: pins[name] for name in FEATURED}


def _offer() -> str:
    listed = ", ".join(f"{n} {v}" for n, v in featured_packages().items())
    return f"The runtime image offers: {listed} (and their dependencies)."


# A requirements.txt this image can satisfy is a few lines; past these it is refused unread.
MAX_REQUIREMENTS_BYTES = 64 * 1024
MAX_REQUIREMENTS_LINES = 500
_SHOWN = 80  # characters of a learner's line quoted back


def requirements_refusal(path: Path) -> str | None:
    """Why a submission's requirements.txt stops it, for the learner; None when it is fine.

    The file is refused unparsed past MAX_REQUIREMENTS_BYTES or MAX_REQUIREMENTS_LINES, and a
    refusal lists at most `listing.MAX_LISTED` problems, so a hostile file costs little.
    """
    if not path.is_file():
        return None
    size = path.stat().st_size
    with path.open("rb") as handle:
        raw = handle.read(MAX_REQUIREMENTS_BYTES + 1)
    lines = raw.count(b"\n") + (1 if raw and not raw.endswith(b"\n") else 0)
    if size > MAX_REQUIREMENTS_BYTES or lines > MAX_REQUIREMENTS_LINES:
        found = f"{size / 1024:.0f} KiB" if size > MAX_REQUIREMENTS_BYTES else f"{lines} lines"
        return (
            f"Nothing was run: requirements.txt is {found}; the limit is "
            f"{MAX_REQUIREMENTS_BYTES // 1024} KiB and {MAX_REQUIREMENTS_LINES} lines, so it "
            "was not read. List only the packages your code imports (nothing is installed at "
            f"grading time). {_offer()}"
        )
    problems = check_requirements(raw.decode("utf-8", errors="replace"))
    if not problems:
        return None
    return "Nothing was run: requirements.txt asks for what the image lacks.\n" + bounded_join(
        problems
    )


def check_requirements(text: str) -> list[str]:
    """Problems with a learner's requirements.txt against the image; empty when it is satisfied.

    Callers bound `text` first (`requirements_refusal`): the work is one parse per line.
    """
    pins = runtime_packages()
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        where = f"requirements.txt line {number}"
        shown = line[:_SHOWN]
        if line.startswith("-"):
            problems.append(
                f"{where}: options such as {shown.split()[0]!r} are not supported; nothing is "
                "installed at grading time, list only packages the image already has."
            )
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            problems.append(f"{where}: {shown!r} is not a requirement pip could read.")
            continue
        if req.marker is not None and not req.marker.evaluate(_environment()):
            continue
        name, shown_name = canonicalize_name(req.name), req.name[:_SHOWN]
        if req.url:
            problems.append(f"{where}: {shown_name} comes from a URL; nothing is downloaded.")
        elif name not in pins:
            problems.append(f"{where}: {shown_name} is not in the runtime image. {_offer()}")
        elif req.extras:
            extras = ",".join(sorted(req.extras))[:_SHOWN]
            problems.append(
                f"{where}: {req.name}[{extras}] asks for optional extras the image does not "
                f"install; write just {req.name!r}. The image has {req.name} {pins[name]}."
            )
        elif not _satisfies(req, pins[name]):
            problems.append(
                f"{where}: {shown!r} does not match the image, which has {req.name} "
                f"{pins[name]}. Relax the pin or pin {req.name}=={pins[name]}. {_offer()}"
            )
    return problems


def _satisfies(req: Requirement, version: str) -> bool:
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def _environment() -> dict[str, str]:
    """Marker environment of the image (CPython 3.11 on Linux), not of this host."""
    return {
        "python_version": "3.11",
        "python_full_version": "3.11.2",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "os_name": "posix",
        "platform_system": "Linux",
        "platform_machine": platform.machine(),
        "extra": "",
    }


def content_hash() -> str:
    """Hash of everything the image is built from; stored as a label to detect stale images."""
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, BUILD_SCRIPT, DOCKERFILE):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_tag(settings: Settings) -> str:
    """The tag grading uses for the runtime image."""
    return settings.runtime_image


def image_exists(settings: Settings, client: docker.DockerClient | None = None) -> bool:
    """True when the tagged image is there and was built from the current inputs."""
    client = client or docker.from_env()
    try:
        image = client.images.get(image_tag(settings))
    except docker.errors.ImageNotFound:
        return False
    return (image.labels or {}).get(HASH_LABEL) == content_hash()


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
    client: docker.DockerClient | None = None,
    on_step: Callable[[str], None] | None = None,
    force: bool = False,
) -> BuildResult:
    """Build the runtime image unless a current one exists; offline=None picks automatically."""
    client = client or docker.from_env()
    step = on_step or (lambda _: None)
    started = time.monotonic()
    tag = image_tag(settings)
    wanted = content_hash()
    build_dir = settings.var_dir / "runtime"
    build_dir.mkdir(parents=True, exist_ok=True)
    with _build_lock(build_dir / "build.lock"):
        if not force and image_exists(settings, client):
            return BuildResult(tag, False, bool(offline), time.monotonic() - started, wanted)
        if offline is None:
            offline = not registry_reachable()
        if offline:
            _build_offline(build_dir, tag, wanted, step)
        else:
            _build_online(client, tag, wanted, step)
        _prune_dangling(client, tag)
    step("done")
    return BuildResult(tag, True, offline, time.monotonic() - started, wanted)


@contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """One build at a time per host; the second waits and then finds the image current."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _platform_tags() -> list[str]:
    machine = platform.machine()
    return [f"manylinux2014_{machine}", f"manylinux_2_17_{machine}", f"manylinux_2_28_{machine}"]


def download_wheels(wheels: Path, step: Callable[[str], None]) -> None:
    """Fetch the pinned cp311 wheels (and pip, to install them) into a host cache directory."""
    step("download wheels")
    wheels.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    args += ["--dest", str(wheels), "--no-deps", "--only-binary=:all:", "--python-version", "3.11"]
    args += ["--implementation", "cp", "--abi", "cp311", "--abi", "none", "--abi", "abi3"]
    for tag in _platform_tags():
        args += ["--platform", tag]
    args += ["-r", str(REQUIREMENTS), BUILD_PIP]
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


def _build_offline(build_dir: Path, tag: str, wanted: str, step: Callable[[str], None]) -> None:
    download_wheels(build_dir / "wheels", step)
    rootfs = build_dir / f"rootfs-{wanted}"
    mirror = apt_mirror()
    # The bare Debian base depends only on what debootstrap is asked for, not on the pins.
    base_key = hashlib.sha256(f"{BASE_RECIPE} {mirror}".encode()).hexdigest()[:12]
    args = ["bash", str(BUILD_SCRIPT), str(rootfs), str(build_dir / "wheels"), str(REQUIREMENTS)]
    args += [mirror, tag, wanted, str(build_dir / f"base-{base_key}.tar")]
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        for line in process.stdout:
            if line.startswith("==> "):
                step(line[4:].strip())
        errors = process.stderr.read()
    if process.returncode != 0:
        raise RuntimeImageError(f"The offline image build failed:\n{errors[-3000:]}")


def _build_online(
    client: docker.DockerClient, tag: str, wanted: str, step: Callable[[str], None]
) -> None:
    step("docker build")
    try:
        client.images.build(
            path=str(RUNTIME_DIR), tag=tag, labels={HASH_LABEL: wanted}, rm=True, pull=True
        )
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise RuntimeImageError(f"The online image build failed: {exc}") from exc


def _prune_dangling(client: docker.DockerClient, tag: str) -> None:
    """Remove older runtime images the new tag replaced, so rebuilds do not fill the disk."""
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


def check_image(settings: Settings, client: docker.DockerClient | None = None) -> ImageCheck:
    """Run the image the way the sandbox does and import every package at its pinned version."""
    client = client or docker.from_env()
    pins = runtime_packages()
    started = time.monotonic()
    try:
        raw = client.containers.run(
            image_tag(settings),
            ["python", "-c", _CHECK_SCRIPT, json.dumps(FEATURED), json.dumps(sorted(pins))],
            remove=True,
            network_mode="none",
            read_only=True,
            user=f"{LEARNER_UID}:{LEARNER_UID}",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            labels={MANAGED_LABEL: "1", OWNER_LABEL: owner_token(), ROLE_LABEL: "runtime-check"},
            stdout=True,
            stderr=True,
        )
    except docker.errors.ImageNotFound:
        raise RuntimeImageError(
            f"The runtime image {image_tag(settings)} is missing; run `servelab runtime build`."
        ) from None
    except docker.errors.ContainerError as exc:
        raise RuntimeImageError(f"The runtime image does not work: {exc}") from None
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
