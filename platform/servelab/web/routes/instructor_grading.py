"""Routes: the instructor area's grading side (index, full view, regrade one or all, grades
CSV in ServeLab's, Canvas' and Moodle's layouts, the dead letters and their retry). Every
route requires an instructor; learners get 403. The exercise dashboard is
instructor_dashboard.py."""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from servelab.accounts import users as accounts
from servelab.grading import dead_letter, gradebook, grades, regrade, views
from servelab.grading.intake import SubmissionRefused
from servelab.web.deps import (
    CourseDep,
    CsrfProtected,
    InstructorUser,
    PoolDep,
    SessionDep,
    SettingsDep,
    instructor_router,
    wake_workers,
)
from servelab.web.lookups import AnySubmission, ExerciseDep
from servelab.web.routes.instructor_dashboard import dashboard_url
from servelab.web.templating import render

router = instructor_router("/instructor")


@router.get("")
def instructor_index(
    request: Request, user: InstructorUser, db: SessionDep, course: CourseDep
) -> Response:
    return render(
        request,
        "instructor/index.html",
        {
            "exercises": course.exercises,
            "quizzes": course.quizzes,
            "lessons": course.lessons,
            "counts": views.status_counts(db),
        },
        user=user,
    )


@router.get("/exercises/{slug}/grades.csv")
def grades_export(
    slug: str,
    exercise: ExerciseDep,
    user: InstructorUser,
    db: SessionDep,
    pick: str = "best",
    format: str = "servelab",
) -> Response:
    """One row per learner (best or latest); ServeLab's own columns, or Canvas' or Moodle's
    gradebook import layout (gradebook.py)."""
    try:
        chosen = grades.Pick(pick)
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "Choose pick=best or pick=latest for the grades export."
        ) from None
    try:
        layout = gradebook.Layout(format)
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            "Choose format=servelab, format=canvas or format=moodle for the grades export.",
        ) from None
    if layout == gradebook.Layout.CANVAS:
        body = gradebook.canvas_csv(db, exercise_slug=slug, exercise=exercise, pick=chosen)
        filename = f"{slug}-grades-{chosen}-canvas.csv"
    elif layout == gradebook.Layout.MOODLE:
        body = gradebook.moodle_csv(db, exercise_slug=slug, exercise=exercise, pick=chosen)
        filename = f"{slug}-grades-{chosen}-moodle.csv"
    else:
        body = grades.grades_csv(db, exercise_slug=slug, pick=chosen)
        filename = f"{slug}-grades-{chosen}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/exercises/{slug}/regrade", dependencies=[CsrfProtected])
def regrade_all(
    slug: str, _exercise: ExerciseDep, user: InstructorUser, db: SessionDep, pool: PoolDep
) -> Response:
    batch = regrade.regrade_exercise(db, exercise_slug=slug, by=user)
    wake_workers(pool)
    return RedirectResponse(dashboard_url(slug, batch), status_code=status.HTTP_303_SEE_OTHER)


@router.get("/submissions/{submission_id}")
def submission_full(
    request: Request,
    submission: AnySubmission,
    user: InstructorUser,
    db: SessionDep,
    course: CourseDep,
    settings: SettingsDep,
) -> Response:
    """Everything about one submission: hidden checks, raw pytest output, platform details."""
    assert submission.id is not None
    result = views.full_result(submission)
    return render(
        request,
        "instructor/submission.html",
        {
            "submission": submission,
            "learner": accounts.get_user(db, user_id=submission.user_id),
            "exercise": course.exercises.get(submission.exercise_slug),
            "result": result,
            "raw_result_unreadable": bool(submission.result_json) and result is None,
            "timeline": views.timeline(db, submission_id=submission.id, with_details=True),
            "phase_seconds": views.phase_seconds(submission),
            "files": views.submitted_files(submission, settings=settings),
        },
        user=user,
    )


@router.post("/submissions/{submission_id}/regrade", dependencies=[CsrfProtected])
def regrade_one(
    submission: AnySubmission, user: InstructorUser, db: SessionDep, pool: PoolDep
) -> Response:
    try:
        regrade.regrade(db, submission_id=submission.id or 0, by=user)
    except SubmissionRefused as exc:
        raise HTTPException(exc.status_code, exc.message) from None
    wake_workers(pool)
    return RedirectResponse(
        f"/instructor/submissions/{submission.id}", status_code=status.HTTP_303_SEE_OTHER
    )


@router.get("/dead-letters")
def dead_letters(
    request: Request, user: InstructorUser, db: SessionDep, retried: int | None = None
) -> Response:
    """Submissions the platform failed to grade on every attempt, with the reason."""
    return render(
        request,
        "instructor/dead_letters.html",
        {"letters": dead_letter.dead_letters(db), "retried": retried},
        user=user,
    )


@router.post("/dead-letters/retry", dependencies=[CsrfProtected])
def retry_dead_letters(user: InstructorUser, db: SessionDep, pool: PoolDep) -> Response:
    retried = dead_letter.retry_dead_letters(db, by=user)
    wake_workers(pool)
    return RedirectResponse(
        f"/instructor/dead-letters?retried={retried}", status_code=status.HTTP_303_SEE_OTHER
    )
