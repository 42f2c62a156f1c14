"""Every router of the app, in the order they are included (no router includes another)."""

from servelab.web.routes import (
    account,
    auth,
    docs,
    exercises,
    instructor_coverage,
    instructor_dashboard,
    instructor_extensions,
    instructor_grading,
    instructor_quiz,
    lesson_examples,
    ops,
    pages,
    quiz_pages,
    submissions,
)
from servelab.web.routes.api import me as api_me
from servelab.web.routes.api import quizzes as api_quizzes
from servelab.web.routes.api import submissions as api_submissions

ALL_ROUTERS = [
    ops.router,
    docs.router,
    auth.router,
    account.router,
    pages.router,
    lesson_examples.router,
    exercises.router,
    submissions.router,
    quiz_pages.router,
    instructor_dashboard.router,
    instructor_grading.router,
    instructor_extensions.router,
    instructor_quiz.router,
    instructor_coverage.router,
    api_me.router,
    api_submissions.router,
    api_quizzes.router,
]
