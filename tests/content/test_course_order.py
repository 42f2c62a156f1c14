"""The course index lists lessons in their authored order: the flagship, then intervals."""

from __future__ import annotations

from servelab.content.loader import load_settings_course
from servelab.settings import Settings


def test_prediction_intervals_comes_right_after_the_flagship() -> None:
    course = load_settings_course(Settings(environment="test"))
    slugs = [lesson.slug for lesson in course.ordered_lessons()]
    assert slugs[:2] == ["fastapi-for-ml-apis", "prediction-intervals"]
    assert course.quizzes["prediction-intervals"].questions  # the lesson has its quiz
