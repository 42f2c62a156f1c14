"""The Celery application of the celery queue backend, and its one message.

One task per submission. The message names the submission and nothing else: the database row
is the job (status, lease token, attempts), so a lost, duplicated or late message cannot change
a result; the task claims the row by compare-and-set or does nothing (grading/tasks.py).
Acknowledged late and rejected when its worker process dies, so a killed worker's submission
is delivered again; one message at a time per worker process (prefetch 1), so a deadline rush
is shared among the hosts instead of piling up on the first one.

This module imports no pipeline: the web app uses it to send messages, never to grade.
"""

from __future__ import annotations

from celery import Celery
from pydantic import BaseModel, ConfigDict, Field

from servelab.settings import Settings

GRADE_TASK = "servelab.grade_submission"
GRADING_QUEUE = "servelab-grading"
_MAX_ROW_ID = 2**31 - 1  # PostgreSQL integer primary keys


class GradeJob(BaseModel):
    """The task's message, validated on both sides of the broker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    submission_id: int = Field(ge=1, le=_MAX_ROW_ID)  # the Submission row to grade


def make_celery(settings: Settings) -> Celery:
    """A Celery app on settings.redis_url with the delivery guarantees grading relies on."""
    app = Celery("servelab", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=GRADING_QUEUE,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # results live in the database, not in a result backend
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits out a Redis restart
        # Keep grading through a broker reconnect: the row, not the message, decides.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_transport_options={"socket_connect_timeout": 5, "socket_timeout": 30},
        worker_send_task_events=False,
        enable_utc=True,
    )
    return app


def send_grade_job(app: Celery, submission_id: int) -> None:
    """Publish one submission's task; raises when the broker cannot take it (after retries)."""
    job = GradeJob(submission_id=submission_id)
    app.send_task(
        GRADE_TASK,
        kwargs=job.model_dump(),
        queue=GRADING_QUEUE,
        retry=True,
        retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
    )
