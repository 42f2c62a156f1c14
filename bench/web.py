"""Web pages under load, each beside a static file served by the same server in the same run.

    .venv/bin/python bench/web.py [--users 50] [--seconds 10] [--workers 1]

A real `servelab serve` (uvicorn, `--workers` web processes) runs on loopback with a fresh
SQLite database and the flagship course. `--users` learners log in through the login form
first (one session cookie and one keep-alive connection each, as wrk's connections); then,
for `--seconds` each, all of them at once request:

- the lesson page (GET /lessons/fastapi-for-ml-apis, logged in);
- a quiz submission (POST of all fourteen answers with the session's CSRF token to one of the
  learner's open attempts, made beforehand in the database: each POST closes one);
- a result page (GET /submissions/<id>: the learner's own graded submission, stored as the
  worker leaves it, with the browser tests' sample result document);

and after each of them, the same way, the static file /static/servelab.css. Prints requests,
throughput (req/s), p50 and p99 latency per target and the ratios of each page to the static
file measured beside it. Any answer but the page (200) or the quiz's redirect to the scored
attempt (303) counts as an error and is left out of the latencies. The load generator (httpx
in one Python process) shares the machine with the server: a ratio says more than a number.
Loopback only; bounded in users, time and requests. Results also go to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from burst import percentile
from sqlalchemy import insert
from sqlmodel import Session, select

from servelab.accounts.security import hash_password
from servelab.content.loader import load_settings_course
from servelab.content.quiz import Quiz
from servelab.db.clock import utcnow
from servelab.db.engine import make_engine
from servelab.db.models import User
from servelab.db.models.quiz import AttemptStatus, QuizAttempt
from servelab.settings import PROJECT_ROOT, Settings

# The one loopback server harness, and submissions stored as the worker leaves them (the same
# helpers as the browser tests'; tests/web itself, since this script's own name is `web`).
sys.path[:0] = [str(PROJECT_ROOT / "tests"), str(PROJECT_ROOT / "tests" / "web")]
# Its import of Starlette's TestClient warns about httpx, which this script does not use there.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from grading_web_helpers import sample_result, store_submission  # noqa: E402

from live_server import live_server  # noqa: E402

SLUG = "fastapi-for-ml-apis"
STATIC = "/static/servelab.css"
PASSWORD = "web benchmark learner"
MAX_USERS = 200
MAX_SECONDS = 60.0
# Open quiz attempts made per learner: enough for this many quiz POSTs a second in all.
QUIZ_POSTS_PER_SECOND_BOUND = 800
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Stats:
    """One target's run: its answered requests, errors and latencies."""

    target: str
    requests: int
    errors: int
    seconds: float
    throughput: float  # answered requests (not errors) per second
    p50_ms: float | None
    p99_ms: float | None


def summarize(target: str, latencies: list[float], errors: int, seconds: float) -> Stats:
    """Stats of a run from its successful requests' latencies (seconds) and its length."""
    ms = [1000 * x for x in latencies]
    return Stats(
        target=target,
        requests=len(latencies) + errors,
        errors=errors,
        seconds=round(seconds, 2),
        throughput=round(len(latencies) / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=round(percentile(ms, 0.50), 1) if ms else None,
        p99_ms=round(percentile(ms, 0.99), 1) if ms else None,
    )


def ratios(page: Stats, static: Stats) -> dict[str, float | None]:
    """The page against the static file: throughput and latency, as page / static."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a is not None and b else None

    return {
        "throughput": ratio(page.throughput, static.throughput),
        "p50": ratio(page.p50_ms, static.p50_ms),
        "p99": ratio(page.p99_ms, static.p99_ms),
    }


# --- the learners ------------------------------------------------------------------------------


@dataclass
class Learner:
    user_id: int
    email: str
    submission_id: int
    attempts: list[int]  # open quiz attempt ids, used one per quiz POST
    client: httpx.AsyncClient | None = None
    csrf_token: str = ""


def _make_learners(settings: Settings, count: int, attempts_each: int, quiz: Quiz) -> list[Learner]:
    """`count` learners, each with a graded submission and `attempts_each` open attempts."""
    engine = make_engine(settings)
    password_hash = hash_password(PASSWORD)
    learners = []
    now = utcnow()
    with Session(engine) as db:
        for n in range(count):
            user = User(
                email=f"web{n}@example.org", display_name=f"web {n}", password_hash=password_hash
            )
            db.add(user)
            db.commit()
            db.refresh(user)
            graded = store_submission(db, user, result=sample_result(), slug=SLUG)
            assert user.id is not None and graded.id is not None
            learners.append(Learner(user.id, user.email, graded.id, []))
        rows = [
            {
                "user_id": learner.user_id,
                "quiz_slug": SLUG,
                "number": number,
                "seed": number,
                "status": AttemptStatus.OPEN.value,
                "started_at": now,
                "deadline_at": now + timedelta(hours=2),
                "max_score": quiz.max_score,
            }
            for learner in learners
            for number in range(1, attempts_each + 1)
        ]
        db.execute(insert(QuizAttempt), rows)
        db.commit()
        by_user: dict[int, list[int]] = {}
        for attempt_id, user_id in db.exec(select(QuizAttempt.id, QuizAttempt.user_id)):
            by_user.setdefault(user_id, []).append(attempt_id or 0)
    engine.dispose()
    for learner in learners:
        learner.attempts = sorted(by_user[learner.user_id])
    return learners


def quiz_answers(quiz: Quiz) -> list[tuple[str, str]]:
    """A full set of right answers as the quiz form posts them (q.<question id> fields)."""
    fields: list[tuple[str, str]] = []
    for q in quiz.questions:
        name = f"q.{q.id}"
        if q.type == "single":
            fields.append((name, q.answer))
        elif q.type == "multiple":
            fields += [(name, a) for a in q.answers]
        elif q.type == "true_false":
            fields.append((name, "true" if q.answer else "false"))
        elif q.type == "numeric":
            fields.append((name, f"{q.answer:g}"))
        elif q.type == "text":
            fields.append((name, q.accepted[0]))
        elif q.type == "code_output":
            fields.append((name, q.expected_output))
    return fields


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _log_in(base_url: str, learner: Learner) -> None:
    """Log in through the form; keep the client (one connection) and the session's token."""
    client = httpx.AsyncClient(
        base_url=base_url,
        timeout=REQUEST_TIMEOUT,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )
    page = await client.get("/login")
    token = CSRF.search(page.text)
    assert token, "no CSRF token on /login"
    form = {"email": learner.email, "password": PASSWORD, "csrf_token": token.group(1)}
    r = await client.post("/login", data=form)
    assert r.status_code == 303, f"login of {learner.email}: {r.status_code} {r.text[:200]}"
    token = CSRF.search((await client.get("/")).text)
    assert token, "no CSRF token on / after logging in"
    learner.client, learner.csrf_token = client, token.group(1)


# --- the load ----------------------------------------------------------------------------------


def _request(target: str, learner: Learner, answers: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    """The coroutine of one request of `target` by `learner`, or None when it has no more."""
    client = learner.client
    assert client is not None
    if target == "lesson page":
        return client.get(f"/lessons/{SLUG}")
    if target == "result page":
        return client.get(f"/submissions/{learner.submission_id}")
    if target == "static file":
        return client.get(STATIC)
    if target == "quiz submission":
        if not learner.attempts:
            return None
        attempt = learner.attempts.pop()
        body = [("csrf_token", learner.csrf_token), *answers]
        return client.post(
            f"/quizzes/{SLUG}/attempts/{attempt}",
            content=urlencode(body).encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    raise ValueError(target)


def _answered(target: str, response: httpx.Response) -> bool:
    """Did the server do what was asked? A page (200), or the quiz's redirect to the scored
    attempt (303): not a redirect to the login page, not an error page."""
    if target == "quiz submission":
        location = response.headers.get("location", "")
        return response.status_code == 303 and "/attempts/" in location
    return response.status_code == 200


async def run_target(
    target: str, learners: list[Learner], seconds: float, answers: list[tuple[str, str]]
) -> Stats:
    """Every learner requests `target` back to back for `seconds`; the run's stats."""
    latencies: list[float] = []
    errors = 0
    out_of_attempts = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def one_user(learner: Learner) -> None:
        nonlocal errors, out_of_attempts
        while time.perf_counter() < deadline:
            request = _request(target, learner, answers)
            if request is None:
                out_of_attempts += 1
                return
            sent = time.perf_counter()
            try:
                r = await request
            except httpx.HTTPError:
                errors += 1
                continue
            if _answered(target, r):
                latencies.append(time.perf_counter() - sent)
            else:
                errors += 1

    await asyncio.gather(*(one_user(learner) for learner in learners))
    elapsed = time.perf_counter() - started
    if out_of_attempts:
        print(f"  ({out_of_attempts} learners ran out of open quiz attempts before the end)")
    return summarize(target, latencies, errors, elapsed)


async def bench(base_url: str, learners: list[Learner], seconds: float, quiz: Quiz) -> list[dict]:
    answers = quiz_answers(quiz)
    print(f"logging in {len(learners)} learners ...", flush=True)
    for start in range(0, len(learners), 10):  # ten password checks at a time
        await asyncio.gather(*(_log_in(base_url, x) for x in learners[start : start + 10]))
    try:
        # Warm-up (templates compiled, connections open), not measured.
        for target in ("lesson page", "result page", "static file"):
            await asyncio.gather(*(_request(target, x, answers) for x in learners))
        pairs = []
        for target in ("lesson page", "quiz submission", "result page"):
            print(f"{target}: {len(learners)} users for {seconds:g} s, then {STATIC}", flush=True)
            page = await run_target(target, learners, seconds, answers)
            static = await run_target("static file", learners, seconds, answers)
            pairs.append(
                {"page": asdict(page), "static": asdict(static), "ratio": ratios(page, static)}
            )
        return pairs
    finally:
        await asyncio.gather(*(x.client.aclose() for x in learners if x.client))


def _print(pairs: list[dict], users: int) -> None:
    print(f"\n== {users} concurrent users ==")
    print(f"  {'target':18} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for pair in pairs:
        for row in (pair["page"], pair["static"]):
            print(
                f"  {row['target']:18} {row['requests']:8d} {row['errors']:6d} "
                f"{row['throughput']:8.1f} {row['p50_ms'] or 0:8.1f} {row['p99_ms'] or 0:8.1f}"
            )
        r = pair["ratio"]
        print(
            f"  -> {pair['page']['target']} / static file: throughput {r['throughput']}x, "
            f"p50 {r['p50']}x, p99 {r['p99']}x\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent logged-in learners")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each target's run")
    parser.add_argument("--workers", type=int, default=1, help="web processes of `servelab serve`")
    args = parser.parse_args()
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be between 1 and {MAX_USERS}")
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be above 0 and at most {MAX_SECONDS:g}")
    attempts_each = math.ceil(QUIZ_POSTS_PER_SECOND_BOUND * args.seconds / args.users)
    with tempfile.TemporaryDirectory(prefix="servelab-web-bench-") as folder:
        root = Path(folder)
        settings = Settings(environment="test", var_dir=root / "var")
        quiz = load_settings_course(settings).quizzes[SLUG]
        serve_args = ["--workers", str(args.workers)] if args.workers > 1 else []
        with live_server(settings, root, serve_args=serve_args) as server:
            learners = _make_learners(settings, args.users, attempts_each, quiz)
            pairs = asyncio.run(bench(server.base_url, learners, args.seconds, quiz))
    _print(pairs, args.users)
    summary = {
        "users": args.users,
        "seconds": args.seconds,
        "workers": args.workers,
        "pairs": pairs,
    }
    out = PROJECT_ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"web-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(summary, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
