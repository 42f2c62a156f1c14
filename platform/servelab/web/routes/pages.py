"""Routes: the course index and the lesson pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from servelab.web.deps import CourseDep, OptionalUser
from servelab.web.lookups import LessonDep
from servelab.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def course_index(request: Request, user: OptionalUser, course: CourseDep) -> Response:
    return render(
        request,
        "index.html",
        {
            "lessons": course.ordered_lessons(),
            "quizzes": course.quizzes,
            "exercises": course.exercises,
        },
        user=user,
    )


@router.get("/lessons/{slug}")
def lesson_page(
    request: Request, slug: str, lesson: LessonDep, user: OptionalUser, course: CourseDep
) -> Response:
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
