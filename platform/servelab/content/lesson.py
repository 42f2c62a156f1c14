"""lesson.md: TOML front matter between `+++` lines, then the lesson's `##` sections in order.

The page is rendered once at load time; authoring mistakes become ContentErrors that name
the file and the line, so `servelab content check` and the app report the same thing.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from servelab.content import markdown
from servelab.content.errors import ContentError, ContentErrors, errors_from_validation, locate_toml
from servelab.content.lesson_sections import (
    Example,
    InterviewQuestion,
    LineNote,
    RawSection,
    parse_example,
    parse_interview,
    parse_line_notes,
    span,
)

FRONT_MATTER_FENCE = "+++"
SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"

# (anchor id, heading as authors write it), in the order the page shows them.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("syntax", "Syntax"),
    ("example", "Example"),
    ("line-by-line", "Line-by-line explanation"),
    ("real-world-uses", "Real-world uses"),
    ("common-mistakes", "Common mistakes"),
    ("best-practices", "Best practices"),
    ("how-it-works", "How it works"),
    ("data-and-model-decisions", "Data and model decisions"),
    ("verification-plan", "Verification plan"),
    ("practice-task", "Practice task"),
    ("quick-summary", "Quick summary"),
    ("interview-questions", "Interview questions"),
)
# Anchors the page adds around the authored sections.
PAGE_ANCHORS = ("summary", "quiz")


class LessonMeta(BaseModel):
    """The front matter of lesson.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=120)
    slug: str = Field(pattern=SLUG_PATTERN, max_length=80)
    summary: str = Field(min_length=1, max_length=600)
    updated: date
    tags: list[str] = Field(default_factory=list, max_length=12)
    order: int = 100


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    html: str
    line: int
    topics: tuple[tuple[str, str], ...] = ()  # (anchor id, heading text) of its `###` headings


@dataclass(frozen=True)
class Lesson:
    meta: LessonMeta
    path: Path
    sections: dict[str, Section]
    example: Example
    line_notes: list[LineNote]
    interview: list[InterviewQuestion]
    anchors: frozenset[str] = field(default_factory=frozenset)

    @property
    def slug(self) -> str:
        return self.meta.slug

    @property
    def title(self) -> str:
        return self.meta.title

    @property
    def summary_html(self) -> str:
        return markdown.render_inline(self.meta.summary)


def _canonical(title: str) -> str:
    return re.sub(r"[\s\-\u2013]+", " ", title.strip().lower())


_BY_TITLE = {_canonical(title): anchor for anchor, title in SECTIONS}
_TITLES = dict(SECTIONS)


class _Parser:
    """Collects every mistake in one lesson.md before giving up."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.errors: list[ContentError] = []

    def error(self, line: int | None, message: str) -> None:
        self.errors.append(ContentError(self.path, line, message))

    # Front matter -------------------------------------------------------------------------

    def front_matter(self) -> tuple[LessonMeta | None, int]:
        """Parse the `+++` block; returns the metadata and the file line where the body starts."""
        lines = self.text.splitlines()
        if not lines or lines[0].strip() != FRONT_MATTER_FENCE:
            self.error(
                1,
                "lesson.md must start with TOML front matter between '+++' lines "
                "(title, slug, summary, updated, tags)",
            )
            return None, 1
        close = next(
            (i for i in range(1, len(lines)) if lines[i].strip() == FRONT_MATTER_FENCE), None
        )
        if close is None:
            self.error(1, "the front matter opened with '+++' on line 1 is never closed")
            return None, len(lines) + 1
        source = "\n".join(lines[1:close])
        try:
            data = tomllib.loads(source)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
            where = f" (column {m.group(2)})" if m else ""
            self.error(
                int(m.group(1)) + 1 if m else 1, f"invalid TOML in front matter: {reason}{where}"
            )
            return None, close + 2
        try:
            return LessonMeta.model_validate(data), close + 2
        except ValidationError as exc:
            found = errors_from_validation(
                self.path, exc, lambda loc: locate_toml(source, loc), line_offset=1
            )
            for err in found:
                message = err.message
                if message.endswith("Field required"):
                    message = message.replace("Field required", "required key is missing")
                elif "unknown key" in message:
                    allowed = ", ".join(LessonMeta.model_fields)
                    message = message.split(" (")[0] + f" (allowed keys: {allowed})"
                elif message.startswith("updated:"):
                    message += " (write the date as YYYY-MM-DD, e.g. updated = 2026-11-30)"
                self.error(err.line or 1, f"front matter {message}")
            return None, close + 2

    # Sections -----------------------------------------------------------------------------

    def sections(self, body: str, first_line: int) -> dict[str, RawSection]:
        tokens = markdown.parse(body)
        lines = body.splitlines()
        heads = [t for t in tokens if t.type == "heading_open" and t.tag == "h2" and t.level == 0]
        before = lines[: heads[0].map[0]] if heads and heads[0].map else lines
        stray = next((i for i, text in enumerate(before) if text.strip()), None)
        if stray is not None:
            self.error(
                first_line + stray,
                "text before the first '##' section; the summary belongs in the front matter "
                "and everything else under a section heading",
            )
        found: dict[str, RawSection] = {}
        for n, head in enumerate(heads):
            assert head.map is not None
            start = head.map[0]
            end = span(heads[n + 1])[0] if n + 1 < len(heads) else len(lines)
            inline = tokens[tokens.index(head) + 1]
            title, _ = markdown.split_explicit_id(inline.content)
            line = first_line + start
            anchor = _BY_TITLE.get(_canonical(title))
            if anchor is None:
                names = ", ".join(f"'## {t}'" for _, t in SECTIONS)
                self.error(line, f"unknown section '## {title}'; the sections are {names}")
                continue
            if anchor in found:
                self.error(
                    line, f"section '## {title}' appears twice (first on line {found[anchor].line})"
                )
                continue
            found[anchor] = RawSection(
                id=anchor,
                title=_TITLES[anchor],
                line=line,
                body_line=first_line + head.map[1],
                body="\n".join(lines[head.map[1] : end]),
            )
        self._check_order(found, first_line + len(lines))
        return found

    def _check_order(self, found: dict[str, RawSection], last_line: int) -> None:
        order = [anchor for anchor, _ in SECTIONS]
        present = sorted(found.values(), key=lambda s: s.line)
        for prev, cur in zip(present, present[1:], strict=False):
            if order.index(cur.id) < order.index(prev.id):
                self.error(
                    cur.line,
                    f"section '## {cur.title}' must come before '## {prev.title}' "
                    f"(the order is: {', '.join(t for _, t in SECTIONS)})",
                )
        for i, anchor in enumerate(order):
            if anchor in found:
                continue
            after = next((found[a].line for a in order[i + 1 :] if a in found), last_line)
            self.error(after, f"missing section '## {_TITLES[anchor]}'")

    def heading_ids(self, raw: RawSection, taken: dict[str, int]) -> None:
        """Every `###` id must be unique on the page (they are link targets)."""
        for token in markdown.parse(raw.body):
            if token.type != "heading_open" or token.tag == "h2":
                continue
            anchor = str(token.attrGet("id") or "")
            line = raw.body_line + (token.map[0] if token.map else 0)
            if anchor in taken:
                where = f"line {taken[anchor]}" if taken[anchor] else "a page section"
                self.error(
                    line,
                    f"heading id '{anchor}' is already used by {where}; "
                    "give this heading another id with {#other-id}",
                )
            else:
                taken[anchor] = line


def _topics(raw: RawSection) -> tuple[tuple[str, str], ...]:
    tokens = markdown.parse(raw.body)
    return tuple(
        (str(token.attrGet("id")), tokens[i + 1].content)
        for i, token in enumerate(tokens)
        if token.type == "heading_open" and token.tag == "h3" and token.level == 0
    )


def load_lesson(path: Path) -> Lesson:
    """Load, validate and render lesson.md; raises ContentErrors naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentErrors([ContentError(path, None, f"cannot read lesson: {exc}")]) from exc
    parser = _Parser(path, text)
    meta, body_line = parser.front_matter()
    body = "\n".join(text.splitlines()[body_line - 1 :])
    raw = parser.sections(body, body_line)

    error = parser.error
    example = parse_example(raw["example"], error) if "example" in raw else None
    notes = parse_line_notes(raw["line-by-line"], example, error) if "line-by-line" in raw else []
    interview = (
        parse_interview(raw["interview-questions"], error) if "interview-questions" in raw else []
    )
    taken = {anchor: 0 for anchor in (*PAGE_ANCHORS, *(a for a, _ in SECTIONS))}
    for section in raw.values():
        if section.id not in ("interview-questions", "line-by-line"):
            parser.heading_ids(section, taken)

    if parser.errors or meta is None or example is None:
        raise ContentErrors(parser.errors)
    sections = {
        s.id: Section(
            id=s.id,
            title=s.title,
            html=markdown.render(s.body),
            line=s.line,
            topics=_topics(s) if s.id != "interview-questions" else (),
        )
        for s in raw.values()
    }
    anchors = frozenset(taken) | {q.id for q in interview}
    return Lesson(
        meta=meta,
        path=path,
        sections=sections,
        example=example,
        line_notes=notes,
        interview=interview,
        anchors=anchors,
    )
