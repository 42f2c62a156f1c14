"""Handing queued submissions to the Celery broker: an outbox on the submission table.

A submission is committed as queued first and sent to the broker afterwards, so a broker that
is down or loses its messages (a Redis restart) can delay a submission but never lose it: every
pass sends each queued row not sent since it was (re)queued, or sent longer ago than
`celery_redispatch_seconds`. Failing over a job or regrading it queues the row again, and the
next pass sends it. A duplicate message is harmless: its task finds the row claimed or final
and does nothing.

The `Dispatcher` thread runs these passes and the watchdog (`recovery.recover_expired`) in a
process that grades nothing: the web app, and the main process of each Celery worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from servelab.db.clock import utcnow
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import recovery
from servelab.settings import Settings

log = logging.getLogger("servelab.dispatch")

Send = Callable[[int], None]
_BATCH = 500


class BrokerUnavailable(Exception):
    """The broker refused a message; the submission stays queued and is sent at a later pass."""


def dispatch_queued(
    session: Session, *, send: Send, redispatch_seconds: float, limit: int = _BATCH
) -> list[int]:
    """Send every queued submission that needs a message (oldest first); returns their ids.

    Each row is marked sent by compare-and-set before it is sent, so two dispatchers do not
    both send it; a failed send clears the mark and raises BrokerUnavailable.
    """
    now = utcnow()
    stale = now - timedelta(seconds=redispatch_seconds)
    due = session.exec(
        select(Submission.id, Submission.dispatched_at)
        .where(Submission.status == SubmissionStatus.QUEUED)
        .where(
            or_(
                col(Submission.dispatched_at).is_(None),
                col(Submission.dispatched_at) < col(Submission.queued_at),
                col(Submission.dispatched_at) < stale,
            )
        )
        .order_by(col(Submission.queued_at), col(Submission.id))
        .limit(limit)
    ).all()
    sent: list[int] = []
    for submission_id, previous in due:
        assert submission_id is not None
        mark = update(Submission).where(col(Submission.id) == submission_id)
        mark = mark.where(col(Submission.status) == SubmissionStatus.QUEUED)
        if previous is None:
            mark = mark.where(col(Submission.dispatched_at).is_(None))
        else:
            mark = mark.where(col(Submission.dispatched_at) == previous)
        if session.exec(mark.values(dispatched_at=now)).rowcount != 1:
            session.rollback()
            continue
        session.commit()
        try:
            send(submission_id)
        except Exception as exc:
            session.exec(
                update(Submission)
                .where(col(Submission.id) == submission_id)
                .where(col(Submission.dispatched_at) == now)
                .values(dispatched_at=previous)
            )
            session.commit()
            refused = f"the broker refused submission {submission_id}: {exc}"
            raise BrokerUnavailable(refused) from exc
        sent.append(submission_id)
    return sent


class Dispatcher:
    """A thread that sends queued submissions to the broker and runs the watchdog.

    `wake()` after queueing a submission sends it at once; otherwise a pass runs every
    `poll_seconds` (the watchdog at most every `watchdog_seconds`). `stop()` ends the thread.
    """

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        send: Send,
        *,
        poll_seconds: float = 2.0,
        watchdog_seconds: float | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.send = send
        self.poll_seconds = poll_seconds
        self.watchdog_seconds = watchdog_seconds or min(settings.job_lease_seconds / 3, 5.0)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_stop = on_stop
        self.dispatched = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="servelab-dispatch", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A submission was queued: send it now instead of at the next poll."""
        self._wake.set()

    def stop(self, *, timeout: float | None = None) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._on_stop is not None:
            self._on_stop()

    @property
    def busy(self) -> int:
        return 0  # it grades nothing

    def run_once(self, *, watchdog: bool = True) -> None:
        """One pass: fail over jobs of workers that stopped, then send what is queued."""
        with Session(self.engine) as session:
            if watchdog:
                for submission_id, status in recovery.recover_expired(
                    session, max_attempts=self.settings.job_attempts
                ):
                    log.warning("watchdog: submission %s now %s", submission_id, status)
            sent = dispatch_queued(
                session,
                send=self.send,
                redispatch_seconds=self.settings.celery_redispatch_seconds,
            )
        self.dispatched += len(sent)

    def _run(self) -> None:
        last_watchdog = float("-inf")
        while not self._stopping.is_set():
            self._wake.clear()  # before the pass: a wake during it runs another at once
            due = time.monotonic() - last_watchdog >= self.watchdog_seconds
            if due:
                last_watchdog = time.monotonic()
            try:
                self.run_once(watchdog=due)
            except BrokerUnavailable as exc:
                log.warning("%s; sending it again at the next pass", exc)
            except Exception:  # the database may be briefly away; the next pass retries
                log.exception("dispatch pass failed")
            self._wake.wait(min(self.poll_seconds, self.watchdog_seconds))


def start_celery_dispatcher(settings: Settings, engine: Engine) -> Dispatcher:
    """A running Dispatcher that sends to the Celery broker at settings.redis_url."""
    from servelab.grading.celery_app import make_celery, send_grade_job

    app = make_celery(settings)

    def send(submission_id: int) -> None:
        send_grade_job(app, submission_id)

    dispatcher = Dispatcher(settings, engine, send, on_stop=app.close)
    dispatcher.start()
    return dispatcher
