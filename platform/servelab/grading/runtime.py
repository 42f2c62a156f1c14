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

from servelab.listing import bounded_join

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
