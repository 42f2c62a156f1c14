"""The lesson sections with a structure of their own: Example, Line-by-line, Interview questions.

Each parser reports every mistake through `error(line, message)` (the lesson's collector), so
one `content check` names them all, and returns what it could read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from markdown_it.token import Token

from servelab.content import markdown

ErrorAt = Callable[[int | None, str], None]
_NOTE = re.compile(r"^[-*]\s+Lines?\s+(\d+)(?:\s*[-\u2013]\s*(\d+))?\s*:\s?(.*)$")


@dataclass
class RawSection:
    """A `##` section as written, before rendering."""

    id: str
    title: str
    line: int  # file line of the `##` heading
    body_line: int  # file line where the body starts
    body: str


@dataclass(frozen=True)
class Example:
    code: str
    expected_output: str
    code_html: str
    output_html: str
    notes_html: str


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


def span(token: Token) -> tuple[int, int]:
    """0-based [start, end) source lines of a block token."""
    return (token.map[0], token.map[1]) if token.map else (0, 0)


def parse_example(raw: RawSection, error: ErrorAt) -> Example | None:
    """'## Example': one ```python block and one ```output block, prose around them."""
    tokens = markdown.parse(raw.body)
    fences = [t for t in tokens if t.type == "fence"]
    code = [t for t in fences if t.info.split()[:1] == ["python"]]
    output = [t for t in fences if t.info.split()[:1] == ["output"]]
    ok = True
    if len(code) != 1:
        error(
            raw.line,
            f"'## Example' needs exactly one ```python block (found {len(code)})",
        )
        ok = False
    if len(output) != 1:
        error(
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


def parse_line_notes(raw: RawSection, example: Example | None, error: ErrorAt) -> list[LineNote]:
    """'## Line-by-line explanation': items '- Line 3: ...' that must point into the example."""
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
            error(
                raw.body_line + offset,
                "the line-by-line explanation is a list of items like "
                "'- Line 3: what it does' or '- Lines 4-6: ...'",
            )
    if not notes:
        error(raw.line, "explain the example line by line: add items like '- Line 1: ...'")
    out = []
    for line, start, end, parts in notes:
        if example and not (1 <= start <= end <= len(code_lines)):
            error(
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


def parse_interview(raw: RawSection, error: ErrorAt) -> list[InterviewQuestion]:
    """'## Interview questions': each `### Question?` followed by its answer."""
    tokens = markdown.parse(raw.body)
    lines = raw.body.splitlines()
    heads = [t for t in tokens if t.type == "heading_open" and t.tag == "h3" and t.level == 0]
    if not heads:
        error(raw.line, "add interview questions as '### Question?' followed by the answer")
        return []
    out = []
    for n, head in enumerate(heads):
        assert head.map is not None
        end = span(heads[n + 1])[0] if n + 1 < len(heads) else len(lines)
        answer = "\n".join(lines[head.map[1] : end]).strip()
        question = tokens[tokens.index(head) + 1].content
        if not answer:
            error(raw.body_line + head.map[0], f"question '{question}' has no answer")
        out.append(
            InterviewQuestion(
                id=f"interview-q{n + 1}",
                question_html=markdown.render_inline(question),
                answer_html=markdown.render(answer),
            )
        )
    return out
