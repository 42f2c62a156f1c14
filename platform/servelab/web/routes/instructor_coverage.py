"""Route: an exercise's grader coverage for instructors (which mutants each check kills), from
the matrix `servelab exercise selftest SLUG --matrix` stored last. Learners get 403 before any
lookup. The page shows check ids and mutant names only, never hidden data or check output."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from servelab.grading.coverage import findings
from servelab.grading.coverage_store import CoverageStoreError, load_matrix
from servelab.web.deps import InstructorUser, SettingsDep, instructor_router
from servelab.web.lookups import ExerciseDep
from servelab.web.templating import render

router = instructor_router("/instructor/exercises")


@router.get("/{slug}/coverage")
def exercise_coverage(
    request: Request,
    slug: str,
    exercise: ExerciseDep,
    user: InstructorUser,
    settings: SettingsDep,
) -> Response:
    error = None
    try:
        stored = load_matrix(settings, slug)
    except CoverageStoreError as exc:
        stored, error = None, str(exc)
    matrix = stored.matrix if stored else None
    return render(
        request,
        "instructor/coverage.html",
        {
            "slug": slug,
            "exercise": exercise,
            "stored": stored,
            "matrix": matrix,
            "error": error,
            "findings": findings(matrix) if matrix else [],
            "kills": {r.check: len(matrix.kills(r.check)) for r in matrix.rows} if matrix else {},
            "killed_by": {m: len(matrix.killed_by(m)) for m in matrix.graded_mutants}
            if matrix
            else {},
        },
        user=user,
    )
