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

from markdown_it.token import Token
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from servelab.content import markdown
from servelab.content.errors import ContentError, ContentErrors, errors_from_validation, locate_toml

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

_NOTE = re.compile(r"^[-*]\s+Lines?\s+(\d+)(?:\s*[-\u2013]\s*(\d+))?\s*:\s?(.*)$")


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
class LineNote:
    """An explanation of example lines start..end (1-based, inclusive)."""

    start: int
    end: int
    code_html: str
    html: str

    @property
    def label(self) -> str:
        return (
            f"Line {self.start}"
            if self.start == self.end
            else f"Lines {self.start}\u2013{self.end}"
        )


@dataclass(frozen=True)
class InterviewQuestion:
    id: str
    question_html: str
    answer_html: str


@dataclass(frozen=True)
class Example:
    code: str
    expected_output: str
    code_html: str
    output_html: str
    notes_html: str


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


def _span(token: Token) -> tuple[int, int]:
    """0-based [start, end) source lines of a block token."""
    return (token.map[0], token.map[1]) if token.map else (0, 0)


def _canonical(title: str) -> str:
    return re.sub(r"[\s\-\u2013]+", " ", title.strip().lower())


_BY_TITLE = {_canonical(title): anchor for anchor, title in SECTIONS}
_TITLES = dict(SECTIONS)


@dataclass
class _RawSection:
    id: str
    title: str
    line: int  # file line of the `##` heading
    body_line: int  # file line where the body starts
    body: str


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

    def sections(self, body: str, first_line: int) -> dict[str, _RawSection]:
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
        found: dict[str, _RawSection] = {}
        for n, head in enumerate(heads):
            assert head.map is not None
            start = head.map[0]
            end = _span(heads[n + 1])[0] if n + 1 < len(heads) else len(lines)
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
            found[anchor] = _RawSection(
                id=anchor,
                title=_TITLES[anchor],
                line=line,
                body_line=first_line + head.map[1],
                body="\n".join(lines[head.map[1] : end]),
            )
        self._check_order(found, first_line + len(lines))
        return found

    def _check_order(self, found: dict[str, _RawSection], last_line: int) -> None:
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

    # Special sections ---------------------------------------------------------------------

    def example(self, raw: _RawSection) -> Example | None:
        tokens = markdown.parse(raw.body)
        fences = [t for t in tokens if t.type == "fence"]
        code = [t for t in fences if t.info.split()[:1] == ["python"]]
        output = [t for t in fences if t.info.split()[:1] == ["output"]]
        ok = True
        if len(code) != 1:
            self.error(
                raw.line,
                f"'## Example' needs exactly one ```python block (found {len(code)})",
            )
            ok = False
        if len(output) != 1:
            self.error(
                raw.line,
                "'## Example' needs exactly one ```output block with the exact text the "
                f"example prints (found {len(output)})",
            )
            ok = False
        if not ok:
            return None
        rest = [t for t in tokens if t not in (code[0], output[0])]
        return Example(
            code=code[0].content,
            expected_output=output[0].content,
            code_html=markdown.highlight_example(code[0].content),
            output_html=markdown.highlight_inline(output[0].content, ""),
            notes_html=markdown.render_tokens(rest),
        )

    def line_notes(self, raw: _RawSection, example: Example | None) -> list[LineNote]:
        code_lines = example.code.splitlines() if example else []
        notes: list[tuple[int, int, int, list[str]]] = []  # (file line, start, end, text)
        for offset, text in enumerate(raw.body.splitlines()):
            m = _NOTE.match(text)
            if m:
                start = int(m.group(1))
                end = int(m.group(2) or start)
                notes.append((raw.body_line + offset, start, end, [m.group(3)]))
            elif notes:
                notes[-1][3].append(text[2:] if text.startswith("  ") else text)
            elif text.strip():
                self.error(
                    raw.body_line + offset,
                    "the line-by-line explanation is a list of items like "
                    "'- Line 3: what it does' or '- Lines 4-6: ...'",
                )
        if not notes:
            self.error(raw.line, "explain the example line by line: add items like '- Line 1: ...'")
        out = []
        for line, start, end, parts in notes:
            if example and not (1 <= start <= end <= len(code_lines)):
                self.error(
                    line,
                    f"line reference {start}-{end} is outside the example, which has "
                    f"{len(code_lines)} lines",
                )
                continue
            snippet = "\n".join(code_lines[start - 1 : end]) + "\n"
            out.append(
                LineNote(
                    start=start,
                    end=end,
                    code_html=markdown.highlight_inline(snippet, "python"),
                    html=markdown.render("\n".join(parts)),
                )
            )
        return out

    def interview(self, raw: _RawSection) -> list[InterviewQuestion]:
        tokens = markdown.parse(raw.body)
        lines = raw.body.splitlines()
        heads = [t for t in tokens if t.type == "heading_open" and t.tag == "h3" and t.level == 0]
        if not heads:
            self.error(
                raw.line, "add interview questions as '### Question?' followed by the answer"
            )
            return []
        out = []
        for n, head in enumerate(heads):
            assert head.map is not None
            end = _span(heads[n + 1])[0] if n + 1 < len(heads) else len(lines)
            answer = "\n".join(lines[head.map[1] : end]).strip()
            question = tokens[tokens.index(head) + 1].content
            if not answer:
                self.error(raw.body_line + head.map[0], f"question '{question}' has no answer")
            out.append(
                InterviewQuestion(
                    id=f"interview-q{n + 1}",
                    question_html=markdown.render_inline(question),
                    answer_html=markdown.render(answer),
                )
            )
        return out

    def heading_ids(self, raw: _RawSection, taken: dict[str, int]) -> None:
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


def _topics(raw: _RawSection) -> tuple[tuple[str, str], ...]:
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

    example = parser.example(raw["example"]) if "example" in raw else None
    notes = parser.line_notes(raw["line-by-line"], example) if "line-by-line" in raw else []
    interview = parser.interview(raw["interview-questions"]) if "interview-questions" in raw else []
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
