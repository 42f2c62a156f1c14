"""Routes: the submissions JSON API (`/api/submissions`), authenticated by API token or session.

Learners get only their own submissions and only `results.learner_view` of a result.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session
from starlette.responses import Response

from servelab.content.loader import Course
from servelab.db.models.grading import Submission
from servelab.grading import views
from servelab.grading.intake import SubmissionRefused, TextFiles, Upload, ZipUpload, accept
from servelab.listing import bounded_join
from servelab.web.deps import CsrfProtected, CurrentUser, RowId, SessionDep
from servelab.web.routes.grading_common import (
    LoggedIn,
    UploadLimit,
    course_of,
    form_text,
    iso,
    read_upload,
    visible_or_404,
    wake_workers,
)

router = APIRouter()
_SHOWN = 80  # characters of a field path quoted back (the learner chose the file names)


class ApiSubmission(BaseModel):
    """JSON body of POST /api/submissions: the files as text, like the browser editor."""

    model_config = ConfigDict(extra="forbid")

    exercise: str = Field(min_length=1, max_length=100)
    files: dict[str, str] = Field(min_length=1, max_length=500)


def _api_error(
    message: str, status_code: int, *, retry_after_seconds: int | None = None
) -> JSONResponse:
    headers = {"Retry-After": str(retry_after_seconds)} if retry_after_seconds else None
    return JSONResponse({"detail": message}, status_code=status_code, headers=headers)


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
    course = course_of(request)
    settings = request.app.state.settings
    content_type = request.headers.get("content-type", "")
    upload: Upload
    try:
        if content_type.startswith("application/json"):
            try:
                body = ApiSubmission.model_validate_json(await request.body())
            except ValidationError as exc:
                problems = bounded_join(
                    [
                        f"{'.'.join(str(p) for p in e['loc'])[:_SHOWN] or 'body'}: {e['msg']}"
                        for e in exc.errors()
                    ],
                    "; ",
                )
                return _api_error(f"Invalid submission body: {problems}", 422)
            slug, upload = body.exercise, TextFiles(body.files)
        elif content_type.startswith("multipart/form-data"):
            form = await request.form()
            slug = form_text(form.get("exercise"))
            data = await read_upload(form.get("archive"))
            if not slug:
                return _api_error("Send the exercise slug in the form field `exercise`.", 422)
            if form.get("archive") is None:
                return _api_error("Send the .zip in the multipart form field `archive`.", 422)
            upload = ZipUpload(data)
        else:
            return _api_error(
                "Send application/json with `exercise` and `files`, or multipart/form-data "
                "with `exercise` and an `archive` .zip.",
                415,
            )
        submission = await run_in_threadpool(
            lambda: accept(
                db, settings=settings, course=course, user=user, exercise_slug=slug, upload=upload
            )
        )
    except SubmissionRefused as exc:
        return _api_error(exc.message, exc.status_code, retry_after_seconds=exc.retry_after_seconds)
    wake_workers(request)
    return JSONResponse(
        _api_view(db, course, submission),
        status_code=201,
        headers={"Location": f"/api/submissions/{submission.id}"},
    )


def _api_view(db: Session, course: Course, submission: Submission) -> dict[str, Any]:
    """The learner's JSON view of a submission (what GET /api/submissions/{id} returns)."""
    assert submission.id is not None
    exercise = course.exercises.get(submission.exercise_slug)
    result = views.learner_result(submission, exercise)
    score, max_score = views.learner_score(submission, exercise)
    state = submission.state
    return {
        "id": submission.id,
        "exercise": submission.exercise_slug,
        "status": state.value,
        "final": state.is_final,
        "queued_ahead": views.queue_position(db, submission=submission),
        "score": score,
        "max_score": max_score,
        "message": submission.learner_message or "",
        "log_excerpt": views.learner_log_excerpt(submission),
        "submitted_at": iso(submission.requested_at),
        "graded_at": iso(submission.graded_at),
        "phase_seconds": views.phase_seconds(submission),
        "events": [
            {"status": step.status, "at": iso(step.at)}
            for step in views.timeline(db, submission_id=submission.id, with_details=False)
        ],
        "result": result.model_dump(mode="json") if result is not None else None,
        "page": f"/submissions/{submission.id}",
    }


@router.get("/api/submissions")
def api_list(
    request: Request, user: CurrentUser, db: SessionDep, exercise: str | None = None
) -> list[dict[str, Any]]:
    """Your submissions, newest first, optionally of one exercise (fetch one for its result)."""
    exercises = course_of(request).exercises
    rows = []
    for s in views.list_submissions(db, user_id=user.id, exercise_slug=exercise):
        score, max_score = views.learner_score(s, exercises.get(s.exercise_slug))
        rows.append(
            {
                "id": s.id,
                "exercise": s.exercise_slug,
                "status": s.status,
                "score": score,
                "max_score": max_score,
                "submitted_at": iso(s.requested_at),
                "url": f"/api/submissions/{s.id}",
            }
        )
    return rows


@router.get("/api/submissions/{submission_id}")
def api_detail(
    request: Request, submission_id: RowId, user: CurrentUser, db: SessionDep
) -> dict[str, Any]:
    submission = visible_or_404(db, user, submission_id)
    return _api_view(db, course_of(request), submission)
