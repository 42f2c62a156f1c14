"""Routes: an exercise's page, its starter download, and the page's two submit forms."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request, status
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.responses import Response

from servelab.content import markdown
from servelab.content.exercise import starter_files, starter_texts, starter_zip
from servelab.content.loader import Course, ExerciseFiles
from servelab.db.models import User
from servelab.grading import due_dates, views
from servelab.grading.archive import MAX_COMPRESSED
from servelab.grading.intake import SubmissionRefused
from servelab.grading.limits import SandboxLimits
from servelab.grading.runtime import featured_packages, runtime_packages
from servelab.grading.submission_limits import MAX_ACTIVE_SUBMISSIONS
from servelab.web import result_page
from servelab.web.deps import CourseDep, CsrfProtected, CurrentUser, OptionalUser, SessionDep
from servelab.web.editor_form import MAX_EDITOR_MODULES, EditorForm
from servelab.web.lookups import ExerciseFilesDep
from servelab.web.security_headers import content_security_policy, new_style_nonce
from servelab.web.submission_input import IntakeDep, LoggedIn, SentSubmissionDep, UploadLimit
from servelab.web.templating import render

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=32)
def _instructions_html(path: str, _mtime_ns: int) -> str:
    return markdown.render(Path(path).read_text(encoding="utf-8"))


def instructions_html(files: ExerciseFiles) -> str:
    path = files.exercise_dir / files.exercise.instructions
    if not path.is_file():
        return ""
    return _instructions_html(str(path), path.stat().st_mtime_ns)


def _exercise_page(
    request: Request,
    db: Session,
    course: Course,
    files: ExerciseFiles,
    *,
    user: User | None,
    refused: SubmissionRefused | None = None,
    editor: EditorForm | None = None,
) -> Response:
    slug = files.slug
    # The learner's own due date (an extension) decides everything due-related on the page.
    exercise = (
        due_dates.learner_exercise(db, files.exercise, exercise_slug=slug, user_id=user.id)
        if user is not None and user.id is not None
        else files.exercise
    )
    exercises = {**course.exercises, slug: exercise}
    # Only a logged-in learner gets the editor form, and with it the editor's style nonce.
    style_nonce = new_style_nonce() if user is not None else None
    mine = (
        views.list_submissions(db, user_id=user.id, exercise_slug=slug) if user is not None else []
    )
    instructions = instructions_html(files)
    history = views.learner_score_history(mine, exercise)
    page = render(
        request,
        "exercise.html",
        {
            "slug": slug,
            "exercise": exercise,
            "class_due": files.exercise.due,
            "instructions_html": instructions,
            # exercise.md usually opens with its own `# Title`: then it is the page's heading.
            "instructions_have_title": instructions.lstrip().startswith("<h1"),
            "limits": SandboxLimits.from_exercise(exercise.limits),
            "packages": featured_packages(),
            "all_packages": runtime_packages(),
            "editor": editor.files if editor else starter_texts(files.starter_dir),
            "editor_modules": editor.modules if editor else (),
            "max_editor_modules": MAX_EDITOR_MODULES,
            "style_nonce": style_nonce,
            # The editor keeps a draft in the browser until a submission newer than this shows.
            "latest_submission_id": mine[0].id if mine else 0,
            "starter_files": list(starter_files(files.starter_dir)),
            # The learner's score history (submissions/_history.html).
            "history": history,
            "history_chart": result_page.history_chart(history) if history else None,
            "lesson": course.lessons.get(slug),
            "submissions": mine[:5],
            "best": views.best_graded(mine, exercises),
            "learner_score": views.learner_score,
            "exercises": exercises,
            "max_upload_mib": MAX_COMPRESSED // 2**20,
            "max_active": MAX_ACTIVE_SUBMISSIONS,
            "per_hour": exercise.limits.submissions_per_hour,
            "error": refused.message if refused else None,
        },
        user=user,
        status_code=refused.status_code if refused else 200,
    )
    if style_nonce is not None:
        page.headers["Content-Security-Policy"] = content_security_policy(style_nonce=style_nonce)
    if refused is not None and refused.retry_after_seconds:
        page.headers["Retry-After"] = str(refused.retry_after_seconds)
    return page


@router.get("/exercises/{slug}")
def exercise_page(
    request: Request, files: ExerciseFilesDep, course: CourseDep, user: OptionalUser, db: SessionDep
) -> Response:
    return _exercise_page(request, db, course, files, user=user)


@router.get("/exercises/{slug}/starter.zip")
def starter_download(files: ExerciseFilesDep) -> Response:
    return Response(
        starter_zip(files.starter_dir),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{files.slug}-starter.zip"'},
    )


@router.post("/exercises/{slug}/submissions", dependencies=[LoggedIn, UploadLimit, CsrfProtected])
async def submit_form(
    request: Request,
    files: ExerciseFilesDep,
    sent: SentSubmissionDep,
    intake: IntakeDep,
    user: CurrentUser,
    db: SessionDep,
) -> Response:
    """The exercise page's two forms: a .zip upload (source=zip) or the editor (source=editor)."""
    try:
        submission = await intake.accept(db, user=user, sent=sent)
    except SubmissionRefused as exc:
        return _exercise_page(
            request, db, intake.course, files, user=user, refused=exc, editor=sent.editor
        )
    return RedirectResponse(f"/submissions/{submission.id}", status_code=status.HTTP_303_SEE_OTHER)
