"""The in-process worker pool over the durable queue, with its watchdog.

Each worker thread claims a job, finds its exercise in the loaded course, runs the grading
pipeline and stores the outcome; a supervisor thread renews the leases of running jobs and
runs the watchdog, so nothing stays running past its hard deadline. On start the pool sweeps
what a crash left behind (containers, job folders) and resumes jobs interrupted by a restart;
on stop it drains. The course is loaded once by whoever starts the pool (the web app or
`servelab worker`): an edited exercise.toml takes effect at the next start.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from servelab.content.exercise import Exercise
from servelab.content.loader import Course, UnknownExercise
from servelab.db.clock import utcnow
from servelab.db.engine import DATABASE_UNAVAILABLE
from servelab.db.models.grading import SubmissionStatus
from servelab.grading import processes, queue, recovery
from servelab.grading.dispatch import Dispatcher, start_celery_dispatcher
from servelab.grading.orphans import sweep_job_folders, sweep_orphans
from servelab.grading.outcome import GradeOutcome
from servelab.grading.pipeline import grade_directory
from servelab.settings import Settings

log = logging.getLogger("servelab.worker")

GradeFunction = Callable[..., GradeOutcome]
_LIVE_POOLS: set[str] = set()
_FALLBACK_DEADLINE = 900.0


def hard_deadline_seconds(exercise: Exercise) -> float:
    """How long a job may stay running before the watchdog fails it over."""
    limits = exercise.limits
    return limits.train_seconds + limits.startup_seconds + limits.test_seconds + 120


def deadline_seconds_for(course: Course, slug: str) -> float:
    """The hard deadline of a job of this exercise (a fallback when it left the course)."""
    try:
        return hard_deadline_seconds(course.find_exercise(slug).exercise)
    except UnknownExercise:
        return _FALLBACK_DEADLINE


class ClaimLost(Exception):
    """The watchdog gave this job to another attempt; stop working on it."""


def worker_is_dead(worker_id: str) -> bool:
    """True when worker_id (`owner:pool:n`, see processes.owner_token) names a process or
    pool on this host that is gone; another host's worker is judged by its lease expiry."""
    owner, pool, _n = (["", "", ""] + worker_id.rsplit(":", 2))[-3:]
    if not owner or not processes.on_this_host(owner):
        return False
    if processes.is_this_process(owner):
        return pool not in _LIVE_POOLS
    return not processes.owner_alive(owner)


class WorkerPool:
    """Grading workers in this process; `start()`, then `stop()` to drain."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        course: Course,
        *,
        size: int | None = None,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        watchdog_seconds: float = 5.0,
        grade: GradeFunction = grade_directory,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.course = course
        self.size = max(1, size or settings.worker_count)
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.watchdog_seconds = watchdog_seconds
        self.grade = grade
        self.pool_id = uuid.uuid4().hex[:8]
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._active: dict[str, queue.Claim] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self.processed = 0

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Sweep leftovers, resume interrupted jobs, then start workers and the supervisor."""
        _LIVE_POOLS.add(self.pool_id)
        sweep_leftovers(self.settings)
        resume_interrupted(self.settings, self.engine)
        for n in range(self.size):
            worker_id = f"{processes.owner_token()}:{self.pool_id}:{n}"
            thread = threading.Thread(
                target=self._work, args=(worker_id,), name=f"servelab-worker-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        supervisor = threading.Thread(target=self._supervise, name="servelab-watchdog", daemon=True)
        supervisor.start()
        self._threads.append(supervisor)

    def wake(self) -> None:
        """Tell idle workers a job was queued (they also poll)."""
        self._wake.set()

    def stop(self, *, timeout: float | None = None) -> None:
        """Graceful drain: take no new jobs, let running ones finish (up to timeout).

        Jobs still running after timeout are released to the queue for the next start.
        """
        self._stopping.set()
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        with self._lock:
            leftover = list(self._active.values())
        if leftover:
            with Session(self.engine) as session:
                for worker_id in {claim.worker_id for claim in leftover}:
                    recovery.release_claims(session, worker_id=worker_id)
        _LIVE_POOLS.discard(self.pool_id)

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._active)

    # --- internals ----------------------------------------------------------------------

    def _work(self, worker_id: str) -> None:
        while not self._stopping.is_set():
            try:
                with Session(self.engine) as session:
                    claim = queue.claim_next(
                        session,
                        worker_id=worker_id,
                        lease_seconds=self.lease_seconds,
                        deadline_seconds=lambda slug: deadline_seconds_for(self.course, slug),
                    )
            except Exception:
                log.exception("could not claim a job")
                claim = None
            if claim is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            with self._lock:
                self._active[worker_id] = claim
            try:
                self._process(claim)
            except DATABASE_UNAVAILABLE:  # the watchdog requeues the job once it answers
                self._wake.wait(self.poll_seconds)
            finally:
                with self._lock:
                    self._active.pop(worker_id, None)
                self.processed += 1

    def _process(self, claim: queue.Claim) -> None:
        grade_claim(self.settings, self.engine, self.course, claim, grade=self.grade)

    def _supervise(self) -> None:
        last_watchdog = 0.0
        while not self._stopping.wait(min(self.lease_seconds / 3, self.watchdog_seconds)):
            with self._lock:
                claims = list(self._active.values())
            try:
                with Session(self.engine) as session:
                    for claim in claims:
                        queue.heartbeat(session, claim, lease_seconds=self.lease_seconds)
                    if time.monotonic() - last_watchdog >= self.watchdog_seconds:
                        last_watchdog = time.monotonic()
                        for submission_id, status in recovery.recover_expired(
                            session, max_attempts=self.settings.job_attempts
                        ):
                            log.warning("watchdog: submission %s now %s", submission_id, status)
                            self._wake.set()
            except Exception:
                log.exception("watchdog pass failed")


def sweep_leftovers(settings: Settings) -> None:
    """Remove the containers and job folders of worker processes on this host that are gone."""
    try:
        sweep_orphans()
    except Exception:  # Docker may be down; grading then fails over with the reason
        log.exception("could not sweep orphaned containers")
    removed = sweep_job_folders(settings)
    if removed:
        log.info("removed %s job folders left by a crash", removed)


def resume_interrupted(settings: Settings, engine: Engine) -> None:
    """Queue again the running jobs whose worker on this host is gone (a restart or crash)."""
    with Session(engine) as session:
        resumed = recovery.recover_interrupted(
            session, is_dead=worker_is_dead, max_attempts=settings.job_attempts
        )
    for submission_id, status in resumed:
        log.info("submission %s interrupted by a restart: now %s", submission_id, status)


def grade_claim(
    settings: Settings,
    engine: Engine,
    course: Course,
    claim: queue.Claim,
    *,
    grade: GradeFunction = grade_directory,
) -> SubmissionStatus | None:
    """Grade one claimed job and store its outcome; a platform error fails it over.

    Every phase is recorded under the claim's lease token, so a job taken over by another
    worker stops at its next phase (ClaimLost) and its result is never stored twice.
    Returns the status stored, or None when the claim was lost.
    """

    def on_phase(status: SubmissionStatus) -> None:
        with Session(engine) as session:
            if not queue.record_phase(session, claim, status):
                raise ClaimLost(f"submission {claim.submission_id} was taken over")

    log.info("grading submission %s (attempt %s)", claim.submission_id, claim.attempts)
    try:
        exercise = course.find_exercise(claim.exercise_slug, for_grading=True)
        outcome = grade(
            Path(claim.source_dir),
            exercise,
            settings,
            on_phase=on_phase,
            submission_id=claim.submission_id,
        )
    except UnknownExercise as exc:  # a platform problem: the exercise left the course
        outcome = GradeOutcome(SubmissionStatus.ERROR, log_excerpt=exc.message)
    except DATABASE_UNAVAILABLE:
        # Not the submission's failure, and nothing can be stored now: the row stays as its
        # last phase left it until the lease runs out and the watchdog requeues it.
        log.warning(
            "grading submission %s stopped: the database does not answer", claim.submission_id
        )
        raise
    except Exception as exc:
        log.exception("grading submission %s crashed", claim.submission_id)
        outcome = GradeOutcome(SubmissionStatus.ERROR, log_excerpt=f"{exc!r}")
    finished = utcnow()
    with Session(engine) as session:
        if outcome.status == SubmissionStatus.ERROR:
            status = queue.fail_over(
                session,
                claim,
                detail=outcome.log_excerpt or "platform error",
                max_attempts=settings.job_attempts,
                phase_seconds=outcome.phase_seconds,
            )
            log.warning("submission %s: platform error, now %s", claim.submission_id, status)
            return status
        if not queue.complete(session, claim, outcome, finished_at=finished):
            log.warning("submission %s: result dropped, claim lost", claim.submission_id)
            return None
        return outcome.status


def embedded_pool_enabled(settings: Settings) -> bool:
    """settings.embedded_worker, where None means on except in tests."""
    if settings.embedded_worker is None:
        return settings.environment != "test" and settings.queue_backend == "database"
    return settings.embedded_worker


def start_embedded_pool(
    settings: Settings, engine: Engine, course: Course
) -> WorkerPool | Dispatcher | None:
    """What the web app runs for grading; call `stop()` at shutdown.

    Under the celery backend a Dispatcher that hands queued submissions to the broker (the web
    app grades nothing); otherwise the in-process pool when enabled, or None.
    """
    if settings.queue_backend == "celery":
        dispatcher = start_celery_dispatcher(settings, engine)
        log.info("queued submissions go to Celery workers through %s", settings.redis_url)
        return dispatcher
    if not embedded_pool_enabled(settings):
        return None
    pool = WorkerPool(settings, engine, course)
    pool.start()
    log.info("embedded grading pool started with %s worker(s)", pool.size)
    return pool
