"""The exercise page (routes/exercises.py): instructions, contract, limits, runtime versions,
starter.zip, and its two submit forms (upload and editor) with their refusals."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import (
    HTML,
    SLUG,
    TINY,
    all_submissions,
    make_zip,
    sample_result,
    starter_zip,
    store_submission,
    upload_zip,
)
from sqlmodel import Session

from servelab.db.models import Role
from servelab.db.models.grading import SubmissionStatus
from servelab.grading import queue
from servelab.grading.runtime import runtime_packages
from servelab.grading.submission_limits import MAX_ACTIVE_SUBMISSIONS
from servelab.settings import PROJECT_ROOT, Settings
from support import csrf_from, login


@pytest.fixture
def settings(tiny_settings: Settings) -> Settings:
    return tiny_settings


def test_page_shows_instructions_contract_limits_versions_and_starter(client: TestClient) -> None:
    r = client.get(f"/exercises/{SLUG}", headers=HTML)
    assert r.status_code == 200
    assert r.template.name == "exercise.html"  # type: ignore[attr-defined]
    limits = r.context["limits"]  # type: ignore[attr-defined]
    assert (limits.train_seconds, limits.startup_seconds, limits.test_seconds) == (30, 20, 60)
    assert (limits.memory_bytes, limits.cpus, limits.pids) == (512 * 2**20, 1.0, 128)
    html = r.text
    # The contract comes from exercise.md, rendered as HTML.
    assert "<code>POST /predict</code>" in html
    assert "<code>GET /health</code>" in html
    for label, value in [("Training", "30.0 s"), ("Memory", "512 MiB"), ("Processes", "128")]:
        assert label in html and value in html
    pins = runtime_packages()
    for name in ("fastapi", "uvicorn", "pydantic", "numpy", "pandas", "scikit-learn"):
        assert f"<code>{name}</code></td><td><code>{pins[name]}</code>" in html
    assert f'href="/exercises/{SLUG}/starter.zip"' in html


def test_anonymous_visitor_is_asked_to_log_in_instead_of_seeing_forms(client: TestClient) -> None:
    html = client.get(f"/exercises/{SLUG}", headers=HTML).text
    assert f"/login?next=/exercises/{SLUG}" in html
    assert f'action="/exercises/{SLUG}/submissions"' not in html


def test_logged_in_learner_gets_csrf_protected_upload_and_prefilled_editor(
    client: TestClient, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = client.get(f"/exercises/{SLUG}", headers=HTML)
    html = r.text
    assert html.count(f'action="/exercises/{SLUG}/submissions"') == 2
    assert 'enctype="multipart/form-data"' in html
    assert html.count(f'name="csrf_token" value="{csrf_from(client, f"/exercises/{SLUG}")}"') >= 2
    editor = r.context["editor"]  # type: ignore[attr-defined]
    assert editor["main.py"] == (TINY / "starter" / "main.py").read_text(encoding="utf-8")
    assert editor["train.py"] == (TINY / "starter" / "train.py").read_text(encoding="utf-8")
    assert 'name="train_py"' in html and 'name="main_py"' in html
    assert 'name="requirements_txt"' in html


def test_starter_zip_holds_exactly_the_starter_files(client: TestClient) -> None:
    r = client.get(f"/exercises/{SLUG}/starter.zip")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        names = sorted(archive.namelist())
        # No __pycache__, and no symlink into graders/ (the fixture plants one as leak.py).
        assert names == ["main.py", "train.py"]
        for name in names:
            assert archive.read(name) == (TINY / "starter" / name).read_bytes()


def test_unknown_exercise_is_404_for_page_starter_and_submit(client: TestClient) -> None:
    assert client.get("/exercises/no-such-thing", headers=HTML).status_code == 404
    assert client.get("/exercises/no-such-thing/starter.zip").status_code == 404
    assert client.get("/exercises/..%2Fgraders/starter.zip").status_code == 404


def test_flagship_exercise_page_shows_its_contract(tmp_path: Path) -> None:
    """The real course: the churn exercise's page carries the contract learners implement."""
    flagship = PROJECT_ROOT / "exercises" / "fastapi-for-ml-apis"
    from servelab.db.migrate import upgrade
    from servelab.web.app import create_app

    real = Settings(environment="test", var_dir=tmp_path / "var")
    upgrade(real)
    with TestClient(create_app(real)) as client:
        r = client.get("/exercises/fastapi-for-ml-apis", headers=HTML)
        assert r.status_code == 200
        html = r.text
        for phrase in ("/predict/batch", "churn_probability", "model_version", "/model-card"):
            assert phrase in html
        assert html.count("<h1") == 1  # exercise.md's own title heads the page
        assert "<td>20.0 s</td>" in html and "<td>256</td>" in html  # from its exercise.toml
        assert (flagship / "starter").is_dir()
        with zipfile.ZipFile(
            io.BytesIO(client.get("/exercises/fastapi-for-ml-apis/starter.zip").content)
        ) as z:
            assert {"train.py", "main.py"} <= set(z.namelist())
            assert not any(n.startswith(("graders", "data")) for n in z.namelist())


def test_learner_sees_their_recent_submissions_and_best_score(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    best = store_submission(db, learner, result=sample_result())
    later = store_submission(db, learner, status=SubmissionStatus.FAILED)
    store_submission(db, make_user(Role.LEARNER), result=sample_result())  # someone else's
    login(client, learner)
    r = client.get(f"/exercises/{SLUG}", headers=HTML)
    assert [s.id for s in r.context["submissions"]] == [later.id, best.id]  # type: ignore[attr-defined]
    assert "Your best score so far: <strong>25.0 / 50.0</strong>" in r.text
    assert f'href="/submissions/{best.id}"' in r.text


def test_zip_upload_is_stored_in_its_own_folder_and_queued(
    client: TestClient, db: Session, make_user, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    login(client, learner)
    r = upload_zip(client, starter_zip())
    assert r.status_code == 303
    [submission] = all_submissions(db)
    assert r.headers["location"] == f"/submissions/{submission.id}"
    assert submission.status == SubmissionStatus.QUEUED
    assert submission.user_id == learner.id and submission.exercise_slug == SLUG
    folder = Path(submission.source_dir)
    assert folder.parent == settings.submissions_dir
    assert sorted(p.name for p in folder.iterdir()) == ["main.py", "train.py"]
    assert (folder / "main.py").read_bytes() == (TINY / "starter" / "main.py").read_bytes()
    events = queue.get_events(db, submission_id=submission.id)  # type: ignore[arg-type]
    assert [e.status for e in events] == ["queued"]
    page = client.get(r.headers["location"], headers=HTML)
    assert page.status_code == 200 and "queued" in page.text
    assert '<meta http-equiv="refresh"' in page.text  # works without JavaScript


def test_editor_files_are_written_with_unix_newlines(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = client.post(
        f"/exercises/{SLUG}/submissions",
        data={
            "csrf_token": csrf_from(client, f"/exercises/{SLUG}"),
            "source": "editor",
            "train_py": "print('train')\r\n",
            "main_py": "from fastapi import FastAPI\r\napp = FastAPI()\r\n",
            "requirements_txt": "",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    [submission] = all_submissions(db)
    folder = Path(submission.source_dir)
    assert sorted(p.name for p in folder.iterdir()) == ["main.py", "train.py"]
    assert (folder / "main.py").read_text() == "from fastapi import FastAPI\napp = FastAPI()\n"


def test_form_submission_without_csrf_is_refused(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = upload_zip(client, starter_zip(), csrf=False)
    assert r.status_code == 403
    assert all_submissions(db) == []


def test_zip_slip_is_refused_clearly_and_nothing_is_written_outside(
    client: TestClient, db: Session, make_user, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    evil = make_zip({"train.py": "x=1\n", "main.py": "app=1\n", "../../escaped.py": "pwned\n"})
    r = upload_zip(client, evil)
    assert r.status_code == 400
    assert r.template.name == "exercise.html"  # type: ignore[attr-defined]
    assert "climbs out of the submission folder" in r.text
    assert all_submissions(db) == []
    assert not list(tmp_path.rglob("escaped.py"))
    assert list(settings.submissions_dir.iterdir()) == []  # the staging folder is gone too


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not a zip", "not a valid .zip archive"),
        (make_zip({"main.py": "app = 1\n"}), "has no train.py"),
        (make_zip({"train.py": b"\xff\xfe bad", "main.py": "app=1\n"}), "is not UTF-8"),
        (b"", "Choose a .zip file"),
    ],
)
def test_bad_archives_get_a_clear_message(
    client: TestClient, db: Session, make_user, data: bytes, message: str
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = upload_zip(client, data)
    assert r.status_code == 400
    assert message in r.text
    assert all_submissions(db) == []


def test_zip_bomb_is_refused_with_a_clear_message(
    client: TestClient, db: Session, make_user, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("train.py", "x = 1\n")
        archive.writestr("main.py", "app = 1\n")
        archive.writestr("weights.bin", b"\0" * (60 * 2**20))
    assert len(buffer.getvalue()) < 2**20
    r = upload_zip(client, buffer.getvalue())
    assert r.status_code == 400 and "unpacks to more than 50.0 MiB" in r.text
    assert all_submissions(db) == [] and list(settings.submissions_dir.iterdir()) == []


def test_requirements_the_image_lacks_are_refused_at_once(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    files = {p.name: p.read_text() for p in (TINY / "starter").iterdir() if p.is_file()}
    ok = make_zip({**files, "requirements.txt": "scikit-learn\nnumpy>=1.26\n"})
    assert upload_zip(client, ok).status_code == 303
    r = upload_zip(client, make_zip({**files, "requirements.txt": "torch==2.5\n"}))
    assert r.status_code == 400
    assert "torch is not in the runtime image" in r.text and "scikit-learn" in r.text
    assert len(all_submissions(db)) == 1


def test_too_large_upload_is_refused_before_it_is_parsed(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = upload_zip(client, b"\0" * (11 * 2**20))
    assert r.status_code == 413
    assert "the limit is 10 MiB" in r.text
    assert all_submissions(db) == []


def test_wrong_slug_in_form_is_404(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    assert upload_zip(client, starter_zip(), slug="nope").status_code == 404


def test_anonymous_form_submission_goes_to_login(client: TestClient, db: Session) -> None:
    r = upload_zip(client, starter_zip())
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert all_submissions(db) == []


def test_a_learner_may_have_only_a_few_submissions_waiting(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    for _ in range(MAX_ACTIVE_SUBMISSIONS):
        assert upload_zip(client, starter_zip()).status_code == 303
    r = upload_zip(client, starter_zip())
    assert r.status_code == 429
    assert "Wait for one of them to finish" in r.text
    assert len(all_submissions(db)) == MAX_ACTIVE_SUBMISSIONS
