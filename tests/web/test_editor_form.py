"""The exercise page's editor form through the real app (web/editor_form.py): added modules are
submitted with the three files, bad module names are refused with the form shown again, and
the logged-in page's policy lets only the editor's nonce'd style elements in."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import HTML, SLUG, TINY, all_submissions
from sqlmodel import Session

from servelab.db.models import Role
from servelab.settings import Settings
from servelab.web.editor_form import MAX_EDITOR_MODULES, MAX_MODULE_NAME, MODULE_NAME
from servelab.web.security_headers import CONTENT_SECURITY_POLICY
from support import ROOT, csrf_from, login

TRAIN = (TINY / "starter" / "train.py").read_text(encoding="utf-8")
MAIN = (TINY / "starter" / "main.py").read_text(encoding="utf-8")


@pytest.fixture
def settings(tiny_settings: Settings) -> Settings:
    return tiny_settings


def _send(client: TestClient, modules: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    fields: list[tuple[str, str]] = [
        ("csrf_token", csrf_from(client, f"/exercises/{SLUG}")),
        ("source", "editor"),
        ("train_py", TRAIN),
        ("main_py", MAIN),
        ("requirements_txt", ""),
    ]
    for name, text in modules:
        fields += [("module_name", name), ("module_text", text)]
    return client.post(
        f"/exercises/{SLUG}/submissions",
        content=urlencode(fields),  # repeated names, as a browser sends them
        headers={**HTML, "content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def test_added_modules_are_submitted_beside_the_three_files(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    # The plain form's spare pair arrives blank when unused: ignored.
    r = _send(client, [("features.py", "SCALE = 2\n"), ("utils/text.py", "X = 1\n"), ("", "")])
    assert r.status_code == 303, r.text
    [submission] = all_submissions(db)
    folder = Path(submission.source_dir)
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert written == ["features.py", "main.py", "train.py", "utils/text.py"]
    assert (folder / "features.py").read_text() == "SCALE = 2\n"


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        ([("main.py", "x = 1\n")], "main.py has its own field already"),
        ([("../evil.py", "x = 1\n")], "is not a module name"),
        ([("notes.txt", "hi\n")], "is not a module name"),
        ([("my-module.py", "x = 1\n")], "is not a module name"),
        ([("a.py", "x = 1\n"), ("a.py", "y = 2\n")], "two modules named a.py"),
        ([("", "x = 1\n")], "has code but no file name"),
        ([(f"m{i}.py", "") for i in range(MAX_EDITOR_MODULES + 1)], "at most 20 added modules"),
    ],
)
def test_bad_modules_are_refused_and_the_form_comes_back_as_sent(
    client: TestClient, db: Session, make_user, modules: list[tuple[str, str]], message: str
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = _send(client, modules)
    assert r.status_code == 400, r.text
    assert r.template.name == "exercise.html"  # type: ignore[attr-defined]
    assert message in r.text
    assert all_submissions(db) == []
    # What was typed is shown again: the three files and every module as sent.
    assert r.context["editor"]["main.py"] == MAIN  # type: ignore[attr-defined]
    if len(modules) <= MAX_EDITOR_MODULES:
        assert list(r.context["editor_modules"]) == modules  # type: ignore[attr-defined]
        for name, text in modules:  # each one a name field and a code field again
            assert f'name="module_name" type="text" value="{name}"' in r.text
            assert f">{text}</textarea>" in r.text
    assert 'data-refused="true"' in r.text


def test_unpaired_module_fields_are_refused(client: TestClient, db: Session, make_user) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = client.post(
        f"/exercises/{SLUG}/submissions",
        data={
            "csrf_token": csrf_from(client, f"/exercises/{SLUG}"),
            "source": "editor",
            "train_py": TRAIN,
            "main_py": MAIN,
            "module_name": "features.py",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 400 and "arrived incomplete" in r.text
    assert all_submissions(db) == []


def _policy(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    header = response.headers["content-security-policy"]
    return dict(d.split(" ", 1) for d in header.split("; "))


def test_only_the_editor_page_allows_its_own_nonced_styles(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    anonymous = client.get(f"/exercises/{SLUG}", headers=HTML)
    assert anonymous.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "editor.js" not in anonymous.text

    login(client, make_user(Role.LEARNER))
    nonces = []
    for _ in range(2):
        r = client.get(f"/exercises/{SLUG}", headers=HTML)
        policy = _policy(r)
        strict = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
        # Only style-src differs, by one nonce; scripts stay 'self' only.
        assert {k: v for k, v in policy.items() if k != "style-src"} == {
            k: v for k, v in strict.items() if k != "style-src"
        }
        m = re.fullmatch(r"'self' 'nonce-([A-Za-z0-9_-]{22})'", policy["style-src"])
        assert m, policy["style-src"]
        nonces.append(m.group(1))
        # The page hands the nonce to the editor's script only; nothing else inline.
        [script] = re.findall(r"<script\b[^>]*>", r.text)
        assert 'src="/static/editor/editor.js"' in script and f'nonce="{m.group(1)}"' in script
        assert r.text.count(m.group(1)) == 1
        assert "<style" not in r.text and not re.search(r"\sstyle\s*=", r.text)
    assert nonces[0] != nonces[1]  # fresh for every response
    assert client.get("/static/editor/editor.js").status_code == 200
    assert client.get("/static/editor/editor.css").status_code == 200


def test_the_editor_checks_module_names_by_the_same_rule() -> None:
    """static/editor/src/files.js refuses a name before sending it; the server is the judge."""
    source = (ROOT / "platform/servelab/web/static/editor/src/files.js").read_text()
    m = re.search(r"const MODULE_NAME = /\^(.*)\$/;", source)
    assert m, "MODULE_NAME not found in files.js"
    assert m.group(1).replace("\\/", "/") == MODULE_NAME.pattern
    assert f"MAX_MODULE_NAME = {MAX_MODULE_NAME};" in source
