"""Public pages: the course index and lesson pages, rendered from the content files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from servelab.content.lesson import PAGE_ANCHORS, SECTIONS
from servelab.settings import Settings
from support import FLAGSHIP_TOPICS

FLAGSHIP = "fastapi-for-ml-apis"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "content"


def test_index_lists_lessons_with_title_summary_tags(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.template.name == "index.html"  # type: ignore[attr-defined]
    lesson = client.app.state.course.lessons[FLAGSHIP]  # type: ignore[attr-defined]
    assert f'href="/lessons/{FLAGSHIP}"' in r.text
    assert lesson.title in r.text and lesson.meta.summary in r.text
    for tag in lesson.meta.tags:
        assert f"<li>{tag}</li>" in r.text


def test_lesson_page_renders_every_section_in_order(client: TestClient) -> None:
    r = client.get(f"/lessons/{FLAGSHIP}")
    assert r.status_code == 200
    html = r.text
    order = ["summary", *(anchor for anchor, _ in SECTIONS), "quiz"]
    positions = [html.find(f'<section id="{anchor}"') for anchor in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)
    for anchor in order:  # and the table of contents links to each
        assert f'<a href="#{anchor}">' in html
    assert set(PAGE_ANCHORS) <= set(order)
    assert "Last updated <time datetime=" in html


def test_lesson_topics_have_their_anchors(client: TestClient) -> None:
    html = client.get(f"/lessons/{FLAGSHIP}").text
    for topic in FLAGSHIP_TOPICS:
        assert f'<h3 id="{topic}">' in html, topic


def test_example_has_output_tab_expected_output_and_line_links(client: TestClient) -> None:
    html = client.get(f"/lessons/{FLAGSHIP}").text
    lesson = client.app.state.course.lessons[FLAGSHIP]  # type: ignore[attr-defined]
    assert 'id="tab-output"' in html and '<label for="tab-output">Output</label>' in html
    assert '<h3 id="expected-output">Expected output</h3>' in html
    first_output_line = lesson.example.expected_output.splitlines()[0]
    assert first_output_line in html
    code_lines = len(lesson.example.code.splitlines())
    assert f'id="example-line-{code_lines}"' in html
    refs = re.findall(r'class="line-ref" href="#example-line-(\d+)"', html)
    assert refs and all(f'id="example-line-{n}"' in html for n in refs)


def test_interview_answers_hidden_and_links_to_practice_and_quiz(client: TestClient) -> None:
    html = client.get(f"/lessons/{FLAGSHIP}").text
    course = client.app.state.course  # type: ignore[attr-defined]
    assert html.count('<details class="qa"') == len(course.lessons[FLAGSHIP].interview) > 0
    assert (
        '<details class="qa" id="interview-q1">' in html
        and " open" not in html.split("interview-q1")[1][:5]
    )
    if FLAGSHIP in course.exercises:
        assert f'href="/exercises/{FLAGSHIP}"' in html
    if FLAGSHIP in course.quizzes:
        assert f'href="/quizzes/{FLAGSHIP}"' in html


def test_unknown_lesson_is_a_404_page(client: TestClient) -> None:
    r = client.get("/lessons/no-such-lesson", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert r.template.name == "error.html"  # type: ignore[attr-defined]
    assert "no lesson called" in r.text
    api = client.get("/lessons/no-such-lesson", headers={"accept": "application/json"})
    assert api.status_code == 404 and "no lesson called" in api.json()["detail"]


def test_raw_html_and_script_in_markdown_are_escaped(tmp_path: Path, migrated: Settings) -> None:
    from servelab.web.app import create_app

    course = tmp_path / "course"
    shutil.copytree(FIXTURES / "valid", course)
    lesson = course / "tiny" / "lesson.md"
    text = lesson.read_text().replace(
        "Everywhere.",
        'Everywhere. <script>alert("owned")</script>\n\n<iframe src="https://evil.example"></iframe>\n',
    )
    lesson.write_text(text.replace("Tiny lesson", "Tiny <b>lesson</b>"))
    app = create_app(migrated.model_copy(update={"exercises_dir": course}))
    with TestClient(app) as client:
        html = client.get("/lessons/tiny").text
    assert '<script>alert("owned")</script>' not in html
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in html
    assert "<iframe" not in html and "&lt;iframe" in html
    assert "<b>lesson</b>" not in html and "Tiny &lt;b&gt;lesson&lt;/b&gt;" in html


def test_static_assets_are_served_by_the_app(client: TestClient) -> None:
    html = client.get(f"/lessons/{FLAGSHIP}").text
    hosts = set(re.findall(r'(?:src|href)="(?:https?:)?//([^/"]+)', html))
    assert hosts <= {"testserver"}, f"assets or links served from elsewhere: {hosts}"
    for asset in ("servelab.css", "pygments.css"):
        r = client.get(f"/static/{asset}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")


def test_account_page_requires_login(client: TestClient) -> None:
    r = client.get("/account", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_account_page_has_a_plain_title_and_each_form_once(learner_client: TestClient) -> None:
    """The title block once held the whole password form: the tab read as markup and the
    form showed twice."""
    html = learner_client.get("/account", headers={"accept": "text/html"}).text
    assert re.search(r"<title>\s*Your account · ServeLab\s*</title>", html)
    assert html.count('action="/account/password"') == 1
    assert html.count('action="/account/tokens"') == 1
