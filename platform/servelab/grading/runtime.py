"""What a learner's service may use: the runtime image's pins and requirements.txt checks.

The images themselves (the learners' runtime and the grader's) are built and checked in
`servelab.grading.images`.
"""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

RUNTIME_DIR = Path(__file__).parent / "runtime"
REQUIREMENTS = RUNTIME_DIR / "requirements.txt"
LEARNER_UID = 10001  # the learner's train and serve containers
GRADER_UID = 10002  # the hidden suite's container: another user than the learner's code
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


def read_pins(path: Path) -> dict[str, str]:
    """A requirements file of exact pins: canonical name -> version."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        pins[canonicalize_name(name)] = version.strip()
    return pins


@cache
def runtime_packages() -> dict[str, str]:
    """Every package pinned in the learners' image: canonical name -> exact version."""
    return read_pins(REQUIREMENTS)


def featured_packages() -> dict[str, str]:
    """The main packages with their versions, for the exercise page and messages."""
    pins = runtime_packages()
    return {name: pins[name] for name in FEATURED}


def _offer() -> str:
    listed = ", ".join(f"{n} {v}" for n, v in featured_packages().items())
    return f"The runtime image offers: {listed} (and their dependencies)."


def check_requirements(text: str) -> list[str]:
    """Problems with a learner's requirements.txt against the image; empty when it is satisfied."""
    pins = runtime_packages()
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        where = f"requirements.txt line {number}"
        if line.startswith("-"):
            problems.append(
                f"{where}: options such as {line.split()[0]!r} are not supported; nothing is "
                "installed at grading time, list only packages the image already has."
            )
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            problems.append(f"{where}: {line[:80]!r} is not a requirement pip could read.")
            continue
        if req.marker is not None and not req.marker.evaluate(_environment()):
            continue
        name = canonicalize_name(req.name)
        if req.url:
            problems.append(f"{where}: {req.name} comes from a URL; nothing is downloaded.")
        elif name not in pins:
            problems.append(f"{where}: {req.name} is not in the runtime image. {_offer()}")
        elif req.extras:
            extras = ",".join(sorted(req.extras))
            problems.append(
                f"{where}: {req.name}[{extras}] asks for optional extras the image does not "
                f"install; write just {req.name!r}. The image has {req.name} {pins[name]}."
            )
        elif not _satisfies(req, pins[name]):
            problems.append(
                f"{where}: {line!r} does not match the image, which has {req.name} "
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
