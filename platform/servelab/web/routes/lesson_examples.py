"""Route: run a lesson's example in the sandbox and show its output beside the expected one.

A plain form POST renders the lesson page with the result (no JavaScript needed); the page's
small script (static/example-run.js) sends the same form with the FRAGMENT_HEADER and swaps in
just the result block. Who may start a run is decided before any container exists: a logged-in
person (CSRF-checked), within `example_runs_per_minute` runs in a sliding minute (counted like
failed logins: in Redis when the shared limits live there, else in this process's memory), and
while fewer than `example_run_concurrency` example containers run in this process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from servelab.accounts.throttle import SlidingWindowCounter, WindowCounter
from servelab.content.lesson import Lesson
from servelab.content.loader import Course
from servelab.db.models import User
from servelab.grading.example_run import ExampleRun, ExampleUnavailable, run_example
from servelab.settings import Settings
from servelab.web.deps import CourseDep, CsrfProtected, OptionalUser, SessionDep, SettingsDep
from servelab.web.lookups import LessonDep
from servelab.web.redis_limits import LimitsUnavailable, get_limits_store, redis_counters
from servelab.web.templating import render

router = APIRouter(include_in_schema=False)

FRAGMENT_HEADER = "x-example-run"  # "fragment": answer with the result block alone
WINDOW_SECONDS = 60.0
BUSY_RETRY_SECONDS = 10
UNAVAILABLE_RETRY_SECONDS = 60
_GATE_LOCK = threading.Lock()
EXAMPLE_RUNS_OFF = (
    "This ServeLab does not run examples; run it on your own machine with `python example.py`."
)


class ExamplesBusy(Exception):
    """Every example slot of this process is taken."""


class ExampleGate:
    """A per-person window of runs and a process-wide cap on example containers at once."""

    def __init__(self, *, counter: WindowCounter, slots: int) -> None:
        self.counter = counter
        self.slots = slots
        self._semaphore = threading.BoundedSemaphore(slots)

    def retry_after(self, user: User) -> int | None:
        """Seconds until `user` may run another example, or None when they may now."""
        return self.counter.retry_after(str(user.id))

    @contextmanager
    def slot(self, user: User) -> Iterator[None]:
        """Hold one container slot (never waiting: a full house answers at once), and count
        the run against `user`'s window."""
        if not self._semaphore.acquire(blocking=False):
            raise ExamplesBusy
        try:
            self.counter.add(str(user.id))
            yield
        finally:
            self._semaphore.release()


def get_example_gate(request: Request) -> ExampleGate:
    """The app's gate, made on first use from its settings and its shared limits store."""
    state = request.app.state
    with _GATE_LOCK:
        gate: ExampleGate | None = getattr(state, "example_gate", None)
        if gate is None:
            settings: Settings = state.settings
            limit = settings.example_runs_per_minute
            store = get_limits_store(request)
            counter: WindowCounter
            if store is not None:  # as the login throttle: every web process counts together
                make = redis_counters(store)
                counter = make(name="example-runs", limit=limit, window_seconds=WINDOW_SECONDS)
            else:
                counter = SlidingWindowCounter(limit=limit, window_seconds=WINDOW_SECONDS)
            gate = ExampleGate(counter=counter, slots=settings.example_run_concurrency)
            state.example_gate = gate
    return gate


ExampleGateDep = Annotated[ExampleGate, Depends(get_example_gate)]


@router.post("/lessons/{slug}/example/run", dependencies=[CsrfProtected])
async def run_lesson_example(
    request: Request,
    slug: str,
    lesson: LessonDep,
    user: OptionalUser,
    course: CourseDep,
    settings: SettingsDep,
    gate: ExampleGateDep,
    db: SessionDep,
) -> Response:
    fragment = request.headers.get(FRAGMENT_HEADER) == "fragment"
    page = _Page(request, lesson, course, user, fragment=fragment)
    if not settings.example_runs_enabled:
        return page.refusal(status.HTTP_404_NOT_FOUND, EXAMPLE_RUNS_OFF)
    if user is None:
        if fragment:
            return page.refusal(status.HTTP_401_UNAUTHORIZED, "Log in to run this example.")
        target = quote(f"/lessons/{slug}#example", safe="")
        return RedirectResponse(f"/login?next={target}", status_code=status.HTTP_303_SEE_OTHER)
    db.close()  # a run takes seconds: give the database connection back before it starts
    try:
        wait = await run_in_threadpool(gate.retry_after, user)
    except LimitsUnavailable:
        return page.refusal(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "ServeLab cannot count example runs right now (its shared limits store does not "
            "answer). Nothing ran; try again in a minute.",
            retry_after=LimitsUnavailable.retry_after_seconds,
        )
    if wait:
        return page.refusal(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"You have run examples {settings.example_runs_per_minute} times in the last "
            f"minute, the most allowed. Try again in {wait} s.",
            retry_after=wait,
        )
    try:
        run = await run_in_threadpool(_run_in_slot, gate, user, lesson, settings)
    except ExamplesBusy:
        return page.refusal(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"Other examples are running right now (at most {gate.slots} at once). Nothing "
            f"ran; try again in {BUSY_RETRY_SECONDS} seconds.",
            retry_after=BUSY_RETRY_SECONDS,
        )
    except LimitsUnavailable:
        return page.refusal(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "ServeLab cannot count example runs right now. Nothing ran; try again in a minute.",
            retry_after=LimitsUnavailable.retry_after_seconds,
        )
    except ExampleUnavailable as exc:
        return page.refusal(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            exc.message,
            retry_after=UNAVAILABLE_RETRY_SECONDS,
        )
    return page.result(run)


def _run_in_slot(gate: ExampleGate, user: User, lesson: Lesson, settings: Settings) -> ExampleRun:
    with gate.slot(user):
        return run_example(lesson.example.code, lesson.example.expected_output, settings=settings)


class _Page:
    """The lesson page (or, for the script, its result block alone) with a run's outcome."""

    def __init__(
        self, request: Request, lesson: Lesson, course: Course, user: User | None, *, fragment: bool
    ) -> None:
        self.request, self.lesson, self.course, self.user = request, lesson, course, user
        self.fragment = fragment

    def result(self, run: ExampleRun) -> Response:
        return self._render(status.HTTP_200_OK, {"example_run": run})

    def refusal(
        self, status_code: int, message: str, *, retry_after: int | None = None
    ) -> Response:
        response = self._render(status_code, {"example_refusal": message})
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    def _render(self, status_code: int, context: dict[str, Any]) -> Response:
        slug = self.lesson.slug
        context = {
            "lesson": self.lesson,
            "has_quiz": slug in self.course.quizzes,
            "has_exercise": slug in self.course.exercises,
            **context,
        }
        name = "_example_run.html" if self.fragment else "lesson.html"
        return render(self.request, name, context, status_code=status_code, user=self.user)
