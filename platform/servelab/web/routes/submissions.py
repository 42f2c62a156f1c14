"""Routes: a learner's submissions, a submission's page and its live progress (SSE).

A learner only ever sees their own submissions (anyone else's id is a 404), and only
`results.learner_view` of a result: no raw output, no hidden checks, no hidden data.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request, status
from sqlmodel import Session
from starlette.responses import Response

from servelab.db.models.grading import Submission
from servelab.grading import due_dates, queue, views
from servelab.web.deps import (
    CourseDep,
    CurrentUser,
    EngineDep,
    RowId,
    SessionDep,
    get_auth,
    get_current_user,
)
from servelab.web.lookups import VisibleSubmission, visible_submission
from servelab.web.streams import (
    SSE_MAX_SECONDS,
    SlotStreamingResponse,
    StreamRefused,
    StreamSlotsDep,
)
from servelab.web.templating import render

router = APIRouter(include_in_schema=False)

SSE_POLL_SECONDS = 0.5
SSE_HEARTBEAT_SECONDS = 15
PAGE_REFRESH_SECONDS = 3


@router.get("/submissions")
def my_submissions(
    request: Request, user: CurrentUser, db: SessionDep, course: CourseDep
) -> Response:
    return render(
        request,
        "submissions/list.html",
        {
            "submissions": views.list_submissions(db, user_id=user.id),
            "exercises": due_dates.learner_exercises(db, course.exercises, user_id=user.id or 0),
            "learner_score": views.learner_score,
        },
        user=user,
    )


@router.get("/submissions/{submission_id}")
def submission_page(
    request: Request,
    submission: VisibleSubmission,
    user: CurrentUser,
    db: SessionDep,
    course: CourseDep,
) -> Response:
    exercise = due_dates.submission_exercise(db, course.exercises, submission)
    assert submission.id is not None
    return render(
        request,
        "submissions/detail.html",
        {
            "submission": submission,
            "exercise": exercise,
            "result": views.learner_result(submission, exercise),
            "timeline": views.timeline(db, submission_id=submission.id, with_details=False),
            "phase_seconds": views.learner_phase_seconds(submission),
            "log_excerpt": views.learner_log_excerpt(submission),
            "train_log": views.learner_train_log(submission),
            "since_last": views.learner_since_last(db, submission, exercise),
            "learner_score": views.learner_score,
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
            {"id": e.id, "status": e.status, "at": e.at.isoformat() if e.at else None}
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


@router.get("/submissions/{submission_id}/events")
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
        visible_submission(db, user=user, submission_id=submission_id)
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
