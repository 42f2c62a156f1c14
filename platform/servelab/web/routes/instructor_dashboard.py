"""Routes: the instructor's dashboard of one exercise (its submissions table, charts and
regrade progress) and the regrade of a selection. Every route requires an instructor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from starlette.responses import Response

from servelab.db.models.grading import SubmissionStatus
from servelab.grading import exercise_stats, regrade, submission_table
from servelab.grading.grades import categories_of
from servelab.web import charts
from servelab.web.deps import (
    CsrfProtected,
    InstructorUser,
    PoolDep,
    SessionDep,
    instructor_router,
    wake_workers,
)
from servelab.web.lookups import ExerciseDep
from servelab.web.templating import render

router = instructor_router("/instructor")

# While a regraded batch is unfinished the page refreshes itself this often without
# JavaScript; with it, dashboard.js polls the batch's counts this often instead.
REFRESH_SECONDS = 5
POLL_SECONDS = 2
MAX_BATCH_CHARS = 40


class RegradeProgressOut(BaseModel):
    """Where a regraded batch stands: the dashboard's poll reads it."""

    queued: int
    running: int
    done: int
    finished: bool


def _bad_request(message: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, message)


def _batch_mark(value: str | None) -> datetime | None:
    """The `batch` query value: the time mark of a regrade request (ISO 8601, UTC)."""
    if not value:
        return None
    try:
        mark = datetime.fromisoformat(value[:MAX_BATCH_CHARS])
    except ValueError:
        raise _bad_request(
            "This dashboard link's regrade batch is not a time ServeLab wrote. Open the "
            "dashboard without it."
        ) from None
    return mark if mark.tzinfo else mark.replace(tzinfo=UTC)


def _count(value: str | None, name: str) -> int | None:
    """A count the regrade redirect wrote (`regraded`, `skipped`): shown, never trusted."""
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise _bad_request(
            f"{name} is a count of submissions (a whole number); open the dashboard without it."
        )
    return int(value)


def dashboard_url(slug: str, batch: regrade.Batch) -> str:
    query = urlencode(
        {"regraded": batch.queued, "skipped": batch.skipped, "batch": batch.at.isoformat()}
    )
    return f"/instructor/exercises/{slug}/submissions?{query}"


def _charts(stats: exercise_stats.ExerciseStats) -> dict[str, charts.Chart]:
    phase_bars = []
    for phase in stats.phases:
        phase_bars.append(charts.Bar(f"{phase.label}, median", phase.median))
        phase_bars.append(charts.Bar(f"{phase.label}, p90", phase.p90))
    return {
        "scores": charts.histogram(
            stats.best_percent,
            title="Best score per learner",
            lo=0,
            hi=100,
            bins=10,
            unit="%",
        ),
        "checks": charts.bar_chart(
            # How many of how many is in the table under the chart: the bars stay short.
            [charts.Bar(c.name, c.percent) for c in stats.checks],
            title="Failure rate per check",
            max_value=100,
            unit="%",
        ),
        "phases": charts.bar_chart(phase_bars, title="Seconds per phase", unit="s"),
    }


@router.get("/exercises/{slug}/submissions")
def exercise_dashboard(
    request: Request,
    slug: str,
    exercise: ExerciseDep,
    user: InstructorUser,
    db: SessionDep,
    regraded: str | None = None,
    skipped: str | None = None,
    batch: str | None = None,
) -> Response:
    """The submissions table (filtered, sorted, paged in SQL), the charts, regrade progress."""
    try:
        query = submission_table.TableQuery.from_params(request.query_params)
    except submission_table.TableQueryError as exc:
        raise _bad_request(exc.message) from None
    page = submission_table.table_page(db, exercise_slug=slug, query=query)
    mark = _batch_mark(batch)
    progress = regrade.batch_progress(db, exercise_slug=slug, since=mark) if mark else None
    stats = exercise_stats.exercise_stats(db, exercise_slug=slug)
    return render(
        request,
        "instructor/submissions.html",
        {
            "slug": slug,
            "exercise": exercise,
            "page": page,
            "query": query,
            "rows": page.rows,
            "categories": categories_of(page.rows),
            "page_numbers": submission_table.page_numbers(page.page, page.pages),
            "sort_keys": submission_table.SortKey,
            "statuses": [s.value for s in SubmissionStatus],
            "stats": stats,
            "charts": _charts(stats),
            "regraded": _count(regraded, "regraded"),
            "skipped": _count(skipped, "skipped"),
            "batch": batch if mark else None,
            "progress": progress,
            "refresh_seconds": REFRESH_SECONDS if progress and not progress.finished else None,
            "poll_seconds": POLL_SECONDS,
            "max_selected": regrade.MAX_SELECTED,
        },
        user=user,
    )


@router.get("/exercises/{slug}/regrade-progress")
def regrade_progress(
    slug: str, _exercise: ExerciseDep, user: InstructorUser, db: SessionDep, batch: str = ""
) -> RegradeProgressOut:
    """The regraded batch's counts as JSON, for the dashboard's small poll (dashboard.js)."""
    mark = _batch_mark(batch)
    if mark is None:
        raise _bad_request("Say which regrade batch: ?batch=<the time mark of the dashboard>.")
    progress = regrade.batch_progress(db, exercise_slug=slug, since=mark)
    return RegradeProgressOut(
        queued=progress.queued,
        running=progress.running,
        done=progress.done,
        finished=progress.finished,
    )


def _selected_ids(ids: list[str], one: str) -> list[int]:
    chosen = [one] if one else ids
    if len(chosen) > regrade.MAX_SELECTED:
        raise _bad_request(
            f"At most {regrade.MAX_SELECTED} submissions can be regraded at once; you chose "
            f"{len(chosen)}. Use 'Regrade all' for the whole exercise."
        )
    try:
        return [int(value) for value in chosen]
    except ValueError:
        raise _bad_request(
            "The selection holds something that is not a submission number. Reload the "
            "dashboard and choose again."
        ) from None


@router.post("/exercises/{slug}/regrade-selected", dependencies=[CsrfProtected])
def regrade_selected(
    slug: str,
    _exercise: ExerciseDep,
    user: InstructorUser,
    db: SessionDep,
    pool: PoolDep,
    ids: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    one: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Queue the ticked submissions again (or the one whose row button was pressed)."""
    try:
        batch = regrade.regrade_selected(
            db, exercise_slug=slug, submission_ids=_selected_ids(ids, one), by=user
        )
    except regrade.SelectionRefused as exc:
        raise _bad_request(str(exc)) from None
    wake_workers(pool)
    return RedirectResponse(dashboard_url(slug, batch), status_code=status.HTTP_303_SEE_OTHER)
