"""lesson.md parsing details beyond the fixture folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from servelab.content.errors import ContentErrors
from servelab.content.lesson import load_lesson

VALID = (
    Path(__file__).resolve().parents[1] / "fixtures" / "content" / "valid" / "tiny" / "lesson.md"
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lesson.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_lesson_parses() -> None:
    lesson = load_lesson(VALID)
    assert lesson.meta.slug == "tiny"
    assert lesson.meta.updated.isoformat() == "2026-11-01"
    assert lesson.interview[0].answer_html.strip() == "<p>It prints 42.</p>"
    assert lesson.sections["how-it-works"].topics == (("data-contract", "The data contract"),)
    assert {"summary", "quiz", "data-contract", "interview-q1"} <= lesson.anchors


def test_duplicate_heading_id_is_refused(tmp_path: Path) -> None:
    text = VALID.read_text().replace("None.", "### Syntax\n\nclash")
    with pytest.raises(ContentErrors) as caught:
        load_lesson(_write(tmp_path, text))
    (error,) = caught.value.errors
    assert error.line == text.splitlines().index("### Syntax") + 1
    assert "heading id 'syntax' is already used" in error.message


def test_text_before_first_section_is_refused(tmp_path: Path) -> None:
    text = VALID.read_text().replace("## Syntax", "# Tiny\n\n## Syntax", 1)
    with pytest.raises(ContentErrors) as caught:
        load_lesson(_write(tmp_path, text))
    assert caught.value.errors[0].line == 9


def test_missing_required_front_matter_key_points_at_the_front_matter(tmp_path: Path) -> None:
    text = VALID.read_text().replace('summary = "A tiny lesson used by the content tests."\n', "")
    with pytest.raises(ContentErrors) as caught:
        load_lesson(_write(tmp_path, text))
    (error,) = caught.value.errors
    assert error.line == 1 and "summary: required key is missing" in error.message


def test_unclosed_front_matter(tmp_path: Path) -> None:
    text = VALID.read_text().replace("+++\n\n## Syntax", "\n## Syntax", 1)
    with pytest.raises(ContentErrors, match="never closed"):
        load_lesson(_write(tmp_path, text))
