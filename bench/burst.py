"""Deadline rush: many submissions arrive within seconds through the HTTP API; how long until
every one has its result?

    .venv/bin/python bench/burst.py [--count 100] [--window 10] [--workers 1 2]
    .venv/bin/python bench/burst.py --url http://127.0.0.1:8000 --tokens tokens.txt

By default, for each worker count a real `servelab serve` runs on loopback with its embedded
grading pool of that many workers, on a fresh SQLite database, with two exercises: the flagship
(graders/fastapi-for-ml-apis) and the tiny fixture (tests/fixtures/course). `--count`
learners (one API token each) send one submission each, evenly spread over `--window`
seconds, through POST /api/v1/submissions: a fixed mix of references, every flagship mutant,
starters and hostile programs (tests/grading/hostile laid over the tiny reference).
`--url` sends the same mix to a running deployment instead, one learner token per line of
`--tokens` (make them with `servelab users create --token`).

Prints time to drain (first submission to last result, by the server's clocks), p50 and p95
from submission to result, platform errors (status `error`, or a 5xx answer), submissions lost
(accepted but never final by `--timeout`) and refused, then the ratio of the drain rates. Only
loopback is used by default; every loop is bounded in count and time. Results also go to
bench/results/.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.accounts.security import hash_password
from servelab.db.engine import make_engine
from servelab.db.models import User
from servelab.settings import PROJECT_ROOT, Settings

sys.path.insert(0, str(PROJECT_ROOT / "tests"))  # the one loopback server harness
from live_server import live_server  # noqa: E402

FLAGSHIP = "fastapi-for-ml-apis"
TINY = "tiny-regression"
FLAGSHIP_GRADER = PROJECT_ROOT / "graders" / FLAGSHIP
FIXTURE_COURSE = PROJECT_ROOT / "tests" / "fixtures" / "course"
TINY_GRADER = FIXTURE_COURSE / "graders" / TINY
HOSTILE = PROJECT_ROOT / "tests" / "grading" / "hostile"
API = "/api/v1/submissions"
POLL_SECONDS = 2.0
MAX_COUNT = 500  # bounded: this is a benchmark on one machine, not a load generator


@dataclass(frozen=True)
class Planned:
    kind: str  # e.g. "flagship reference", "hostile fork_bomb"
    exercise: str
    files: dict[str, str]


@dataclass
class Sent:
    planned: Planned
    token: str
    sent_at: float = 0.0
    status_code: int = 0
    submission_id: int | None = None
    final: dict | None = None
    observed_at: float | None = None
    problem: str = ""


@dataclass
class RunResult:
    label: str
    sent: list[Sent] = field(default_factory=list)
    send_seconds: float = 0.0

    def accepted(self) -> list[Sent]:
        return [s for s in self.sent if s.submission_id is not None]

    def finished(self) -> list[Sent]:
        return [s for s in self.accepted() if s.final is not None]

    def latencies(self) -> list[float]:
        """Submission to result per finished submission, by the server's clock."""
        return [_server_seconds(s) for s in self.finished()]

    def drain_seconds(self) -> float | None:
        done = self.finished()
        if not done or len(done) < len(self.accepted()):
            return None
        start = min(_stamp(s.final, "submitted_at") for s in done)  # type: ignore[arg-type]
        end = max(_stamp(s.final, "graded_at") for s in done)  # type: ignore[arg-type]
        return end - start

    def summary(self) -> dict:
        statuses = Counter(str(s.final["status"]) for s in self.finished())  # type: ignore[index]
        server_errors = sum(1 for s in self.sent if s.status_code >= 500)
        lat = self.latencies()
        by_kind: dict[str, list[float]] = {}
        for s in self.finished():
            by_kind.setdefault(s.planned.kind.split(" ")[0], []).append(_server_seconds(s))
        return {
            "label": self.label,
            "submissions": len(self.sent),
            "send_seconds": round(self.send_seconds, 2),
            "accepted": len(self.accepted()),
            "refused": len(self.sent) - len(self.accepted()),
            "refusals": sorted({s.problem for s in self.sent if s.problem})[:5],
            "drain_seconds": _round(self.drain_seconds()),
            "p50_seconds": _round(percentile(lat, 0.5) if lat else None),
            "p95_seconds": _round(percentile(lat, 0.95) if lat else None),
            "statuses": dict(statuses),
            "platform_errors": statuses.get("error", 0) + server_errors,
            "lost": len(self.accepted()) - len(self.finished()),
            "median_by_family": {k: round(statistics.median(v), 2) for k, v in by_kind.items()},
        }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _stamp(document: dict, name: str) -> float:
    return datetime.fromisoformat(str(document[name])).timestamp()


def _server_seconds(sent: Sent) -> float:
    assert sent.final is not None
    if sent.final.get("graded_at") and sent.final.get("submitted_at"):
        return _stamp(sent.final, "graded_at") - _stamp(sent.final, "submitted_at")
    return (sent.observed_at or 0.0) - sent.sent_at


# --- what is submitted -------------------------------------------------------------------------


def _read(folder: Path, names: set[str] | None = None) -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix in (".py", ".txt") and (names is None or p.name in names)
    }


def the_mix(count: int, seed: int = 10) -> list[Planned]:
    """A deck of 100 (8 + 8 mutants + 4 flagship; 45 + 25 tiny; 10 hostile), shuffled, then
    cut or repeated to `count`."""
    flagship_reference = _read(FLAGSHIP_GRADER / "solution")
    tiny_reference = _read(TINY_GRADER / "solution")
    deck = [Planned("reference flagship", FLAGSHIP, flagship_reference)] * 8
    for mutant in sorted(p for p in (FLAGSHIP_GRADER / "mutants").iterdir() if p.is_dir()):
        files = {**flagship_reference, **_read(mutant)}
        deck.append(Planned(f"mutant {mutant.name}", FLAGSHIP, files))
    deck += [
        Planned(
            "starter flagship", FLAGSHIP, _read(PROJECT_ROOT / "exercises" / FLAGSHIP / "starter")
        )
    ] * 4
    deck += [Planned("reference tiny", TINY, tiny_reference)] * 45
    tiny_starter = _read(FIXTURE_COURSE / "exercises" / TINY / "starter")
    deck += [Planned("starter tiny", TINY, tiny_starter)] * 25
    hostile = sorted(p for p in HOSTILE.iterdir() if p.is_dir() and p.name != "well_behaved")
    for folder in itertools.islice(itertools.cycle(hostile), 100 - len(deck)):
        deck.append(Planned(f"hostile {folder.name}", TINY, {**tiny_reference, **_read(folder)}))
    random.Random(seed).shuffle(deck)
    return list(itertools.islice(itertools.cycle(deck), count))


# --- sending and waiting -----------------------------------------------------------------------


def burst(
    base_url: str,
    tokens: list[str],
    plan: list[Planned],
    *,
    window: float,
    timeout: float,
    label: str,
) -> RunResult:
    """Send `plan` evenly over `window` seconds (one learner token each), then poll every
    accepted submission until it is final or `timeout` seconds have passed."""
    result = RunResult(label, [Sent(p, t) for p, t in zip(plan, tokens, strict=False)])
    limits = httpx.Limits(max_connections=32)
    with httpx.Client(base_url=base_url, timeout=60, limits=limits) as client:
        started = time.monotonic()

        def send(index: int) -> None:
            item = result.sent[index]
            time.sleep(max(0.0, started + index * window / len(result.sent) - time.monotonic()))
            item.sent_at = time.time()
            try:
                r = client.post(
                    API,
                    json={"exercise": item.planned.exercise, "files": item.planned.files},
                    headers={"authorization": f"Bearer {item.token}"},
                )
            except httpx.HTTPError as exc:
                item.problem = f"{type(exc).__name__}"
                return
            item.status_code = r.status_code
            if r.status_code == 201:
                item.submission_id = int(r.json()["id"])
            else:
                item.problem = f"{r.status_code}: {r.text[:160]}"

        with ThreadPoolExecutor(max_workers=16) as senders:
            list(senders.map(send, range(len(result.sent))))
        result.send_seconds = time.monotonic() - started
        _wait(client, result.accepted(), deadline=time.monotonic() + timeout)
    return result


def _wait(client: httpx.Client, pending: list[Sent], *, deadline: float) -> None:
    waiting = list(pending)
    last_report = 0.0
    while waiting and time.monotonic() < deadline:
        for item in list(waiting):
            try:
                r = client.get(
                    f"{API}/{item.submission_id}",
                    headers={"authorization": f"Bearer {item.token}"},
                )
            except httpx.HTTPError:
                continue  # counted as lost if it never answers again
            if r.status_code == 200 and r.json()["final"]:
                item.final, item.observed_at = r.json(), time.time()
                waiting.remove(item)
        if time.monotonic() - last_report > 30:
            last_report = time.monotonic()
            print(
                f"  ... {len(pending) - len(waiting)}/{len(pending)} have their result", flush=True
            )
        if waiting:
            time.sleep(POLL_SECONDS)


# --- the embedded deployment -------------------------------------------------------------------


def _course(root: Path) -> tuple[Path, Path]:
    """exercises/ and graders/ with the flagship and the tiny fixture exercise."""
    exercises, graders = root / "exercises", root / "graders"
    shutil.copytree(PROJECT_ROOT / "exercises" / FLAGSHIP, exercises / FLAGSHIP)
    shutil.copytree(FIXTURE_COURSE / "exercises" / TINY, exercises / TINY)
    shutil.copytree(
        FLAGSHIP_GRADER, graders / FLAGSHIP, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(TINY_GRADER, graders / TINY)
    return exercises, graders


def _learner_tokens(settings: Settings, count: int) -> list[str]:
    engine = make_engine(settings)
    password_hash = hash_password("burst benchmark learner")
    tokens = []
    with Session(engine) as db:
        for n in range(count):
            user = User(
                email=f"burst{n}@example.org",
                display_name=f"burst {n}",
                password_hash=password_hash,
            )
            db.add(user)
            db.commit()
            db.refresh(user)
            tokens.append(accounts.create_api_token(db, user=user, name="burst"))
    engine.dispose()
    return tokens


def embedded_run(workers: int, plan: list[Planned], *, window: float, timeout: float) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="servelab-burst-") as folder:
        root = Path(folder)
        exercises, graders = _course(root / "course")
        settings = Settings(
            environment="test", var_dir=root / "var", exercises_dir=exercises, graders_dir=graders
        )
        env = {"SERVELAB_EMBEDDED_WORKER": "true", "SERVELAB_WORKER_COUNT": str(workers)}
        with live_server(settings, root, **env) as server:
            tokens = _learner_tokens(settings, len(plan))
            label = f"embedded pool, {workers} worker(s)"
            print(f"{label}: sending {len(plan)} submissions over {window:g} s", flush=True)
            return burst(server.base_url, tokens, plan, window=window, timeout=timeout, label=label)


def _print(summary: dict) -> None:
    print(f"\n== {summary['label']} ==")
    for key in (
        "submissions",
        "send_seconds",
        "accepted",
        "refused",
        "drain_seconds",
        "p50_seconds",
        "p95_seconds",
        "statuses",
        "platform_errors",
        "lost",
        "median_by_family",
    ):
        print(f"  {key:18} {summary[key]}")
    if summary["refusals"]:
        print(f"  refusals           {summary['refusals']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument(
        "--window", type=float, default=10.0, help="seconds the submissions arrive within"
    )
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="embedded pool sizes to compare"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds to wait for the results, per run"
    )
    parser.add_argument("--url", help="a running deployment instead of the embedded one")
    parser.add_argument("--tokens", type=Path, help="with --url: one learner API token per line")
    args = parser.parse_args()
    if not 1 <= args.count <= MAX_COUNT:
        parser.error(f"--count must be between 1 and {MAX_COUNT}")
    plan = the_mix(args.count)
    print(f"mix: {dict(Counter(p.kind.split(' ')[0] + ' ' + p.exercise for p in plan))}")

    summaries = []
    if args.url:
        if not args.tokens:
            parser.error("--url needs --tokens (one learner API token per line)")
        tokens = [t.strip() for t in args.tokens.read_text().splitlines() if t.strip()]
        if len(tokens) < args.count:
            parser.error(f"--tokens has {len(tokens)} tokens; --count {args.count} needs as many")
        summaries.append(
            burst(
                args.url, tokens, plan, window=args.window, timeout=args.timeout, label=args.url
            ).summary()
        )
    else:
        for workers in args.workers:
            summaries.append(
                embedded_run(workers, plan, window=args.window, timeout=args.timeout).summary()
            )
    for summary in summaries:
        _print(summary)
    drains = [s["drain_seconds"] for s in summaries]
    if len(summaries) == 2 and all(drains):
        faster, slower = summaries[1]["label"], summaries[0]["label"]
        print(f"\nratio of drain rates ({faster} / {slower}): {drains[0] / drains[1]:.2f}x")
    out = PROJECT_ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"burst-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(summaries, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
