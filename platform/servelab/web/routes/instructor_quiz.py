"""Routes: the instructor's quiz pages (attempt counts, item analysis, attempts CSV)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from servelab.quiz import attempts
from servelab.quiz.export import attempts_csv
from servelab.quiz.instructor import all_attempts, answers_by_attempt, quiz_report
from servelab.quiz.stats import band_labels
from servelab.web import charts
from servelab.web.deps import CourseDep, InstructorUser, SessionDep, instructor_router
from servelab.web.lookups import QuizDep
from servelab.web.templating import render

router = instructor_router("/instructor/quizzes")


@router.get("")
def instructor_quizzes(
    request: Request, db: SessionDep, user: InstructorUser, course: CourseDep
) -> Response:
    counts = {slug: attempts.count_attempts(db, slug=slug) for slug in course.quizzes}
    return render(
        request,
        "instructor/quiz_list.html",
        {"quizzes": course.quizzes, "counts": counts},
        user=user,
    )


@router.get("/{slug}")
def instructor_quiz(
    request: Request, slug: str, quiz: QuizDep, db: SessionDep, user: InstructorUser
) -> Response:
    report = quiz_report(db, quiz=quiz, slug=slug)
    summary = report.summary
    return render(
        request,
        "instructor/quiz_stats.html",
        {
            "slug": slug,
            "quiz": quiz,
            "rows": report.rows,
            "summary": summary,
            "item_stats": report.item_stats,
            "histogram": charts.histogram(
                summary.percents,
                title="Submitted attempts per score band",
                lo=0,
                hi=100,
                bins=len(summary.histogram),
                unit="%",
                chart_id="score-histogram",
            ),
            "bands": list(zip(band_labels(len(summary.histogram)), summary.histogram, strict=True)),
            "learners": report.learners,
        },
        user=user,
    )


@router.get("/{slug}/attempts.csv")
def instructor_csv(slug: str, quiz: QuizDep, db: SessionDep, user: InstructorUser) -> Response:
    rows = all_attempts(db, slug=slug)
    answers = answers_by_attempt(db, [a.id or 0 for a, _ in rows])
    return Response(
        attempts_csv(quiz, rows, answers),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-attempts.csv"'},
    )
