"""A collected pytest item as a grader check: its points, category, visibility, name and part.

With split hidden data (`--servelab-hidden-parts`), an item that uses `hidden_data` is
parametrized per part; its check carries the part, and its node id and name leave the part
out, so both parts of one check share an id (the self-test matches mutants on it).
"""

from __future__ import annotations

from typing import Any

import pytest

from servelab.grading.report import CheckRecord
from servelab.grading.results import Part, Visibility

DEFAULT_POINTS = 1.0
DEFAULT_CATEGORY = "general"


def hidden_parts(config: pytest.Config) -> list[Part]:
    """The parts named by --servelab-hidden-parts, the grade's (final) first; [] without."""
    raw = config.getoption("servelab_hidden_parts", None)
    names = [name.strip() for name in (raw or "").split(",") if name.strip()]
    try:
        parts = [Part(name) for name in names]
    except ValueError:
        allowed = ", ".join(p.value for p in Part)
        raise pytest.UsageError(f"--servelab-hidden-parts takes {allowed}; got {raw!r}") from None
    if len(set(parts)) != len(parts):
        raise pytest.UsageError(f"--servelab-hidden-parts names a part twice: {raw!r}")
    return sorted(parts, key=lambda part: part != Part.FINAL)  # the grade's part first


def _marker_arg(item: pytest.Item, name: str) -> Any:
    marker = item.get_closest_marker(name)
    if marker is None:
        return None
    if len(marker.args) != 1 or marker.kwargs:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{name} takes exactly one argument")
    return marker.args[0]


def _without_part(item: pytest.Item, part: Part | None) -> tuple[str, str | None]:
    """The node id and parameter id with the hidden-data part removed (`test_y[a-final]` is
    `test_y[a]`): both parts of a check share one id, which the self-test matches."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return item.nodeid, None
    full = callspec.id
    rest = full
    if part is not None:
        p = part.value
        if full == p:
            rest = ""
        elif full.endswith(f"-{p}"):
            rest = full[: -len(p) - 1]
        elif full.startswith(f"{p}-"):
            rest = full[len(p) + 1 :]
        else:
            rest = full.replace(f"-{p}-", "-", 1)
    base = item.nodeid.removesuffix(f"[{full}]")
    return (f"{base}[{rest}]" if rest else base), (rest or None)


def check_for(item: pytest.Item) -> CheckRecord:
    points = _marker_arg(item, "points")
    points = DEFAULT_POINTS if points is None else points
    if isinstance(points, bool) or not isinstance(points, int | float) or points < 0:
        raise pytest.UsageError(f"{item.nodeid}: points must be a number >= 0, got {points!r}")
    category = _marker_arg(item, "category") or DEFAULT_CATEGORY
    if not isinstance(category, str):
        raise pytest.UsageError(f"{item.nodeid}: category must be a string")
    raw_visibility = _marker_arg(item, "visibility") or Visibility.VISIBLE
    try:
        visibility = Visibility(raw_visibility)
    except ValueError:
        allowed = ", ".join(v.value for v in Visibility)
        raise pytest.UsageError(
            f"{item.nodeid}: visibility must be one of {allowed}, got {raw_visibility!r}"
        ) from None
    callspec = getattr(item, "callspec", None)
    params = getattr(callspec, "params", {})
    part = (
        Part(params["hidden_data"])
        if hidden_parts(item.config) and "hidden_data" in params
        else None
    )
    nodeid, param_id = _without_part(item, part)
    return CheckRecord(
        nodeid=nodeid,
        name=_check_name(item, param_id),
        points=float(points),
        category=category,
        visibility=visibility,
        part=part,
    )


def _check_name(item: pytest.Item, param_id: str | None) -> str:
    function = getattr(item, "function", None)
    doc = (getattr(function, "__doc__", None) or "").strip()
    base = doc.splitlines()[0].strip() if doc else ""
    if not base:
        original = getattr(item, "originalname", item.name)
        base = original.removeprefix("test_").replace("_", " ").strip().capitalize()
    return f"{base} [{param_id}]" if param_id else base
