"""Routes: exercise pages, starter download, submissions (form and API), results and progress.

Uploads are size-checked from the request headers and a capped read before any form is
parsed. A learner only ever sees their own submissions (anyone else's id is a 404), and
only `results.learner_view` of a result: no raw output, no hidden checks, no hidden data.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.responses import Response, StreamingResponse

from servelab.content import markdown
from servelab.content.exercise import Exercise
from servelab.content.loader import Course
from servelab.db.models import User
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import service
from servelab.grading.archive import MAX_COMPRESSED
from servelab.grading.limits import SandboxLimits
from servelab.grading.runtime import featured_packages, runtime_packages
from servelab.web.deps import (
    CsrfProtected,
    CurrentUser,
    OptionalUser,
    SessionDep,
    get_current_user,
)
from servelab.web.routes import instructor_grading
from servelab.web.templating import render

router = APIRouter()
router.include_router(instructor_grading.router)

# Room for the multipart envelope and the editor's text fields around a maximal archive.
MAX_BODY_BYTES = MAX_COMPRESSED + 512 * 1024
SSE_POLL_SECONDS = 0.5
SSE_MAX_SECONDS = 30 * 60
SSE_HEARTBEAT_SECONDS = 15
PAGE_REFRESH_SECONDS = 3


def _course(request: Request) -> Course:
    return request.app.state.course


def _exercise_or_404(course: Course, slug: str) -> Exercise:
    try:
        return service.get_exercise(course, slug)
    except service.SubmissionRefused as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, exc.message) from None


def _too_large(size: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"The upload is {size / 2**20:.1f} MiB; the limit is {MAX_COMPRESSED // 2**20} MiB for "
        "the archive. Leave data and trained models out: train.py builds the model from DATA_DIR.",
    )


async def limit_body(request: Request) -> None:
    """Refuse oversized uploads before they are parsed (declared length, then a capped read)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "Invalid Content-Length header.")
        if int(declared) > MAX_BODY_BYTES:
            raise _too_large(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large(size)
        chunks.append(chunk)
    # Starlette reads a cached body back for form() and json(): parse only what was capped.
    request._body = b"".join(chunks)


UploadLimit = Depends(limit_body)
# Resolved first on upload routes, so nobody uploads anything before proving who they are.
LoggedIn = Depends(get_current_user)


@lru_cache(maxsize=32)
def _instructions_html(path: str, _mtime_ns: int) -> str:
    return markdown.render(Path(path).read_text(encoding="utf-8"))


def instructions_html(course: Course, slug: str, exercise: Exercise) -> str:
    path = service.exercise_folder(course, slug) / exercise.instructions
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
    course = _course(request)
    exercise = _exercise_or_404(course, slug)
    mine = (
        service.list_submissions(db, user_id=user.id, exercise_slug=slug)[:5]
        if user is not None
        else []
    )
    instructions = instructions_html(course, slug, exercise)
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
            "editor": editor or service.starter_texts(course, slug),
            "starter_files": list(service.starter_files(course, slug)),
            "has_lesson": slug in course.lessons,
            "submissions": mine,
            "max_upload_mib": MAX_COMPRESSED // 2**20,
            "max_active": service.MAX_ACTIVE_SUBMISSIONS,
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
    course = _course(request)
    _exercise_or_404(course, slug)
    return Response(
        service.starter_zip(course, slug),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{slug}-starter.zip"'},
    )


def _form_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


async def _read_upload(value: Any) -> bytes:
    if not isinstance(value, UploadFile):
        return b""
    data = await value.read(MAX_COMPRESSED + 1)
    if len(data) > MAX_COMPRESSED:
        raise _too_large(len(data))
    return data


@router.post(
    "/exercises/{slug}/submissions",
    include_in_schema=False,
    dependencies=[LoggedIn, UploadLimit, CsrfProtected],
)
async def submit_form(request: Request, slug: str, user: CurrentUser, db: SessionDep) -> Response:
    """The exercise page's two forms: a .zip upload (source=zip) or the editor (source=editor)."""
    course = _course(request)
    _exercise_or_404(course, slug)
    form = await request.form()
    settings = request.app.state.settings
    editor = None
    try:
        if form.get("source") == "editor":
            editor = {
                name: _form_text(form.get(_editor_field(name))) for name in service.EDITOR_FILES
            }
            submission = await run_in_threadpool(
                lambda: service.create_submission_from_files(
                    db,
                    settings=settings,
                    course=course,
                    user=user,
                    exercise_slug=slug,
                    files=editor,
                )
            )
        else:
            data = await _read_upload(form.get("archive"))
            submission = await run_in_threadpool(
                lambda: service.create_submission_from_zip(
                    db, settings=settings, course=course, user=user, exercise_slug=slug, data=data
                )
            )
    except service.SubmissionRefused as exc:
        return _exercise_page(
            request,
            db,
            slug=slug,
            user=user,
            error=exc.message,
            editor=editor,
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/submissions/{submission.id}", status_code=status.HTTP_303_SEE_OTHER)


def _editor_field(name: str) -> str:
    """`train.py` -> `train_py`: the editor's textarea names."""
    return name.replace(".", "_")


class ApiSubmission(BaseModel):
    """JSON body of POST /api/submissions: the files as text, like the browser editor."""

    model_config = ConfigDict(extra="forbid")

    exercise: str = Field(min_length=1, max_length=100)
    files: dict[str, str] = Field(min_length=1, max_length=500)


def _api_error(message: str, status_code: int) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status_code)


_API_SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ApiSubmission.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["exercise", "archive"],
                    "properties": {
                        "exercise": {"type": "string"},
                        "archive": {"type": "string", "format": "binary"},
                    },
                }
            },
        },
    }
}


@router.post(
    "/api/submissions",
    status_code=201,
    dependencies=[LoggedIn, UploadLimit, CsrfProtected],
    openapi_extra=_API_SUBMIT_BODY,
)
async def api_submit(request: Request, user: CurrentUser, db: SessionDep) -> Response:
    """Submit by API token: JSON `{"exercise", "files": {name: text}}`, or multipart with
    fields `exercise` and `archive` (a .zip)."""
    course = _course(request)
    settings = request.app.state.settings
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            try:
                body = ApiSubmission.model_validate_json(await request.body())
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                    for e in exc.errors()
                )
                return _api_error(f"Invalid submission body: {problems}", 422)
            submission = await run_in_threadpool(
                lambda: service.create_submission_from_files(
                    db,
                    settings=settings,
                    course=course,
                    user=user,
                    exercise_slug=body.exercise,
                    files=body.files,
                )
            )
        elif content_type.startswith("multipart/form-data"):
            form = await request.form()
            slug = _form_text(form.get("exercise"))
            data = await _read_upload(form.get("archive"))
            if not slug:
                return _api_error("Send the exercise slug in the form field `exercise`.", 422)
            submission = await run_in_threadpool(
                lambda: service.create_submission_from_zip(
                    db, settings=settings, course=course, user=user, exercise_slug=slug, data=data
                )
            )
        else:
            return _api_error(
                "Send application/json with `exercise` and `files`, or multipart/form-data "
                "with `exercise` and an `archive` .zip.",
                415,
            )
    except service.SubmissionRefused as exc:
        return _api_error(exc.message, exc.status_code)
    return JSONResponse(
        _api_view(db, course, submission),
        status_code=201,
        headers={"Location": f"/api/submissions/{submission.id}"},
    )


def _visible_or_404(db: Session, user: User, submission_id: int) -> Submission:
    submission = service.visible_submission(db, user=user, submission_id=submission_id)
    if submission is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"There is no submission {submission_id} of yours."
        )
    return submission


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _api_view(db: Session, course: Course, submission: Submission) -> dict[str, Any]:
    """The learner's JSON view of a submission (what GET /api/submissions/{id} returns)."""
    assert submission.id is not None
    result = service.learner_result(submission, course.exercises.get(submission.exercise_slug))
    state = submission.state
    return {
        "id": submission.id,
        "exercise": submission.exercise_slug,
        "status": state.value,
        "final": state.is_final,
        "score": submission.score if state == SubmissionStatus.GRADED else None,
        "max_score": submission.max_score if state == SubmissionStatus.GRADED else None,
        "message": submission.learner_message or "",
        "log_excerpt": service.learner_log_excerpt(submission),
        "submitted_at": _iso(submission.requested_at),
        "graded_at": _iso(submission.graded_at),
        "phase_seconds": service.phase_seconds(submission),
        "events": [
            {"status": step.status, "at": _iso(step.at)}
            for step in service.timeline(db, submission_id=submission.id, with_details=False)
        ],
        "result": result.model_dump(mode="json") if result is not None else None,
        "page": f"/submissions/{submission.id}",
    }


@router.get("/api/submissions")
def api_list(request: Request, user: CurrentUser, db: SessionDep) -> list[dict[str, Any]]:
    """Your submissions, newest first (summaries; fetch one for its result)."""
    return [
        {
            "id": s.id,
            "exercise": s.exercise_slug,
            "status": s.status,
            "score": s.score if s.status == SubmissionStatus.GRADED else None,
            "max_score": s.max_score if s.status == SubmissionStatus.GRADED else None,
            "submitted_at": _iso(s.requested_at),
            "url": f"/api/submissions/{s.id}",
        }
        for s in service.list_submissions(db, user_id=user.id)
    ]


@router.get("/api/submissions/{submission_id}")
def api_detail(
    request: Request, submission_id: int, user: CurrentUser, db: SessionDep
) -> dict[str, Any]:
    submission = _visible_or_404(db, user, submission_id)
    return _api_view(db, _course(request), submission)


@router.get("/submissions", include_in_schema=False)
def my_submissions(request: Request, user: CurrentUser, db: SessionDep) -> Response:
    course = _course(request)
    return render(
        request,
        "submissions/list.html",
        {
            "submissions": service.list_submissions(db, user_id=user.id),
            "exercises": course.exercises,
        },
        user=user,
    )


@router.get("/submissions/{submission_id}", include_in_schema=False)
def submission_page(
    request: Request, submission_id: int, user: CurrentUser, db: SessionDep
) -> Response:
    submission = _visible_or_404(db, user, submission_id)
    course = _course(request)
    exercise = course.exercises.get(submission.exercise_slug)
    return render(
        request,
        "submissions/detail.html",
        {
            "submission": submission,
            "exercise": exercise,
            "result": service.learner_result(submission, exercise),
            "timeline": service.timeline(db, submission_id=submission_id, with_details=False),
            "phase_seconds": service.learner_phase_seconds(submission),
            "log_excerpt": service.learner_log_excerpt(submission),
            "ahead": service.queue_position(db, submission=submission),
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
            {"id": e.id, "status": e.status, "at": _iso(e.at)}
            for e in service.queue.get_events(db, submission_id=submission_id)
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
    request: Request, submission_id: int, user: CurrentUser, db: SessionDep
) -> Response:
    """Server-Sent Events: status changes until a final state (the page also works without)."""
    _visible_or_404(db, user, submission_id)
    last = request.headers.get("last-event-id", "")
    after = int(last) if last.isdigit() else 0
    return StreamingResponse(
        _status_stream(request.app.state.engine, submission_id, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
