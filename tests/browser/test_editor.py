"""The exercise page's code editor in a real browser (Debian's Chromium): tabs with Python
highlighting and line numbers, edits kept across a reload, an added module, keyboard use, no
Content-Security-Policy violation, and the starter submitted from the editor gets queued; the
same form submits with JavaScript switched off."""

from __future__ import annotations

import re
from pathlib import Path

import browser_helpers
import pytest
from sqlmodel import Session

from servelab.db.engine import make_engine
from servelab.db.models.grading import Submission
from servelab.grading import views
from servelab.settings import PROJECT_ROOT, Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Fixtures from browser_helpers (a conftest.py here would shadow the top-level one).
live_server = browser_helpers.live_server
browser = browser_helpers.browser

SLUG = "fastapi-for-ml-apis"
EXERCISE = f"/exercises/{SLUG}"
STARTER = PROJECT_ROOT / "exercises" / SLUG / "starter"
# main.py after the edits below: its first line indented by Tab, a comment at its end.
EDITED = r'^    """[\s\S]*\n# edited in the browser$'


def _submissions(settings: Settings) -> list[Submission]:
    engine = make_engine(settings)
    with Session(engine) as db:
        found = views.list_submissions(db, exercise_slug=SLUG)
    engine.dispose()
    return found


# The form's copy of a file (the editor mirrors its tabs into the form's fields).
FORM_FILE = """name => {
  const area = document.querySelector(`textarea[data-file="${name}"]`);
  if (area) return area.value;
  const names = [...document.querySelectorAll("#editor-form input[name=module_name]")];
  const at = names.findIndex((input) => input.value === name);
  const texts = document.querySelectorAll("#editor-form textarea[name=module_text]");
  return at < 0 ? null : texts[at].value;
}"""


def _form_file(page, name: str) -> str | None:  # type: ignore[no-untyped-def]
    return page.evaluate(FORM_FILE, name)  # type: ignore[no-any-return]


def _wait_for_form_file(page, name: str, pattern: str) -> None:  # type: ignore[no-untyped-def]
    """Until the form's copy of `name` matches `pattern` (the editor saves 0.4 s after typing)."""
    page.wait_for_function(
        f"([name, pattern]) => new RegExp(pattern).test(({FORM_FILE})(name) || '')",
        arg=[name, pattern],
    )


def _written(submission: Submission) -> dict[str, str]:
    folder = Path(submission.source_dir)
    return {
        p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()
    }


def test_the_editor_keeps_edits_and_submits_the_starter(  # type: ignore[no-untyped-def]
    live_server: str, browser, migrated: Settings
) -> None:
    browser_helpers.add_user(migrated, "ada@example.org")
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(20_000)
    page = browser_helpers.log_in(context, "ada@example.org")
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(EXERCISE)

    # The text areas gave way to one tab per file; each is a labelled CodeMirror editor.
    assert page.locator("#editor-fields").is_hidden()
    tabs = page.get_by_role("tablist", name="Files").get_by_role("tab")
    assert tabs.all_inner_texts() == ["train.py", "main.py", "requirements.txt"]
    editor = page.get_by_role("textbox", name="train.py (code editor)")
    assert editor.is_visible()
    shown = page.locator(".editor-panel:not([hidden])")
    assert shown.locator(".cm-lineNumbers .cm-gutterElement").count() > 5
    # Python highlighting: `import` is styled as a keyword, in another colour than plain text.
    keyword = shown.locator(".cm-line span", has_text=re.compile("^import$"))
    plain = shown.locator(".cm-content")
    assert keyword.first.evaluate("e => getComputedStyle(e).color") != plain.evaluate(
        "e => getComputedStyle(e).color"
    )
    discard = page.get_by_role("button", name="Discard my edits")
    assert discard.is_hidden()  # nothing to discard yet
    first_line = (STARTER / "train.py").read_text().splitlines()[0]
    assert shown.locator(".cm-line").first.inner_text() == first_line
    browser_helpers.save_screenshot(page.locator("#submit"), "editor-desktop")

    # Keyboard: arrow keys move between tabs; in the editor Tab indents, Esc then Tab leaves.
    page.get_by_role("tab", name="train.py", exact=True).focus()
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("tab", name="main.py").get_attribute("aria-selected") == "true"
    main = page.get_by_role("textbox", name="main.py (code editor)")
    main.click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Tab")  # indents the first line
    page.keyboard.press("Control+End")
    page.keyboard.type("# edited in the browser")
    _wait_for_form_file(page, "main.py", EDITED)
    main.click()
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("() => !document.activeElement.closest('.cm-editor')")

    # Add a module: a new tab, focused, and typed into.
    page.get_by_role("button", name="Add a module").click()
    page.get_by_label("New module's file name").fill("main.py")
    page.keyboard.press("Enter")
    assert "has its own tab already" in page.locator("#editor-add-error").inner_text()
    page.get_by_label("New module's file name").fill("features.py")
    page.keyboard.press("Enter")
    assert page.get_by_role("tab", name="features.py").get_attribute("aria-selected") == "true"
    page.keyboard.type("SCALE = 2")
    _wait_for_form_file(page, "features.py", "^SCALE = 2$")  # saved as a draft with it

    # A reload brings every edit back from the browser's storage.
    page.reload()
    assert "Restored your unsaved edits" in page.locator("#editor-status").inner_text()
    assert tabs.all_inner_texts() == ["train.py", "main.py", "requirements.txt", "features.py"]
    assert re.search(EDITED, str(_form_file(page, "main.py")))
    assert _form_file(page, "features.py") == "SCALE = 2"
    page.get_by_role("tab", name="features.py").click()
    assert page.locator(".editor-panel:not([hidden]) .cm-content").inner_text() == "SCALE = 2"

    # A refused submission (train.py emptied) comes back with every tab as sent, and the
    # edits stay a draft.
    page.get_by_role("tab", name="train.py", exact=True).click()
    page.get_by_role("textbox", name="train.py (code editor)").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.get_by_role("button", name="Submit these files").click()
    page.wait_for_url(re.compile(rf"{EXERCISE}/submissions$"))
    assert "train.py is empty" in page.locator("#submit-error").inner_text()
    assert tabs.all_inner_texts() == ["train.py", "main.py", "requirements.txt", "features.py"]
    assert _form_file(page, "train.py") == "" and _form_file(page, "features.py") == "SCALE = 2"
    page.goto(EXERCISE)
    assert "Restored your unsaved edits" in page.locator("#editor-status").inner_text()
    assert _form_file(page, "train.py") == ""
    assert re.search(EDITED, str(_form_file(page, "main.py")))
    assert _submissions(migrated) == []

    # Back to the starter (discarding the draft), then submit it from the editor.
    discard.click()
    assert discard.is_hidden()
    assert tabs.all_inner_texts() == ["train.py", "main.py", "requirements.txt"]
    assert _form_file(page, "main.py") == (STARTER / "main.py").read_text()
    assert _form_file(page, "features.py") is None
    page.get_by_role("button", name="Submit these files").click()
    page.wait_for_url(re.compile(r"/submissions/\d+$"))
    assert "queued" in page.locator("main").inner_text()
    [submission] = _submissions(migrated)
    assert _written(submission) == {
        name: (STARTER / name).read_text() for name in ("main.py", "train.py")
    }

    # Submitted: the exercise page starts from the page's files again, no draft restored.
    page.goto(EXERCISE)
    assert page.locator("#editor-status").inner_text() == ""
    assert discard.is_hidden()
    assert tabs.all_inner_texts() == ["train.py", "main.py", "requirements.txt"]
    assert _form_file(page, "main.py") == (STARTER / "main.py").read_text()
    page.set_viewport_size({"width": 390, "height": 844})
    browser_helpers.save_screenshot(page.locator("#submit"), "editor-phone")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    print(f"\nexercise page width at 390 px: {width} px; console problems: {problems}")
    assert width <= 390
    context.close()
    # No CSP violation, script error or warning; only the refused submission's 400 answer.
    assert [p for p in problems if "status of 400 (Bad Request)" not in p] == []


def test_the_plain_form_submits_without_javascript(  # type: ignore[no-untyped-def]
    live_server: str, browser, migrated: Settings
) -> None:
    browser_helpers.add_user(migrated, "grace@example.org")
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    context.set_default_timeout(20_000)
    page = browser_helpers.log_in(context, "grace@example.org")
    page.goto(EXERCISE)
    assert page.locator(".code-editor").count() == 0
    starter_main = (STARTER / "main.py").read_text()
    assert page.get_by_label("main.py", exact=True).input_value() == starter_main
    # The spare module fields of the plain form.
    page.get_by_label("File name, such as features.py").fill("features.py")
    page.get_by_label("Its code").fill("SCALE = 2\n")
    page.get_by_role("button", name="Submit these files").click()
    page.wait_for_url(re.compile(r"/submissions/\d+$"))
    assert "queued" in page.locator("main").inner_text()
    [submission] = _submissions(migrated)
    assert _written(submission) == {
        "features.py": "SCALE = 2\n",
        **{name: (STARTER / name).read_text() for name in ("main.py", "train.py")},
    }
    context.close()
