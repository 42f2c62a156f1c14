"""The Compose deployment's images (deploy/compose.yaml): app, redis and postgres, built offline.

No image registry is needed. Each image starts from the same cached debootstrap'ed Debian
bookworm base as the grading images (`grading.images.base_cache`); Debian's redis-server and
postgresql-15 come from the host's apt mirror inside a chroot; the app image's Python packages
are wheels downloaded on the host, pinned to exactly the versions this checkout's environment
runs (`app_pins`), so the image runs what the test suite ran. `deploy/images/build-image.sh` does
the chroot work. Like the grading images, each carries a hash of its inputs as a label, and a
build whose inputs have not changed is a no-op.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import docker
import docker.errors
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from servelab.grading.images import (
    apt_mirror,
    base_cache,
    build_lock,
    download_wheels,
    run_build_script,
)
from servelab.settings import PROJECT_ROOT, Settings

IMAGES_DIR = PROJECT_ROOT / "deploy" / "images"
BUILD_SCRIPT = IMAGES_DIR / "build-image.sh"
PACKAGE_DIR = PROJECT_ROOT / "platform" / "servelab"
HASH_LABEL = "servelab.deploy.hash"
Kind = Literal["app", "redis", "postgres"]
# The tags compose.yaml uses by default (SERVELAB_APP_IMAGE and friends override them).
DEFAULT_TAGS: dict[Kind, str] = {
    "app": "servelab-app:latest",
    "redis": "servelab-redis:latest",
    "postgres": "servelab-postgres:latest",
}
# What each image copies in from deploy/images/, besides what build-image.sh itself does.
_IMAGE_FILES: dict[Kind, tuple[str, ...]] = {
    "app": ("entrypoint.sh", "servelab.sh"),
    "redis": (),
    "postgres": ("postgres-entrypoint.sh",),
}
_SKIPPED = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


@dataclass(frozen=True)
class DeployBuild:
    kind: Kind
    tag: str
    built: bool  # False when the existing image was current
    seconds: float
    content_hash: str


# The app image runs Debian bookworm's python3 (not necessarily the host's): requirement markers
# such as `python_full_version < "3.11.3"` are evaluated for it.
IMAGE_PYTHON = "3.11.2"


def app_pins(root: str = "servelab") -> dict[str, str]:
    """Every distribution `root` needs at run time in the image (extras it asks for included,
    its own test extras not): name -> version, the one installed here. A distribution only the
    image's Python needs (none is installed here) gets the lowest version its requirement
    allows, so the build stays the same from one day to the next."""
    pins: dict[str, str] = {}
    pending: list[tuple[Requirement, frozenset[str]]] = [(Requirement(root), frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = md.distribution(requirement.name)
        except md.PackageNotFoundError:
            pins[name] = _lowest_allowed(requirement)
            continue
        if name != canonicalize_name(root):
            pins[name] = dist.version
        for line in dist.requires or []:
            needed = Requirement(line)
            wanted = extras or frozenset({""})
            if needed.marker and not any(
                needed.marker.evaluate(_image_environment(extra)) for extra in wanted
            ):
                continue
            pending.append((needed, frozenset(needed.extras)))
    return dict(sorted(pins.items()))


def _image_environment(extra: str) -> dict[str, str]:
    return {"extra": extra, "python_full_version": IMAGE_PYTHON, "python_version": "3.11"}


def _lowest_allowed(requirement: Requirement) -> str:
    for clause in requirement.specifier:
        if clause.operator in (">=", "==", "~="):
            return clause.version
    raise RuntimeError(
        f"{requirement} is needed by the image's Python {IMAGE_PYTHON} but is not installed "
        "here and names no lowest version: install it in the .venv so it can be pinned"
    )


def _tree_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not _SKIPPED & set(path.relative_to(root).parts):
            if path.suffix != ".pyc":
                yield path


def _hash(kind: Kind, trees: Iterable[Path], extra: str) -> str:
    digest = hashlib.sha256(f"{kind}\0{extra}\0".encode())
    for path in (BUILD_SCRIPT, *(IMAGES_DIR / name for name in _IMAGE_FILES[kind])):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for tree in trees:
        for path in _tree_files(tree):
            digest.update(str(path.relative_to(tree.parent)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def content_hash(kind: Kind, settings: Settings, mirror: str, pins: dict[str, str]) -> str:
    """Hash of everything `kind`'s image is built from (the app: package, content and pins)."""
    base = base_cache(settings, mirror).name
    if kind != "app":
        return _hash(kind, (), base)
    trees = (PACKAGE_DIR, settings.exercises_dir, settings.graders_dir)
    return _hash(kind, trees, base + "\0" + _pins_text(pins))


def _pins_text(pins: dict[str, str]) -> str:
    return "".join(f"{name}=={version}\n" for name, version in pins.items())


def image_current(client: docker.DockerClient, tag: str, wanted: str) -> bool:
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return (image.labels or {}).get(HASH_LABEL) == wanted


def build_deploy_image(
    settings: Settings,
    kind: Kind,
    *,
    tag: str | None = None,
    client: docker.DockerClient | None = None,
    on_step: Callable[[str], None] | None = None,
    force: bool = False,
) -> DeployBuild:
    """Build one of the deployment's images unless a current one exists (runs as root)."""
    client = client or docker.from_env()
    step = on_step or (lambda _: None)
    tag = tag or DEFAULT_TAGS[kind]
    started = time.monotonic()
    mirror = apt_mirror()
    pins = app_pins() if kind == "app" else {}
    wanted = content_hash(kind, settings, mirror, pins)
    with build_lock(settings):  # a build running meanwhile may have made it current
        if not force and image_current(client, tag, wanted):
            return DeployBuild(kind, tag, False, time.monotonic() - started, wanted)
        build_dir = settings.var_dir / "deploy"
        build_dir.mkdir(parents=True, exist_ok=True)
        base = base_cache(settings, mirror)
        args = ["bash", str(BUILD_SCRIPT), kind, str(build_dir / f"rootfs-{kind}-{wanted}")]
        args += [str(base), mirror, tag, wanted]
        with tempfile.TemporaryDirectory(dir=build_dir) as scratch:
            if kind == "app":
                args += _app_inputs(settings, Path(scratch), build_dir / "wheels", pins, step)
            run_build_script(args, kind, step)
    _prune_replaced(client)
    step("done")
    return DeployBuild(kind, tag, True, time.monotonic() - started, wanted)


def _app_inputs(
    settings: Settings,
    scratch: Path,
    wheels: Path,
    pins: dict[str, str],
    step: Callable[[str], None],
) -> list[str]:
    """The wheels folder and the release folder (package + content) the app build installs."""
    requirements = scratch / "requirements.txt"
    requirements.write_text(_pins_text(pins))
    download_wheels(wheels, requirements, step)
    step("release")
    release = scratch / "release"
    ignore = shutil.ignore_patterns(*_SKIPPED, "*.pyc")
    shutil.copytree(PACKAGE_DIR, release / "lib" / "servelab", ignore=ignore)
    shutil.copytree(settings.exercises_dir, release / "exercises", ignore=ignore)
    shutil.copytree(settings.graders_dir, release / "graders", ignore=ignore)
    shutil.copy(requirements, release / "requirements.txt")
    return [str(wheels), str(release)]


def _prune_replaced(client: docker.DockerClient) -> None:
    """Remove this deployment's older images that a new tag replaced (never anyone else's)."""
    for image in client.images.list(filters={"dangling": True, "label": "servelab.deploy=1"}):
        try:
            client.images.remove(image.id, noprune=False)
        except docker.errors.APIError:
            pass  # still used by a container; the next build retries
