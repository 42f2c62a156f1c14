"""Markdown rendering: raw HTML is escaped, code is highlighted, headings get ids."""

from __future__ import annotations

from servelab.content import markdown


def test_raw_html_and_script_are_escaped() -> None:
    html = markdown.render('Hi <script>alert("x")</script>\n\n<div onclick="x()">block</div>\n')
    assert "<script" not in html
    assert "<div" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;div onclick=" in html


def test_javascript_links_are_not_rendered_as_links() -> None:
    html = markdown.render("[click](javascript:alert(1))")
    assert 'href="javascript' not in html


def test_code_is_highlighted_server_side() -> None:
    html = markdown.render("```python\nimport os\n```\n")
    assert '<pre class="highlight"><code class="language-python">' in html
    assert '<span class="kn">import</span>' in html


def test_unknown_language_is_escaped_plain_text() -> None:
    html = markdown.render("```nosuchlang\n<b>x</b>\n```\n")
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_heading_ids_explicit_and_slugged() -> None:
    html = markdown.render("### The data contract {#data-contract}\n\n### Fit on rows only\n")
    assert '<h3 id="data-contract">The data contract</h3>' in html
    assert '<h3 id="fit-on-rows-only">Fit on rows only</h3>' in html


def test_example_lines_carry_anchors() -> None:
    html = markdown.highlight_example("a = 1\nb = 2\n")
    assert 'id="example-line-1"' in html and 'id="example-line-2"' in html


def test_table_alignment_is_a_class_not_a_style_attribute() -> None:
    # The pages' Content-Security-Policy allows no inline style.
    html = markdown.render("| a | b | c |\n|:--|--:|:-:|\n| 1 | 2 | 3 |\n")
    assert "style=" not in html
    assert '<th class="align-left">a</th>' in html
    assert '<td class="align-right">2</td>' in html
    assert '<td class="align-center">3</td>' in html
