"""Routes: the instructor area's grading side (index, results per exercise, full view, regrade,
grades CSV). Every route requires an instructor; learners get 403."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, func, select
from starlette.responses import Response

from servelab.db.models import User
from servelab.db.models.grading import Submission
from servelab.grading import grades, regrade, views
from servelab.grading.intake import SubmissionRefused
from servelab.web.deps import CsrfProtected, InstructorUser, RowId, SessionDep
from servelab.web.routes.grading_common import course_of, exercise_or_404, wake_workers
from servelab.web.templating import render

router = APIRouter(prefix="/instructor", include_in_schema=False)


def _status_counts(db: Session) -> dict[str, dict[str, int]]:
    stmt = select(Submission.exercise_slug, Submission.status, func.count()).group_by(
        col(Submission.exercise_slug), col(Submission.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for slug, state, n in db.exec(stmt).all():
        counts.setdefault(slug, {})[state] = n
    return counts


@router.get("")
def instructor_index(request: Request, user: InstructorUser, db: SessionDep) -> Response:
    course = course_of(request)
    return render(
        request,
        "instructor/index.html",
        {
            "exercises": course.exercises,
            "quizzes": course.quizzes,
            "lessons": course.lessons,
            "counts": _status_counts(db),
        },
        user=user,
    )


@router.get("/exercises/{slug}/submissions")
def exercise_submissions(
    request: Request,
    slug: str,
    user: InstructorUser,
    db: SessionDep,
    regraded: int | None = None,
    skipped: int | None = None,
) -> Response:
    course = course_of(request)
    exercise_or_404(course, slug)
    exercise = course.exercises[slug]
    rows = grades.submission_rows(db, exercise_slug=slug)
    categories: list[str] = []
    for row in rows:
        for total in row.categories:
            if total.category not in categories:
                categories.append(total.category)
    return render(
        request,
        "instructor/submissions.html",
        {
            "slug": slug,
            "exercise": exercise,
            "rows": rows,
            "categories": categories,
            "regraded": regraded,
            "skipped": skipped,
        },
        user=user,
    )


@router.get("/exercises/{slug}/grades.csv")
def grades_export(
    request: Request, slug: str, user: InstructorUser, db: SessionDep, pick: str = "best"
) -> Response:
    exercise_or_404(course_of(request), slug)
    try:
        chosen = grades.Pick(pick)
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "Choose pick=best or pick=latest for the grades export."
        ) from None
    body = grades.grades_csv(db, exercise_slug=slug, pick=chosen)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-grades-{chosen}.csv"'},
    )


@router.post("/exercises/{slug}/regrade", dependencies=[CsrfProtected])
def regrade_all(request: Request, slug: str, user: InstructorUser, db: SessionDep) -> Response:
    exercise_or_404(course_of(request), slug)
    queued, skipped = regrade.regrade_exercise(db, exercise_slug=slug, by=user)
    wake_workers(request)
    return RedirectResponse(
        f"/instructor/exercises/{slug}/submissions?regraded={queued}&skipped={skipped}",
        status_code=status.HTTP_303_SEE_OTHER,
    )


def _submission_or_404(db: Session, submission_id: int) -> Submission:
    submission = db.get(Submission, submission_id)
    if submission is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no submission {submission_id}.")
    return submission


@router.get("/submissions/{submission_id}")
def submission_full(
    request: Request, submission_id: RowId, user: InstructorUser, db: SessionDep
) -> Response:
    """Everything about one submission: hidden checks, raw pytest output, platform details."""
    submission = _submission_or_404(db, submission_id)
    course = course_of(request)
    return render(
        request,
        "instructor/submission.html",
        {
            "submission": submission,
            "learner": db.get(User, submission.user_id),
            "exercise": course.exercises.get(submission.exercise_slug),
            "result": views.full_result(submission),
            "raw_result_unreadable": bool(submission.result_json)
            and views.full_result(submission) is None,
            "timeline": views.timeline(db, submission_id=submission_id, with_details=True),
            "phase_seconds": views.phase_seconds(submission),
            "files": views.submitted_files(submission, settings=request.app.state.settings),
        },
        user=user,
    )


@router.post("/submissions/{submission_id}/regrade", dependencies=[CsrfProtected])
def regrade_one(
    request: Request, submission_id: RowId, user: InstructorUser, db: SessionDep
) -> Response:
    _submission_or_404(db, submission_id)
    try:
        regrade.regrade(db, submission_id=submission_id, by=user)
    except SubmissionRefused as exc:
        raise HTTPException(exc.status_code, exc.message) from None
    wake_workers(request)
    return RedirectResponse(
        f"/instructor/submissions/{submission_id}", status_code=status.HTTP_303_SEE_OTHER
    )
