"""One dependency that reads a submission from a request, whichever way it was sent.

The exercise page sends a form: a .zip (`archive`) or the editor's text fields (`source=editor`),
its exercise named by the URL. The API sends JSON (`{"exercise", "files"}`) or a multipart
form (`exercise` + `archive`). Each becomes one `SentSubmission`, handed to `grading.intake.accept`
by `Intake`. Uploads are size-checked before any form is parsed (`UploadLimit`), and a spooled
upload is handed on as a file, never read whole into memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Any, BinaryIO

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session
from starlette.datastructures import UploadFile

from servelab.content.exercise import EDITOR_FILES
from servelab.content.loader import Course
from servelab.db.models import User
from servelab.db.models.grading import Submission
from servelab.grading.archive import MAX_COMPRESSED
from servelab.grading.intake import SubmissionRefused, TextFiles, Upload, ZipUpload, accept
from servelab.settings import Settings
from servelab.web.body_limit import BodyLimit
from servelab.web.deps import (
    CourseDep,
    GradingPool,
    PoolDep,
    SettingsDep,
    get_current_user,
    wake_workers,
)
from servelab.web.editor_form import EditorForm, editor_field, read_editor_form

# Room for the multipart envelope and the editor's text fields around a maximal archive.
MAX_BODY_BYTES = MAX_COMPRESSED + 512 * 1024


def upload_refusal(size: int) -> str:
    return (
        f"The upload is {size / 2**20:.1f} MiB; the limit is {MAX_COMPRESSED // 2**20} MiB for "
        "the archive. Leave data and trained models out: train.py builds the model from DATA_DIR."
    )


# The upload routes' own body limit, larger than the app's (web/body_limit.py enforces it:
# a declared length over it is refused unread, a chunked body once it passes it).
UploadLimit = Depends(BodyLimit(MAX_BODY_BYTES, upload_refusal))
# Resolved first on upload routes, so nobody uploads anything before proving who they are.
LoggedIn = Depends(get_current_user)


class ApiSubmission(BaseModel):
    """JSON body of POST /api/v1/submissions: the files as text, like the browser editor."""

    model_config = ConfigDict(extra="forbid")

    exercise: str = Field(min_length=1, max_length=100)
    files: dict[str, str] = Field(min_length=1, max_length=500)


API_SUBMIT_BODY = {
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


@dataclass(frozen=True)
class SentSubmission:
    """A submission as sent, before any check: which exercise, and its files."""

    exercise_slug: str
    upload: Upload
    editor: EditorForm | None = None  # the editor form as sent, to show again on a refusal


def _missing(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "missing"}])


async def read_submission(request: Request) -> SentSubmission:
    """The submission in the request body; 415 for a body of another type, 422 for a body
    that lacks its parts (the exercise page's missing file is `accept`'s refusal instead)."""
    path_slug = request.path_params.get("slug")
    content_type = request.headers.get("content-type", "")
    if path_slug is None and content_type.startswith("application/json"):
        try:
            body = ApiSubmission.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            ) from None
        return SentSubmission(body.exercise, TextFiles(body.files))
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "Send application/json with `exercise` and `files`, or multipart/form-data "
            "with `exercise` and an `archive` .zip.",
        )
    form = await request.form()  # parsed once: the CSRF check has read it already
    slug = path_slug if path_slug is not None else _text(form.get("exercise"))
    if form.get("source") == "editor":
        editor = read_editor_form(
            {name: _text(form.get(editor_field(name))) for name in EDITOR_FILES},
            [_text(value) for value in form.getlist("module_name")],
            [_text(value) for value in form.getlist("module_text")],
        )
        return SentSubmission(slug, TextFiles(editor.all_files()), editor)
    if path_slug is None and not slug:
        raise _missing("exercise", "Send the exercise slug in the form field `exercise`.")
    if path_slug is None and form.get("archive") is None:
        raise _missing("archive", "Send the .zip in the multipart form field `archive`.")
    return SentSubmission(slug, ZipUpload(await _spooled_upload(form.get("archive"))))


SentSubmissionDep = Annotated[SentSubmission, Depends(read_submission)]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


async def _spooled_upload(value: Any) -> BinaryIO | None:
    """The uploaded archive as the parser spooled it (in memory up to 1 MiB, on disk beyond),
    size-checked; the archive code reads it a piece at a time, never whole."""
    if not isinstance(value, UploadFile):
        return None
    size = value.size if value.size is not None else await run_in_threadpool(_size, value.file)
    if size > MAX_COMPRESSED:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, upload_refusal(size))
    await value.seek(0)
    return value.file


def _size(file: BinaryIO) -> int:
    size = file.seek(0, os.SEEK_END)
    file.seek(0)
    return size


@dataclass(frozen=True)
class Intake:
    """`grading.intake.accept` with the app's settings and course, off the event loop; wakes
    the embedded grading pool once a submission is queued."""

    settings: Settings
    course: Course
    pool: GradingPool | None

    async def accept(self, db: Session, *, user: User, sent: SentSubmission) -> Submission:
        """Raises grading.intake.SubmissionRefused, its message for the person as is."""
        if sent.editor is not None and sent.editor.problem:
            raise SubmissionRefused(sent.editor.problem)
        submission = await run_in_threadpool(
            lambda: accept(
                db,
                settings=self.settings,
                course=self.course,
                user=user,
                exercise_slug=sent.exercise_slug,
                upload=sent.upload,
            )
        )
        wake_workers(self.pool)
        return submission


def get_intake(settings: SettingsDep, course: CourseDep, pool: PoolDep) -> Intake:
    return Intake(settings, course, pool)


IntakeDep = Annotated[Intake, Depends(get_intake)]
