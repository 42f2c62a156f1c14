"""The `servelab` core commands: content check, db, users, demo seed, serve's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from servelab.accounts import users as accounts
from servelab.cli import app
from servelab.db.engine import make_engine
from servelab.db.models import Role, User
from servelab.settings import Settings, get_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "content"
runner = CliRunner()


def _users(settings: Settings) -> list[User]:
    engine = make_engine(settings)
    try:
        with Session(engine) as db:
            return list(db.exec(select(User).order_by(User.email)).all())
    finally:
        engine.dispose()


def test_content_check_ok(cli_env: Settings) -> None:
    r = runner.invoke(app, ["content", "check", "--exercises-dir", str(FIXTURES / "valid")])
    assert r.exit_code == 0, r.output
    assert "Content OK: 1 lessons, 1 quizzes, 0 exercises" in r.output


def test_content_check_prints_file_line_and_fails(cli_env: Settings) -> None:
    folder = FIXTURES / "several_errors"
    r = runner.invoke(app, ["content", "check", "--exercises-dir", str(folder)])
    assert r.exit_code == 1
    assert f"{folder / 'tiny' / 'lesson.md'}:7: front matter author: unknown key" in r.output
    assert f"{folder / 'tiny' / 'quiz.toml'}:9: " in r.output
    assert "3 content error(s)" in r.output


def test_db_upgrade_and_current(cli_env: Settings) -> None:
    assert runner.invoke(app, ["db", "current"]).exit_code == 1  # nothing there yet
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["db", "current"])
    assert r.exit_code == 0 and "up to date" in r.output


def test_users_create_with_token(cli_env: Settings) -> None:
    runner.invoke(app, ["db", "upgrade"])
    r = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "Prof@Example.org",
            "--password",
            "long enough pw",
            "--role",
            "instructor",
            "--token",
        ],
    )
    assert r.exit_code == 0, r.output
    token = r.output.split("store it now): ", 1)[1].split()[0]
    engine = make_engine(cli_env)
    with Session(engine) as db:
        user = accounts.resolve_api_token(db, token=token)
        assert user is not None and user.email == "prof@example.org" and user.is_instructor
    engine.dispose()
    again = runner.invoke(
        app, ["users", "create", "--email", "prof@example.org", "--password", "long enough pw"]
    )
    assert again.exit_code == 1 and "already exists" in again.output


def test_users_create_prompts_for_password(cli_env: Settings) -> None:
    runner.invoke(app, ["db", "upgrade"])
    r = runner.invoke(
        app,
        ["users", "create", "--email", "l@example.org", "--prompt"],
        input="prompted password\nprompted password\n",
    )
    assert r.exit_code == 0, r.output
    assert [u.role for u in _users(cli_env)] == [Role.LEARNER]
    missing = runner.invoke(app, ["users", "create", "--email", "m@example.org"])
    assert missing.exit_code == 2 and "--password or --prompt" in missing.output


def test_demo_seed_is_idempotent(cli_env: Settings) -> None:
    runner.invoke(app, ["db", "upgrade"])
    first = runner.invoke(app, ["demo", "seed"])
    second = runner.invoke(app, ["demo", "seed"])
    assert first.exit_code == second.exit_code == 0
    assert "instructor@servelab.test / demo-instructor-pass" in second.output
    users = _users(cli_env)
    assert [(u.email, u.role) for u in users] == [
        ("instructor@servelab.test", Role.INSTRUCTOR),
        ("learner@servelab.test", Role.LEARNER),
    ]


def test_demo_seed_refused_in_production(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVELAB_ENVIRONMENT", "production")
    monkeypatch.setenv("SERVELAB_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("SERVELAB_HTTPS", "true")
    get_settings.cache_clear()
    r = runner.invoke(app, ["demo", "seed"])
    assert r.exit_code == 1 and "Refusing" in r.output


def test_serve_refuses_invalid_content_with_the_same_messages(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.invoke(app, ["db", "upgrade"])
    folder = FIXTURES / "missing_section"
    monkeypatch.setenv("SERVELAB_EXERCISES_DIR", str(folder))
    get_settings.cache_clear()
    check = runner.invoke(app, ["content", "check"])
    serve = runner.invoke(app, ["serve", "--port", "1"])
    assert check.exit_code == serve.exit_code == 1
    message = f"{folder / 'tiny' / 'lesson.md'}:33: missing section '## Common mistakes'"
    assert message in check.output and message in serve.output


def test_serve_refuses_an_unmigrated_database(cli_env: Settings) -> None:
    r = runner.invoke(app, ["serve", "--port", "1"])
    assert r.exit_code == 1 and "servelab db upgrade" in r.output


@pytest.mark.slow
def test_serve_prints_url_and_demo_logins_and_serves_the_course(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SERVELAB_VAR_DIR": str(tmp_path / "var"), "SERVELAB_PORT": str(port)}
    cli = [sys.executable, "-m", "servelab"]
    for args in (["db", "upgrade"], ["demo", "seed"]):
        subprocess.run([*cli, *args], env=env, check=True, capture_output=True, timeout=120)
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen([*cli, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, Path(log.name).read_text()
            time.sleep(0.3)
        lesson = httpx.get(f"http://127.0.0.1:{port}/lessons/fastapi-for-ml-apis", timeout=10)
        assert lesson.status_code == 200 and 'id="interview-questions"' in lesson.text
        output = Path(log.name).read_text()
        assert f"ServeLab is running on http://127.0.0.1:{port}" in output
        assert "demo login: learner@servelab.test / demo-learner-pass" in output
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
