"""Markdown to safe HTML: raw HTML escaped, code highlighted server-side, headings with ids."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

PYGMENTS_STYLE = "default"
EXAMPLE_LINE_PREFIX = "example-line"

_EXPLICIT_ID = re.compile(r"\s*\{#([a-z0-9][a-z0-9\-]*)\}\s*$")


def slugify(text: str) -> str:
    """`Line-by-line explanation` -> `line-by-line-explanation` (ASCII letters, digits, dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


def split_explicit_id(text: str) -> tuple[str, str | None]:
    """`Data contract {#data-contract}` -> (`Data contract`, `data-contract`)."""
    m = _EXPLICIT_ID.search(text)
    if not m:
        return text.strip(), None
    return text[: m.start()].strip(), m.group(1)


def _lexer(lang: str):  # type: ignore[no-untyped-def]
    try:
        return get_lexer_by_name(lang)
    except ClassNotFound:
        return None


def highlight_inline(code: str, lang: str) -> str:
    """Highlighted spans without a wrapper; unknown languages are escaped as plain text."""
    lexer = _lexer(lang) if lang else None
    if lexer is None:
        return escape(code)
    return highlight(code, lexer, HtmlFormatter(nowrap=True))


def highlight_example(code: str, lang: str = "python") -> str:
    """A code listing whose lines carry anchors `example-line-N`, for line-by-line notes."""
    lexer = _lexer(lang) or get_lexer_by_name("text")
    formatter = HtmlFormatter(
        linenos="inline",
        lineanchors=EXAMPLE_LINE_PREFIX,
        anchorlinenos=True,
        cssclass="highlight example-code",
        wrapcode=True,
    )
    return highlight(code, lexer, formatter)


def _heading_ids(state: StateCore) -> None:
    """Give every heading an id: explicit `{#id}` suffix, else a slug of its text."""
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[i + 1]
        text, explicit = split_explicit_id(inline.content)
        if explicit and inline.children:
            inline.content = text
            last = inline.children[-1]
            if last.type == "text":
                last.content = _EXPLICIT_ID.sub("", last.content)
        token.attrSet("id", explicit or slugify(text))


def _alignment_classes(state: StateCore) -> None:
    """Table alignment as classes: the pages' CSP allows no inline `style` attribute."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open"):
            style = token.attrs.pop("style", None)
            if isinstance(style, str) and style.startswith("text-align:"):
                token.attrJoin("class", "align-" + style.removeprefix("text-align:"))


def _highlight_fence(code: str, lang: str, _attrs: str) -> str:
    css_lang = f' class="language-{escape(lang)}"' if lang else ""
    return f'<pre class="highlight"><code{css_lang}>{highlight_inline(code, lang)}</code></pre>\n'


def make_renderer() -> MarkdownIt:
    """CommonMark plus tables; raw HTML is escaped as text, never passed through."""
    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight_fence})
    md.enable("table")
    md.core.ruler.push("heading_ids", _heading_ids)
    md.core.ruler.push("alignment_classes", _alignment_classes)
    return md


_md = make_renderer()


def parse(text: str) -> list[Token]:
    return _md.parse(text)


def render(text: str) -> str:
    """Render Markdown source to HTML that is safe to insert into a page."""
    return _md.render(text)


def render_tokens(tokens: Sequence[Token]) -> str:
    return _md.renderer.render(list(tokens), _md.options, {})


def pygments_css() -> str:
    """Stylesheet for highlighted code (served as /static/pygments.css)."""
    return HtmlFormatter(style=PYGMENTS_STYLE).get_style_defs(".highlight")


def render_inline(text: str) -> str:
    """Render one line of inline Markdown (no paragraph wrapper)."""
    return _md.renderInline(text)
