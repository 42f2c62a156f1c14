"""CLI: serve, db, content, users, demo. Thin commands over the modules that do the work."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.accounts.security import verify_password
from servelab.content.errors import ContentErrors
from servelab.db import migrate
from servelab.db.engine import make_engine
from servelab.db.models import Role, User
from servelab.settings import Settings, get_settings

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
content_app = typer.Typer(help="Course content authored under exercises/.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts and API tokens.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data for trying ServeLab locally.", no_args_is_help=True)

# Development-only logins; `demo seed` refuses to run in production.
DEMO_ACCOUNTS: tuple[tuple[str, str, Role, str], ...] = (
    ("instructor@servelab.test", "demo-instructor-pass", Role.INSTRUCTOR, "Demo Instructor"),
    ("learner@servelab.test", "demo-learner-pass", Role.LEARNER, "Demo Learner"),
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _report_content_errors(exc: ContentErrors) -> typer.Exit:
    for error in exc.errors:
        typer.echo(str(error), err=True)
    return _fail(f"{len(exc.errors)} content error(s); fix them and run `servelab content check`.")


def _session(settings: Settings) -> Session:
    return Session(make_engine(settings))


def _schema_is_current(settings: Settings) -> tuple[bool, str]:
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import SQLAlchemyError

    head = ScriptDirectory.from_config(migrate.alembic_config(settings)).get_current_head()
    try:
        current = migrate.current_revision(settings)
    except SQLAlchemyError as exc:
        return False, f"cannot open the database {_redacted(settings)}: {type(exc).__name__}"
    return current == head, f"database at {current or 'an empty schema'}, code expects {head}"


# --- serve ----------------------------------------------------------------------------------


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (SERVELAB_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (SERVELAB_PORT).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Web processes sharing the port (uvicorn workers). More than one needs the "
            "limits in Redis (SERVELAB_REDIS_URL) in production.",
        ),
    ] = 1,
) -> None:
    """Start the web app (refuses to start on invalid content or an old database schema)."""
    import uvicorn

    from servelab.web.app import create_app

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    _configure_logging(settings)
    current, detail = _schema_is_current(settings)
    if not current:
        raise _fail(f"The database schema is not current ({detail}). Run `servelab db upgrade`.")
    try:
        web_app = create_app(settings)  # each worker builds its own; this checks the content
    except ContentErrors as exc:
        raise _report_content_errors(exc) from exc
    if workers > 1:
        _check_several_workers(settings, workers)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.secho(f"ServeLab is running on http://{shown_host}:{port}", fg=typer.colors.GREEN)
    for email, password in _demo_logins(settings):
        typer.echo(f"  demo login: {email} / {password}")
    if workers == 1:
        uvicorn.run(web_app, host=host, port=port, access_log=False, log_config=None)
        return
    # Several processes: uvicorn starts each from an import string, so each builds its own
    # app (engine, pools) after the fork; the parent only supervises and restarts them.
    uvicorn.run(
        "servelab.cli.core:served_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
    )


def served_app() -> FastAPI:
    """The app of one of `serve --workers N`'s processes (uvicorn calls it in each)."""
    from servelab.web.app import create_app

    settings = get_settings()
    _configure_logging(settings)
    return create_app(settings)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # /readyz checks the schema often


def _check_several_workers(settings: Settings, workers: int) -> None:
    """Several web processes count logins and streams together only in Redis: refuse
    per-process limits in production (a guesser would get `workers` times the tries)."""
    from servelab.grading.worker import embedded_pool_enabled

    if settings.limits_backend == "memory":
        if settings.environment == "production":
            raise _fail(
                f"--workers {workers} needs the login throttle and stream limits in Redis: "
                "set SERVELAB_REDIS_URL (or SERVELAB_LIMITS_BACKEND=redis)."
            )
        typer.secho(
            f"Note: the login throttle and stream limits are counted per process ({workers} "
            "processes); set SERVELAB_REDIS_URL to share them.",
            fg=typer.colors.YELLOW,
        )
    if embedded_pool_enabled(settings):
        typer.secho(
            f"Note: each of the {workers} processes runs its own grading pool of "
            f"{settings.worker_count} (up to {workers * settings.worker_count} at once); set "
            "SERVELAB_EMBEDDED_WORKER=false and run `servelab worker` to grade elsewhere.",
            fg=typer.colors.YELLOW,
        )


def _demo_logins(settings: Settings) -> list[tuple[str, str]]:
    """Demo accounts that still have their demo password (so the printed login works)."""
    if settings.environment == "production":
        return []
    shown = []
    with _session(settings) as db:
        for email, password, _role, _name in DEMO_ACCOUNTS:
            user = accounts.get_user_by_email(db, email=email)
            if user and verify_password(user.password_hash, password):
                shown.append((email, password))
    return shown


# --- db -------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the database schema to the latest revision."""
    settings = get_settings()
    migrate.upgrade(settings, revision)
    typer.echo(f"Database at {migrate.current_revision(settings)} ({_redacted(settings)})")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and whether it is the latest."""
    settings = get_settings()
    ok, detail = _schema_is_current(settings)
    typer.echo(detail + (" (up to date)" if ok else " (run `servelab db upgrade`)"))
    if not ok:
        raise typer.Exit(1)


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, or 'base'.")],
) -> None:
    """Migrate the schema down to REVISION (data in dropped tables is lost)."""
    settings = get_settings()
    migrate.downgrade(settings, revision)
    typer.echo(f"Database at {migrate.current_revision(settings) or 'base'}")


def _redacted(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


# --- content --------------------------------------------------------------------------------


@content_app.command("check")
def content_check(
    exercises_dir: Annotated[
        Path | None, typer.Option(help="Folder of lessons (SERVELAB_EXERCISES_DIR).")
    ] = None,
) -> None:
    """Load and validate every lesson, quiz and exercise; print file:line: message per mistake."""
    from servelab.content.loader import load_course

    root = exercises_dir or get_settings().exercises_dir
    try:
        course = load_course(root)
    except ContentErrors as exc:
        raise _report_content_errors(exc) from exc
    typer.echo(
        f"Content OK: {len(course.lessons)} lessons, {len(course.quizzes)} quizzes, "
        f"{len(course.exercises)} exercises in {root}"
    )


# --- users ----------------------------------------------------------------------------------


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Login email.")],
    password: Annotated[
        str | None, typer.Option(help="Password (prefer --prompt: arguments show up in ps).")
    ] = None,
    prompt: Annotated[bool, typer.Option("--prompt", help="Ask for the password.")] = False,
    role: Annotated[Role, typer.Option(help="learner or instructor.")] = Role.LEARNER,
    display_name: Annotated[str, typer.Option(help="Name shown in the app.")] = "",
    token: Annotated[bool, typer.Option("--token", help="Also issue an API token.")] = False,
) -> None:
    """Create an account (and optionally an API token, printed once)."""
    if prompt:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise _fail("Give a password with --password or --prompt.", code=2)
    with _session(get_settings()) as db:
        try:
            user = accounts.create_user(
                db, email=email, password=password, display_name=display_name, role=role
            )
        except accounts.AccountError as exc:
            raise _fail(str(exc)) from exc
        typer.echo(f"Created {user.role} {user.email} (id {user.id})")
        if token:
            _print_token(accounts.create_api_token(db, user=user, name="cli"))


@users_app.command("token")
def users_token(
    email: Annotated[str, typer.Option(help="Email of an existing account.")],
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "cli",
) -> None:
    """Issue a new API token for an existing account (printed once)."""
    with _session(get_settings()) as db:
        user = accounts.get_user_by_email(db, email=email)
        if user is None:
            raise _fail(f"No account with email {email}.")
        _print_token(accounts.create_api_token(db, user=user, name=name))


def _print_token(token: str) -> None:
    typer.echo(f"API token (shown once, store it now): {token}")


@users_app.command("list")
def users_list() -> None:
    """List accounts: id, role, email."""
    from sqlmodel import col, select

    with _session(get_settings()) as db:
        for user in db.exec(select(User).order_by(col(User.id))).all():
            typer.echo(f"{user.id}\t{user.role}\t{user.email}")


# --- demo -----------------------------------------------------------------------------------


@demo_app.command("seed")
def demo_seed() -> None:
    """Create (or reset) a demo instructor and learner and print their logins. Idempotent."""
    settings = get_settings()
    if settings.environment == "production":
        raise _fail("Refusing to create demo accounts with known passwords in production.")
    with _session(settings) as db:
        for email, password, role, name in DEMO_ACCOUNTS:
            user = accounts.get_user_by_email(db, email=email)
            if user is None:
                accounts.create_user(
                    db, email=email, password=password, display_name=name, role=role
                )
            else:
                accounts.reset_password(db, user=user, password=password)
                user.role = role
                db.add(user)
                db.commit()
            typer.echo(f"demo {role.value}: {email} / {password}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("serve")(serve)
    app.add_typer(db_app, name="db")
    app.add_typer(content_app, name="content")
    app.add_typer(users_app, name="users")
    app.add_typer(demo_app, name="demo")
