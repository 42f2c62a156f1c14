"""Live progress streams (SSE) hold no database connection and are capped per person and
in total: the slots (in memory and in a real Redis), and 50 streams against a real server
on PostgreSQL while another user's requests keep answering."""

from __future__ import annotations

import statistics
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from grading_web_helpers import store_submission
from sqlmodel import Session

from live_server import live_server
from servelab.accounts import users as accounts
from servelab.accounts.security import hash_password
from servelab.db.engine import make_engine
from servelab.db.models import User
from servelab.db.models.grading import SubmissionStatus
from servelab.settings import Settings
from servelab.web.redis_limits import RedisStreamSlots
from servelab.web.streams import MemoryStreamSlots, StreamRefused, StreamSlots
from support import FakeClock

SLUG = "fastapi-for-ml-apis"


@pytest.fixture
def slots_store(limits_store: redis.Redis | None) -> redis.Redis | None:
    """Where the slots are counted (tests/conftest.py `limits_store`)."""
    return limits_store


def _slots(store: redis.Redis | None, *, per_user: int, total: int) -> StreamSlots:
    if store is None:
        return MemoryStreamSlots(per_user=per_user, total=total)
    return RedisStreamSlots(store, per_user=per_user, total=total, lease_seconds=60)


def test_slots_are_capped_per_user_and_in_total_and_given_back_once(
    slots_store: redis.Redis | None,
) -> None:
    slots = _slots(slots_store, per_user=2, total=3)
    first, second = slots.acquire(1), slots.acquire(1)
    refused = slots.acquire(1)
    assert isinstance(refused, StreamRefused) and "2 live progress views" in refused.message
    third = slots.acquire(2)
    full = slots.acquire(3)
    assert isinstance(full, StreamRefused) and "many people" in full.message
    assert not isinstance(first, StreamRefused) and not isinstance(third, StreamRefused)
    first()
    first()  # giving a slot back twice frees it once
    assert slots.open_streams() == 2 and slots.open_streams(1) == 1
    assert not isinstance(slots.acquire(3), StreamRefused)
    assert isinstance(slots.acquire(4), StreamRefused)
    assert not isinstance(second, StreamRefused)


@pytest.mark.redis
def test_slots_in_redis_are_shared_and_a_lost_slot_expires_after_its_lease(redis_db: str) -> None:
    """Two web processes, each with its own client, see one count; a slot its process never
    gave back (it died) is free again once its lease has passed."""
    clock = FakeClock()
    clients = [redis.Redis.from_url(redis_db) for _ in range(2)]
    one, other = (
        RedisStreamSlots(c, per_user=2, total=10, lease_seconds=60, clock=clock) for c in clients
    )
    assert not isinstance(one.acquire(7), StreamRefused)
    assert not isinstance(other.acquire(7), StreamRefused)
    refused = one.acquire(7)
    assert isinstance(refused, StreamRefused) and "2 live progress views" in refused.message
    assert other.open_streams(7) == 2 and other.open_streams() == 2
    clock.now += 61  # neither slot was given back
    assert one.open_streams(7) == 0
    assert not isinstance(other.acquire(7), StreamRefused)
    for client in clients:
        client.close()


def test_slots_refuse_clearly_when_redis_does_not_answer() -> None:
    """No Redis on that port: the stream is refused with a message, never a 500."""
    from live_server import free_port

    client = redis.Redis(port=free_port(), socket_connect_timeout=1)
    refused = RedisStreamSlots(client, per_user=2, total=3, lease_seconds=60).acquire(1)
    assert isinstance(refused, StreamRefused) and "refreshes by itself" in refused.message


def _connections(database_url: str) -> int:
    """Connections the server holds to its database (idle ones in its pool included)."""
    name = database_url.rsplit("/", 1)[1]
    admin = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.postgres
@pytest.mark.slow
def test_50_streams_on_postgresql_leave_other_requests_answering(
    tmp_path: Path, postgres_db: str
) -> None:
    settings = Settings(environment="test", var_dir=tmp_path / "var", database_url=postgres_db)
    per_user, total, learners = 4, 40, 10
    env = {
        "SERVELAB_MAX_EVENT_STREAMS_PER_USER": str(per_user),
        "SERVELAB_MAX_EVENT_STREAMS": str(total),
        "SERVELAB_WORKER_COUNT": "2",  # a pool of 12 + 20: fewer connections than streams
    }
    with live_server(settings, tmp_path, **env) as server:
        engine = make_engine(settings)
        password_hash = hash_password("correct horse battery")
        tokens: list[tuple[str, int]] = []  # (bearer token, their running submission id)
        with Session(engine) as db:
            for n in range(learners + 1):
                user = User(
                    email=f"l{n}@example.org", display_name=f"l{n}", password_hash=password_hash
                )
                db.add(user)
                db.commit()
                db.refresh(user)
                running = store_submission(db, user, status=SubmissionStatus.TRAINING, slug=SLUG)
                db.commit()
                assert running.id is not None
                tokens.append((accounts.create_api_token(db, user=user), running.id))
        engine.dispose()
        other_token, other_submission = tokens.pop()

        outcomes: dict[int, int] = {}
        refusals: list[str] = []
        readers = []  # an abandoned iterator closes its connection: keep each one
        with ExitStack() as streams:
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
            client = streams.enter_context(server.client(timeout=30, limits=limits))
            for token, submission_id in tokens:
                for _ in range(per_user + 1):  # one more than each learner may open
                    r = streams.enter_context(
                        client.stream(
                            "GET",
                            f"/submissions/{submission_id}/events",
                            headers={"authorization": f"Bearer {token}"},
                        )
                    )
                    outcomes[r.status_code] = outcomes.get(r.status_code, 0) + 1
                    if r.status_code == 200:
                        readers.append(r.iter_text())
                        first = next(readers[-1])
                        assert first.startswith("retry:"), first
                        assert r.headers["content-type"].startswith("text/event-stream")
                    else:
                        r.read()
                        refusals.append(r.json()["detail"])
            # The app now serves its total: another user's stream is refused too ...
            other = {"authorization": f"Bearer {other_token}"}
            with client.stream(
                "GET", f"/submissions/{other_submission}/events", headers=other
            ) as extra:
                extra.read()
            held = _connections(postgres_db)
            # ... but every other request of theirs answers, while the streams stay open.
            latencies, statuses = [], []
            with server.client(timeout=30, headers=other) as them:
                for n in range(30):
                    path = (
                        "/api/v1/me",
                        "/api/v1/submissions",
                        f"/api/v1/submissions/{other_submission}",
                        "/submissions",
                        f"/quizzes/{SLUG}",
                    )[n % 5]
                    started = time.perf_counter()
                    statuses.append(them.get(path).status_code)
                    latencies.append(time.perf_counter() - started)

        print(
            f"\n{learners} learners x {per_user + 1} streams: {outcomes}; another user's "
            f"stream: {extra.status_code}; database connections held with {total} streams "
            f"open: {held}"
        )
        print(
            f"another user's 30 requests meanwhile: p50 {statistics.median(latencies) * 1000:.0f}"
            f" ms, max {max(latencies) * 1000:.0f} ms, statuses {set(statuses)}"
        )
        assert outcomes == {200: total, 429: learners}
        assert all(f"{per_user} live progress views" in m for m in refusals)
        assert extra.status_code == 429 and "many people" in extra.json()["detail"]
        assert extra.headers["retry-after"] == "10"
        assert statuses == [200] * 30
        assert held < total, "each open stream seems to hold a database connection"

        # Closing the streams gives the slots back: a learner may open one again.
        token, submission_id = tokens[0]
        deadline = time.monotonic() + 20
        with server.client(timeout=30) as client:
            while True:
                with client.stream(
                    "GET",
                    f"/submissions/{submission_id}/events",
                    headers={"authorization": f"Bearer {token}"},
                ) as again:
                    if again.status_code == 200 or time.monotonic() > deadline:
                        break
                time.sleep(0.25)
        assert again.status_code == 200
