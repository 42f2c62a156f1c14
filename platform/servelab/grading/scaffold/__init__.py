"""`servelab exercise new`: a new exercise and grader folder that work out of the box.

The templates beside this module are a tiny but complete exercise (predict y from x): a
lesson, exercise page, starter, public data, a hidden suite with hidden data, a reference
solution and one mutant, so `servelab content check` and `servelab exercise selftest`
pass before the author changes anything. Files ending in `.tmpl` are rendered
(`{{slug}}`, `{{title}}`, `{{today}}`, `{{order}}`); others are copied byte for byte. A new
lesson is ordered after every lesson already in the course (the course index lists lessons
by `order`), so a second exercise does not land before the flagship.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from servelab.content.lesson import SLUG_PATTERN

TEMPLATES = Path(__file__).resolve().parent
TEMPLATE_SUFFIX = ".tmpl"
_ORDER_LINE = re.compile(r"^order\s*=\s*(-?\d+)\s*$", re.MULTILINE)


class ScaffoldError(Exception):
    """The exercise cannot be created (message says why)."""


def _render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _copy_tree(source: Path, dest: Path, values: dict[str, str]) -> list[Path]:
    written = []
    for path in sorted(source.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.name.endswith(TEMPLATE_SUFFIX):
            target = target.with_name(path.name.removesuffix(TEMPLATE_SUFFIX))
            target.write_text(_render(path.read_text(encoding="utf-8"), values), encoding="utf-8")
        else:
            shutil.copyfile(path, target)
        written.append(target)
    return written


def next_lesson_order(exercises_dir: Path) -> int:
    """One more than the highest `order` among the lessons already there (1 for the first)."""
    orders = []
    for lesson in Path(exercises_dir).glob("*/lesson.md"):
        front_matter = lesson.read_text(encoding="utf-8").split("+++")[1:2]
        found = _ORDER_LINE.search(front_matter[0]) if front_matter else None
        orders.append(int(found.group(1)) if found else 100)  # 100: LessonMeta's default
    return max(orders, default=0) + 1


def create_exercise(
    *,
    exercises_dir: Path,
    graders_dir: Path,
    slug: str,
    title: str | None = None,
    order: int | None = None,
) -> list[Path]:
    """Write exercises/<slug>/ and graders/<slug>/ from the templates; return the files."""
    if not re.fullmatch(SLUG_PATTERN, slug) or len(slug) > 80:
        raise ScaffoldError(
            f"{slug!r} is not a valid slug: use lowercase letters, digits and single hyphens "
            "(e.g. batch-inference)"
        )
    exercise_dir, grader_dir = Path(exercises_dir) / slug, Path(graders_dir) / slug
    for folder in (exercise_dir, grader_dir):
        if folder.exists():
            raise ScaffoldError(f"{folder} already exists; choose another slug or remove it")
    title = title or slug.replace("-", " ").capitalize()
    if '"' in title or "\\" in title or "\n" in title:
        raise ScaffoldError("the title may not contain quotes, backslashes or line breaks")
    if order is None:
        order = next_lesson_order(exercises_dir)
    values = {
        "slug": slug,
        "title": title,
        "today": datetime.now(UTC).date().isoformat(),
        "order": str(order),
    }
    written = _copy_tree(TEMPLATES / "exercise", exercise_dir, values)
    written += _copy_tree(TEMPLATES / "grader", grader_dir, values)
    return written
