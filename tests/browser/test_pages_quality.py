"""Every main page in a real browser (Debian's Chromium) at desktop and phone widths: no
serious or critical axe-core violation, no horizontal page scroll, and a full-page screenshot
kept as a test artefact (var/screenshots/<page>-<desktop|phone>.png).

One server for the module, with what the pages show: a learner with a graded submission,
a quiz attempt submitted and one open, and a dead-lettered submission; an instructor. The
graded submission is stored as the worker leaves it (no Docker), so only Chromium is needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import browser_helpers
import httpx
import pytest
from accessibility import accessibility_problems
from sqlmodel import Session

from live_server import live_server
from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.models import Role
from servelab.db.models.grading import SubmissionStatus
from servelab.settings import Settings
from support import PASSWORD
from web.grading_web_helpers import sample_result, store_submission

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Fixtures from browser_helpers (a conftest.py here would shadow the top-level one).
browser = browser_helpers.module_browser

SLUG = "fastapi-for-ml-apis"
LEARNER, INSTRUCTOR = "learner@example.org", "prof@example.org"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
DEAD_LETTER_REASON = "the Docker engine did not answer (tried 3 times)"


@dataclass(frozen=True)
class MainPage:
    name: str  # the screenshot's name
    path: str  # {graded}, {dead}, {open_attempt}, {done_attempt}: ids from the site
    who: str | None  # whose session: LEARNER, INSTRUCTOR or None (anonymous)
    status: int = 200


PAGES = [
    MainPage("index", "/", LEARNER),
    MainPage("lesson", f"/lessons/{SLUG}", LEARNER),
    MainPage("quiz-overview", f"/quizzes/{SLUG}", LEARNER),
    MainPage("quiz-take", f"/quizzes/{SLUG}/attempts/{{open_attempt}}", LEARNER),
    MainPage("quiz-result", f"/quizzes/{SLUG}/attempts/{{done_attempt}}", LEARNER),
    MainPage("exercise", f"/exercises/{SLUG}", LEARNER),
    MainPage("submissions", "/submissions", LEARNER),
    MainPage("result", "/submissions/{graded}", LEARNER),
    MainPage("login", "/login", None),
    MainPage("signup", "/signup", None),
    MainPage("account", "/account", LEARNER),
    MainPage("instructor", "/instructor", INSTRUCTOR),
    MainPage("instructor-submissions", f"/instructor/exercises/{SLUG}/submissions", INSTRUCTOR),
    MainPage("extensions", f"/instructor/exercises/{SLUG}/extensions", INSTRUCTOR),
    MainPage("coverage", f"/instructor/exercises/{SLUG}/coverage", INSTRUCTOR),
    MainPage("instructor-submission", "/instructor/submissions/{graded}", INSTRUCTOR),
    MainPage("dead-letters", "/instructor/dead-letters", INSTRUCTOR),
    MainPage("quiz-list", "/instructor/quizzes", INSTRUCTOR),
    MainPage("users", "/instructor/users", INSTRUCTOR),
    MainPage("quiz-stats", f"/instructor/quizzes/{SLUG}", INSTRUCTOR),
    MainPage("error", "/lessons/no-such-lesson", LEARNER, status=404),
]


@dataclass(frozen=True)
class Site:
    base_url: str
    ids: dict[str, int]
    cookies: dict[str, list[dict[str, str]]]  # a logged-in browser's cookies, per person


def _csrf(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def _log_in(client: httpx.Client, email: str) -> None:
    form = {"email": email, "password": PASSWORD, "csrf_token": _csrf(client, "/login")}
    assert client.post("/login", data=form).status_code == 303


def _attempt(client: httpx.Client) -> int:
    """Start (or continue) the learner's quiz attempt through the quiz page; its id."""
    r = client.post(f"/quizzes/{SLUG}/attempts", data={"csrf_token": _csrf(client, "/")})
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def _quiz_attempts(client: httpx.Client) -> dict[str, int]:
    """One attempt submitted with a right, a wrong and missing answers, then one open."""
    done = _attempt(client)
    answers = {
        "csrf_token": _csrf(client, "/"),
        "q.best-practice": "artifact-and-contract",
        "q.nan-reaches-model": "true",
    }
    r = client.post(f"/quizzes/{SLUG}/attempts/{done}", data=answers)
    assert r.status_code == 303, r.text
    return {"done_attempt": done, "open_attempt": _attempt(client)}


def _cookies(client: httpx.Client) -> list[dict[str, str]]:
    return [
        {"name": c.name, "value": c.value or "", "url": str(client.base_url)}
        for c in client.cookies.jar
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("pages")
    settings = Settings(environment="test", var_dir=tmp / "var")
    with live_server(settings, tmp) as live:
        engine = make_engine(settings)
        with Session(engine) as db:
            learner = accounts.create_user(db, email=LEARNER, password=PASSWORD)
            accounts.create_user(db, email=INSTRUCTOR, password=PASSWORD, role=Role.INSTRUCTOR)
            graded = store_submission(db, learner, result=sample_result(), slug=SLUG)
            dead = store_submission(
                db,
                learner,
                status=SubmissionStatus.ERROR,
                slug=SLUG,
                log_excerpt=DEAD_LETTER_REASON,
                learner_message="ServeLab could not grade this; an instructor will retry it.",
            )
            ids = {"graded": graded.id or 0, "dead": dead.id or 0}
        engine.dispose()
        cookies = {}
        for email in (LEARNER, INSTRUCTOR):
            with live.client(timeout=30) as client:
                _log_in(client, email)
                if email == LEARNER:
                    ids.update(_quiz_attempts(client))
                cookies[email] = _cookies(client)
        yield Site(live.base_url, ids, cookies)


# The outermost elements that stick out past the window's right edge (not those inside a
# scrolling box, which scroll there), named like CSS selectors.
STICKING_OUT = """() => {
  const out = (e) => e.getBoundingClientRect().right > innerWidth + 1;
  const scrolls = (e) => ["auto", "scroll", "hidden"].includes(getComputedStyle(e).overflowX);
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + [...e.classList].map((c) => "." + c).join("");
  const found = [];
  const walk = (e) => {
    for (const child of e.children) {
      if (out(child) && !(child.parentElement && found.includes(child.parentElement))) {
        found.push(child);
      }
      if (!scrolls(child)) walk(child);
    }
  };
  walk(document.body);
  return found.slice(-4).map(name);
}"""


def _overflow(page) -> str | None:  # type: ignore[no-untyped-def]
    """What makes the page scroll sideways, if it does."""
    width, inner = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    if width <= inner + 1:
        return None
    return f"the page is {width} px wide in a {inner} px window: {page.evaluate(STICKING_OUT)}"


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("main_page", PAGES, ids=[p.name for p in PAGES])
def test_the_page_is_accessible_and_fits(  # type: ignore[no-untyped-def]
    browser, site: Site, main_page: MainPage, viewport: str
) -> None:
    context = browser.new_context(base_url=site.base_url, viewport=VIEWPORTS[viewport])
    context.set_default_timeout(20_000)
    if main_page.who:
        context.add_cookies(site.cookies[main_page.who])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(main_page.path.format(**site.ids))
    assert response is not None and response.status == main_page.status, main_page.path
    assert "/login" not in page.url or main_page.who is None, "the session was not accepted"
    page.wait_for_load_state("networkidle")
    name = f"{main_page.name}-{viewport}"
    shot: Path = browser_helpers.save_screenshot(page, name)
    problems = accessibility_problems(page, name)
    overflow = _overflow(page)
    context.close()
    print(f"\n{name}: screenshot {shot.name}, {len(problems)} blocking violation(s)")
    assert errors == []
    assert overflow is None, overflow
    assert problems == [], "\n".join(problems)


def test_the_check_reports_what_it_should(browser) -> None:  # type: ignore[no-untyped-def]
    """The check itself: an unlabelled input fails it (critical), a low-contrast text fails
    it (serious); a page without them passes."""
    page = browser.new_page()
    page.set_content(
        '<!doctype html><html lang="en"><head><title>t</title></head><body><main>'
        '<h1>Form</h1><input type="text"><p style="color:#bbb">faint</p></main></body></html>'
    )
    problems = accessibility_problems(page, "bad")
    assert sorted(p.split(" ")[2] for p in problems) == ["color-contrast:", "label:"], problems
    page.set_content(
        '<!doctype html><html lang="en"><head><title>t</title></head><body><main>'
        '<h1>Form</h1><label for="x">Name</label><input id="x" type="text"></main></body></html>'
    )
    assert accessibility_problems(page, "good") == []
    page.close()


@pytest.mark.parametrize("main_page", PAGES, ids=[p.name for p in PAGES])
def test_the_page_works_and_fits_a_phone_without_javascript(  # type: ignore[no-untyped-def]
    browser, site: Site, main_page: MainPage
) -> None:
    """With JavaScript off (the editor's text areas, refresh instead of live progress) every
    page still answers and fits 390 px; kept as <page>-phone-nojs.png. axe-core itself needs
    JavaScript, so the accessibility check runs in the test above."""
    context = browser.new_context(
        base_url=site.base_url, viewport=VIEWPORTS["phone"], java_script_enabled=False
    )
    context.set_default_timeout(20_000)
    if main_page.who:
        context.add_cookies(site.cookies[main_page.who])
    page = context.new_page()
    response = page.goto(main_page.path.format(**site.ids))
    assert response is not None and response.status == main_page.status, main_page.path
    assert "/login" not in page.url or main_page.who is None, "the session was not accepted"
    browser_helpers.save_screenshot(page, f"{main_page.name}-phone-nojs")
    overflow = _overflow(page)
    context.close()
    assert overflow is None, overflow
