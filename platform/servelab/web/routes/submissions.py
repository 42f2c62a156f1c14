"""Routes: exercise pages, starter download, the submit forms, results and live progress.

The JSON API (`submissions_api`) and the instructor pages (`instructor_grading`) are
included here. Uploads are size-checked from the request headers and a capped read before
any form is parsed. A learner only ever sees their own submissions (anyone else's id is a 404), and
only `results.learner_view` of a result: no raw output, no hidden checks, no hidden data.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.responses import Response

from servelab.content import markdown
from servelab.content.exercise import EDITOR_FILES, starter_files, starter_texts, starter_zip
from servelab.content.loader import ExerciseFiles
from servelab.db.models import User
from servelab.db.models.grading import Submission
from servelab.grading import queue, views
from servelab.grading.archive import MAX_COMPRESSED
from servelab.grading.intake import SubmissionRefused, TextFiles, Upload, ZipUpload, accept
from servelab.grading.limits import SandboxLimits
from servelab.grading.runtime import featured_packages, runtime_packages
from servelab.grading.submission_limits import MAX_ACTIVE_SUBMISSIONS
from servelab.web.deps import (
    CsrfProtected,
    CurrentUser,
    EngineDep,
    OptionalUser,
    RowId,
    SessionDep,
    get_auth,
    get_current_user,
)
from servelab.web.routes import instructor_grading, submissions_api
from servelab.web.routes.grading_common import (
    LoggedIn,
    UploadLimit,
    course_of,
    exercise_files_or_404,
    form_text,
    iso,
    read_upload,
    visible_or_404,
    wake_workers,
)
from servelab.web.streams import SlotStreamingResponse, StreamRefused, StreamSlotsDep
from servelab.web.templating import render

router = APIRouter()
router.include_router(submissions_api.router)
router.include_router(instructor_grading.router)

SSE_POLL_SECONDS = 0.5
SSE_MAX_SECONDS = 30 * 60
SSE_HEARTBEAT_SECONDS = 15
PAGE_REFRESH_SECONDS = 3


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
    *,
    slug: str,
    user: User | None,
    error: str | None = None,
    editor: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    course = course_of(request)
    files = exercise_files_or_404(course, slug)
    exercise = files.exercise
    mine = (
        views.list_submissions(db, user_id=user.id, exercise_slug=slug) if user is not None else []
    )
    instructions = instructions_html(files)
    return render(
        request,
        "exercise.html",
        {
            "slug": slug,
            "exercise": exercise,
            "instructions_html": instructions,
            # exercise.md usually opens with its own `# Title`: then it is the page's heading.
            "instructions_have_title": instructions.lstrip().startswith("<h1"),
            "limits": SandboxLimits.from_exercise(exercise.limits),
            "packages": featured_packages(),
            "all_packages": runtime_packages(),
            "editor": editor or starter_texts(files.starter_dir),
            "starter_files": list(starter_files(files.starter_dir)),
            "lesson": course.lessons.get(slug),
            "submissions": mine[:5],
            "best": views.best_graded(mine, course.exercises),
            "learner_score": views.learner_score,
            "exercises": course.exercises,
            "max_upload_mib": MAX_COMPRESSED // 2**20,
            "max_active": MAX_ACTIVE_SUBMISSIONS,
            "per_hour": exercise.limits.submissions_per_hour,
            "error": error,
        },
        user=user,
        status_code=status_code,
    )


@router.get("/exercises/{slug}", include_in_schema=False)
def exercise_page(request: Request, slug: str, user: OptionalUser, db: SessionDep) -> Response:
    return _exercise_page(request, db, slug=slug, user=user)


@router.get("/exercises/{slug}/starter.zip", include_in_schema=False)
def starter_download(request: Request, slug: str) -> Response:
    files = exercise_files_or_404(course_of(request), slug)
    return Response(
        starter_zip(files.starter_dir),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{slug}-starter.zip"'},
    )


@router.post(
    "/exercises/{slug}/submissions",
    include_in_schema=False,
    dependencies=[LoggedIn, UploadLimit, CsrfProtected],
)
async def submit_form(request: Request, slug: str, user: CurrentUser, db: SessionDep) -> Response:
    """The exercise page's two forms: a .zip upload (source=zip) or the editor (source=editor)."""
    course = course_of(request)
    exercise_files_or_404(course, slug)
    form = await request.form()
    settings = request.app.state.settings
    editor = None
    try:
        upload: Upload
        if form.get("source") == "editor":
            editor = {name: form_text(form.get(_editor_field(name))) for name in EDITOR_FILES}
            upload = TextFiles(editor)
        else:
            upload = ZipUpload(await read_upload(form.get("archive")))
        submission = await run_in_threadpool(
            lambda: accept(
                db, settings=settings, course=course, user=user, exercise_slug=slug, upload=upload
            )
        )
    except SubmissionRefused as exc:
        page = _exercise_page(
            request,
            db,
            slug=slug,
            user=user,
            error=exc.message,
            editor=editor,
            status_code=exc.status_code,
        )
        if exc.retry_after_seconds:
            page.headers["Retry-After"] = str(exc.retry_after_seconds)
        return page
    wake_workers(request)
    return RedirectResponse(f"/submissions/{submission.id}", status_code=status.HTTP_303_SEE_OTHER)


def _editor_field(name: str) -> str:
    """`train.py` -> `train_py`: the editor's textarea names."""
    return name.replace(".", "_")


@router.get("/submissions", include_in_schema=False)
def my_submissions(request: Request, user: CurrentUser, db: SessionDep) -> Response:
    course = course_of(request)
    return render(
        request,
        "submissions/list.html",
        {
            "submissions": views.list_submissions(db, user_id=user.id),
            "exercises": course.exercises,
            "learner_score": views.learner_score,
        },
        user=user,
    )


@router.get("/submissions/{submission_id}", include_in_schema=False)
def submission_page(
    request: Request, submission_id: RowId, user: CurrentUser, db: SessionDep
) -> Response:
    submission = visible_or_404(db, user, submission_id)
    course = course_of(request)
    exercise = course.exercises.get(submission.exercise_slug)
    return render(
        request,
        "submissions/detail.html",
        {
            "submission": submission,
            "exercise": exercise,
            "result": views.learner_result(submission, exercise),
            "timeline": views.timeline(db, submission_id=submission_id, with_details=False),
            "phase_seconds": views.learner_phase_seconds(submission),
            "log_excerpt": views.learner_log_excerpt(submission),
            "ahead": views.queue_position(db, submission=submission),
            "final": submission.state.is_final,
            "refresh_seconds": PAGE_REFRESH_SECONDS,
            "own": submission.user_id == user.id,
        },
        user=user,
    )


def _sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n"


def _poll(engine: Any, submission_id: int, after_event_id: int) -> tuple[str, list[dict], bool]:
    with Session(engine) as db:
        submission = db.get(Submission, submission_id)
        if submission is None:
            return "gone", [], True
        events = [
            {"id": e.id, "status": e.status, "at": iso(e.at)}
            for e in queue.get_events(db, submission_id=submission_id)
            if (e.id or 0) > after_event_id
        ]
        return submission.status, events, submission.state.is_final


async def _status_stream(engine: Any, submission_id: int, after: int) -> AsyncIterator[str]:
    """Each new transition as an SSE `status` event; a final `done` event, then the end."""
    yield f"retry: {PAGE_REFRESH_SECONDS * 1000}\n\n"
    waited = since_heartbeat = 0.0
    while True:
        current, events, final = await anyio.to_thread.run_sync(_poll, engine, submission_id, after)
        for event in events:
            after = event["id"]
            yield _sse("status", event, event["id"])
        if final:
            yield _sse("done", {"status": current, "page": f"/submissions/{submission_id}"})
            return
        if waited >= SSE_MAX_SECONDS:
            yield _sse("timeout", {"status": current, "page": f"/submissions/{submission_id}"})
            return
        if since_heartbeat >= SSE_HEARTBEAT_SECONDS:
            since_heartbeat = 0.0
            yield ": still waiting\n\n"
        await anyio.sleep(SSE_POLL_SECONDS)
        waited += SSE_POLL_SECONDS
        since_heartbeat += SSE_POLL_SECONDS


@router.get("/submissions/{submission_id}/events", include_in_schema=False)
def submission_events(
    request: Request, submission_id: RowId, engine: EngineDep, slots: StreamSlotsDep
) -> Response:
    """Server-Sent Events: status changes until a final state (the page also works without).

    The stream holds no database connection: who is asking is checked in a session closed
    before streaming starts, and each poll opens its own short one. Open streams are
    capped per person and in total (429; the page then refreshes by itself).
    """
    with Session(engine) as db:
        user = get_current_user(request, get_auth(request, db))
        visible_or_404(db, user, submission_id)
        user_id = user.id or 0
    slot = slots.acquire(user_id)
    if isinstance(slot, StreamRefused):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            slot.message,
            headers={"Retry-After": str(slot.retry_after)},
        )
    last = request.headers.get("last-event-id", "")
    after = int(last) if last.isascii() and last.isdigit() else 0
    return SlotStreamingResponse(
        _status_stream(engine, submission_id, after),
        release=slot,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
