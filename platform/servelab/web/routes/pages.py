"""Routes: the course index (with a logged-in learner's progress) and the lesson pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from servelab import progress
from servelab.web.deps import CourseDep, OptionalUser, SessionDep
from servelab.web.lookups import LessonDep
from servelab.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def course_index(
    request: Request, user: OptionalUser, course: CourseDep, db: SessionDep
) -> Response:
    lessons = course.ordered_lessons()
    mine = None
    if user is not None and user.id is not None:
        mine = progress.course_progress(
            db,
            user_id=user.id,
            lesson_slugs=[lesson.slug for lesson in lessons],
            exercises=course.exercises,
        )
    return render(
        request,
        "index.html",
        {
            "lessons": lessons,
            "quizzes": course.quizzes,
            "exercises": course.exercises,
            "progress": mine,
        },
        user=user,
    )


@router.get("/lessons/{slug}")
def lesson_page(
    request: Request,
    slug: str,
    lesson: LessonDep,
    user: OptionalUser,
    course: CourseDep,
    db: SessionDep,
) -> Response:
    if user is not None and user.id is not None:
        progress.record_visit(db, user_id=user.id, lesson_slug=slug)
    return render(
        request,
        "lesson.html",
        {
            "lesson": lesson,
            "has_quiz": slug in course.quizzes,
            "has_exercise": slug in course.exercises,
        },
        user=user,
    )
