"""The Celery worker of the celery backend: the grading task, its lease, its supervisor.

`servelab worker` (with SERVELAB_QUEUE_BACKEND=celery) runs `run_celery_worker`: a prefork
Celery worker with one process per grading slot (`worker_count`), each grading with this host's
Docker engine. A task claims its submission's row by compare-and-set, renews the lease while it
grades and stores the outcome under the lease token, so a second delivery of the same message
(a killed worker, a broker that redelivers) stores no second result. A delivery for a row whose
worker is gone takes the job over at once (`recovery.recover_abandoned`). A process whose
Docker engine does not answer claims nothing: it notes why on the submission's timeline, waits
a little and hands the message back, so another worker grades it, or this one once the engine
returns; an engine that is away is not the submission's failure and costs it no attempt. A
database that does not answer is handled the same way: the message goes back to the broker
after a short wait, and a job claimed before the database went away keeps its row `running`
until its lease runs out, when the watchdog hands it to a new attempt (nothing is half-stored:
each phase and the final result are one transaction each).

The worker's main process grades nothing: it sweeps what dead workers left on this host, then
runs a Dispatcher (grading/dispatch.py) that fails over jobs whose worker stopped renewing its
lease and sends every queued submission that needs a message.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from celery import Celery, bootsteps
from celery.exceptions import Reject
from celery.signals import worker_process_init
from sqlalchemy.engine import Engine
from sqlmodel import Session

from servelab.content.loader import Course
from servelab.db.engine import DATABASE_UNAVAILABLE, make_engine
from servelab.db.models.grading import SubmissionStatus
from servelab.grading import processes, queue, recovery
from servelab.grading.celery_app import (
    GRADE_TASK,
    GRADING_QUEUE,
    GradeJob,
    make_celery,
    send_grade_job,
)
from servelab.grading.dispatch import Dispatcher
from servelab.grading.pipeline import grade_directory
from servelab.grading.worker import (
    GradeFunction,
    deadline_seconds_for,
    grade_claim,
    resume_interrupted,
    sweep_leftovers,
    worker_is_dead,
)
from servelab.settings import Settings

log = logging.getLogger("servelab.worker")

CELERY_POOL = "celery"  # the pool part of a Celery process's worker id (`owner:celery:0`)
DOCKER_WAIT_SECONDS = 10.0  # how long a process without Docker holds a message before it
# hands it back: other workers get it meanwhile, and an engine that is away is not polled hot
DATABASE_WAIT_SECONDS = 5.0  # the same for a database that does not answer


def docker_unavailable() -> str | None:
    """Why this host's Docker engine cannot grade now, or None when it answers."""
    import docker

    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any failure to reach it: a missing socket, a refusal, a timeout
        return f"the Docker engine on {processes.HOST} does not answer ({exc})"[:300]
    return None


def _note_waiting(engine: Engine, submission_id: int, why: str) -> None:
    """Say on a queued submission's timeline why it waits (once, not at every hand-back)."""
    detail = f"waiting for a worker: {why}"
    with Session(engine) as session:
        row = queue.get_submission(session, submission_id=submission_id)
        if row is None or row.status != SubmissionStatus.QUEUED:
            return
        events = queue.get_events(session, submission_id=submission_id)
        if events and events[-1].detail == detail[:2000]:
            return
        queue.add_event(session, submission_id, SubmissionStatus.QUEUED, detail)
        session.commit()


class GradingRuntime:
    """What a worker process grades with: settings, the course (loaded once, before the
    fork) and a database engine of its own (a connection must not cross a fork)."""

    def __init__(
        self,
        settings: Settings,
        course: Course,
        *,
        grade: GradeFunction = grade_directory,
        docker_problem: Callable[[], str | None] = docker_unavailable,
    ) -> None:
        self.settings = settings
        self.course = course
        self.grade = grade
        self.docker_problem = docker_problem
        self._engine: Engine | None = None
        self._engine_pid = 0

    def engine(self) -> Engine:
        if self._engine is None or self._engine_pid != os.getpid():
            if self._engine is not None:  # the parent's: leave its connections to the parent
                self._engine.dispose(close=False)
            self._engine = make_engine(self.settings)
            self._engine_pid = os.getpid()
        return self._engine

    def run(self, submission_id: int) -> str:
        """Grade one delivered submission if it is this delivery's to grade; what happened.

        While the database does not answer, the message goes back to the broker."""
        try:
            return self._run(submission_id)
        except DATABASE_UNAVAILABLE as exc:
            log.warning(
                "submission %s handed back: the database does not answer (%s)", submission_id, exc
            )
            time.sleep(DATABASE_WAIT_SECONDS)
            raise Reject(f"the database does not answer: {exc}"[:300], requeue=True) from None

    def _run(self, submission_id: int) -> str:
        engine = self.engine()
        with Session(engine) as session:
            row = queue.get_submission(session, submission_id=submission_id)
            if row is None or row.state.is_final:  # a duplicate: nothing to do, Docker or not
                return f"skipped: {row.status if row else 'no such submission'}"
        problem = self.docker_problem()
        if problem is not None:
            log.warning("submission %s handed back: %s", submission_id, problem)
            _note_waiting(engine, submission_id, problem)
            time.sleep(DOCKER_WAIT_SECONDS)
            raise Reject(problem, requeue=True)
        worker_id = f"{processes.owner_token()}:{CELERY_POOL}:0"
        with Session(engine) as session:
            status = recovery.recover_abandoned(
                session,
                submission_id=submission_id,
                is_dead=worker_is_dead,
                max_attempts=self.settings.job_attempts,
            )
            if status != SubmissionStatus.QUEUED:  # final, held by a live worker, or no row
                log.info("submission %s is %s: nothing to do", submission_id, status)
                return f"skipped: {status or 'no such submission'}"
            claim = queue.claim_submission(
                session,
                submission_id=submission_id,
                worker_id=worker_id,
                lease_seconds=self.settings.job_lease_seconds,
                deadline_seconds=lambda slug: deadline_seconds_for(self.course, slug),
            )
        if claim is None:
            return "skipped: claimed by another worker"
        with _lease_kept(engine, claim, self.settings.job_lease_seconds):
            stored = grade_claim(self.settings, engine, self.course, claim, grade=self.grade)
        return f"stored: {stored}" if stored else "dropped: the claim was lost"


@contextmanager
def _lease_kept(engine: Engine, claim: queue.Claim, lease_seconds: float) -> Iterator[None]:
    """Renew the claim's lease every third of it while the body runs."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease_seconds / 3):
            try:
                with Session(engine) as session:
                    if not queue.heartbeat(session, claim, lease_seconds=lease_seconds):
                        return  # taken over: the next phase stops the grading
            except Exception:  # the database may be briefly away; the lease has slack
                log.exception("could not renew the lease of submission %s", claim.submission_id)

    thread = threading.Thread(target=renew, name="servelab-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class _Supervisor(bootsteps.StartStopStep):
    """The main process's part: sweep this host's leftovers, then dispatch and watch."""

    requires = {"celery.worker.components:Pool"}
    runtime: GradingRuntime
    celery: Celery

    def __init__(self, parent: object, **options: object) -> None:
        super().__init__(parent, **options)
        self.dispatcher: Dispatcher | None = None

    def start(self, parent: object) -> None:
        settings = self.runtime.settings
        engine = self.runtime.engine()
        sweep_leftovers(settings)
        resume_interrupted(settings, engine)
        self.dispatcher = Dispatcher(
            settings, engine, lambda submission_id: send_grade_job(self.celery, submission_id)
        )
        self.dispatcher.start()

    def stop(self, parent: object) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop(timeout=30)


def build_worker_app(
    settings: Settings, course: Course, *, grade: GradeFunction = grade_directory
) -> Celery:
    """The Celery app of a grading worker: the grading task and the supervisor step."""
    app = make_celery(settings)
    runtime = GradingRuntime(settings, course, grade=grade)

    # A grading that hangs past every deadline frees its process; the watchdog has already
    # given the job to another attempt by then.
    longest = max((deadline_seconds_for(course, slug) for slug in course.exercises), default=900)

    @app.task(name=GRADE_TASK, acks_late=True, reject_on_worker_lost=True, time_limit=longest + 60)
    def grade_submission(**message: object) -> str:
        return runtime.run(GradeJob.model_validate(message).submission_id)

    @worker_process_init.connect(weak=False)
    def _fresh_engine(**_: object) -> None:
        runtime.engine()  # a child's own engine, the parent's connections left alone

    supervisor = type("Supervisor", (_Supervisor,), {"runtime": runtime, "celery": app})
    app.steps["worker"].add(supervisor)
    return app


def run_celery_worker(settings: Settings, course: Course, *, concurrency: int) -> int:
    """Run a Celery grading worker in the foreground until SIGTERM or SIGINT (warm shutdown:
    running gradings finish, unstarted messages go back to the broker); its exit code."""
    app = build_worker_app(settings, course)
    worker = app.Worker(
        hostname=f"servelab-{uuid.uuid4().hex[:6]}@{processes.HOST}",
        concurrency=concurrency,
        pool="prefork",
        queues=[GRADING_QUEUE],
        loglevel=settings.log_level,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        optimization="fair",
    )
    worker.start()
    return int(worker.exitcode or 0)
