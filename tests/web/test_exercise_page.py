"""The exercise page (instructions, contract, limits, runtime versions, forms) and starter.zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import SLUG, TINY, course_settings, sample_result, store_submission
from sqlmodel import Session

from servelab.db.models import Role
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.runtime import runtime_packages
from servelab.settings import PROJECT_ROOT, Settings
from support import csrf_from, login

HTML = {"accept": "text/html"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return course_settings(tmp_path)


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
