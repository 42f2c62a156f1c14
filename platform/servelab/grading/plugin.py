"""ServeLab's pytest plugin for grader authors (load with `-p servelab.grading.plugin`).

Fixtures: `service` (httpx.Client bound to the learner's Unix socket, base_url
http://service), `hidden_data(name)`, `public_data(name)`, `exercise`. Markers:
`points(n)`, `category(name)`, `visibility("visible" | "hidden" | "after_due")`.
Helpers: `feedback(message, *, section=None)` and `record_table(name, rows)` attach
learner-facing text to the running check. Learners see only those; raw assertion text
goes to an instructor-only field. With `--servelab-results PATH` the plugin writes the
result document there at the end of the session.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from servelab.content.exercise import Exercise, load_exercise
from servelab.grading.results import (
    MAX_RESULT_BYTES,
    CheckStatus,
    FeedbackNote,
    LeaderboardEntry,
    ResultDocument,
    Table,
    TestResult,
    Visibility,
)

DEFAULT_POINTS = 1.0
DEFAULT_CATEGORY = "general"
_INSTRUCTOR_TEXT_CAP = 8_000
_ANCHOR_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass
class _Check:
    nodeid: str
    name: str
    points: float
    category: str
    visibility: Visibility
    status: CheckStatus = CheckStatus.PASSED
    feedback: list[FeedbackNote] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timed_out: bool = False  # a request to the service timed out during this check
    unreachable: bool = False  # a request could not connect or the connection broke


class _State:
    current: _Check | None = None
    leaderboard: list[LeaderboardEntry] = []


def _running_check(helper: str) -> _Check:
    if _State.current is None:
        raise RuntimeError(f"{helper}() can only be called while a grader check is running")
    return _State.current


def feedback(message: str, *, section: str | None = None) -> None:
    """Tell the learner something about the running check (shown whatever its outcome).

    `section` is a lesson anchor id (e.g. "leakage") the learner should reread.
    """
    if section is not None and (not section or set(section) - _ANCHOR_CHARS):
        raise ValueError(f"section must be a lesson anchor id like 'leakage', got {section!r}")
    _running_check("feedback").feedback.append(FeedbackNote(message=str(message), section=section))


def _cell(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _cell(value.item())
    return str(value)


def record_table(name: str, rows: list[dict[str, Any]]) -> None:
    """Show the learner a small table for the running check, e.g. a metric per slice."""
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise TypeError("record_table rows must be a list of dicts (one dict per row)")
    cleaned = [{str(k): _cell(v) for k, v in row.items()} for row in rows]
    _running_check("record_table").tables.append(Table(name=str(name), rows=cleaned))


def record_leaderboard(name: str, value: float | str, *, order: str = "desc") -> None:
    """Add a leaderboard entry (Gradescope's optional leaderboard)."""
    _State.leaderboard.append(LeaderboardEntry(name=name, value=value, order=order))  # type: ignore[arg-type]


# --- the HTTP client's guard rails -------------------------------------------------------

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_TIMEOUTS = 2


class _CappedStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, limit: int) -> None:
        self.inner, self.limit = inner, limit

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self.inner:
            seen += len(chunk)
            if seen > self.limit:
                raise httpx.RemoteProtocolError(
                    f"the service sent a response body over {self.limit // (1024 * 1024)} MB"
                )
            yield chunk

    def close(self) -> None:
        self.inner.close()


class _GuardedTransport(httpx.BaseTransport):
    """Caps response bodies, and stops waiting on a service that keeps timing out.

    A learner's service that hangs would otherwise cost every remaining check a full
    timeout and push the whole suite past its deadline; after MAX_TIMEOUTS timeouts in a
    row, requests fail at once and the checks fail with an explanation instead.
    """

    def __init__(self, inner: httpx.BaseTransport, *, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self.inner = inner
        self.max_bytes = max_bytes
        self.timeouts_in_a_row = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.timeouts_in_a_row >= MAX_TIMEOUTS:
            self._note_timeout()
            raise httpx.ReadTimeout(
                "the service stopped answering (it timed out repeatedly); not waiting again",
                request=request,
            )
        try:
            response = self.inner.handle_request(request)
        except httpx.TimeoutException:
            self.timeouts_in_a_row += 1
            self._note_timeout()
            raise
        except httpx.TransportError:
            if _State.current is not None:
                _State.current.unreachable = True
            raise
        self.timeouts_in_a_row = 0
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _CappedStream(response.stream, self.max_bytes)
        return response

    def _note_timeout(self) -> None:
        if _State.current is not None:
            _State.current.timed_out = True

    def close(self) -> None:
        self.inner.close()


# --- options, markers, fixtures -------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("servelab", "ServeLab grading")
    group.addoption("--servelab-socket", help="Unix socket the learner's service listens on")
    group.addoption("--servelab-base-url", help="TCP URL of a service (authoring without Docker)")
    group.addoption("--servelab-exercise-dir", help="exercises/<slug>/ (public data, settings)")
    group.addoption("--servelab-grader-dir", help="graders/<slug>/ (hidden data)")
    group.addoption("--servelab-results", help="write the result document (JSON) here")
    group.addoption(
        "--servelab-request-timeout", type=float, default=10.0, help="seconds per HTTP request"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): points this check is worth (default 1)")
    config.addinivalue_line("markers", "category(name): contract, leakage, baseline, slices, ...")
    config.addinivalue_line(
        "markers",
        "visibility(v): visible (default), hidden, or after_due (shown after the due date)",
    )
    _State.current = None
    _State.leaderboard = []
    # Always tracks the running check (so feedback() works when authors run a suite by hand);
    # writes the result document only with --servelab-results.
    config.pluginmanager.register(_ResultCollector(config), "servelab-results")


def _dir_option(config: pytest.Config, name: str, flag: str) -> Path:
    value = config.getoption(name)
    if not value:
        raise pytest.UsageError(f"{flag} is required for this fixture")
    return Path(value).resolve()


def _data_file(folder: Path, name: str) -> Path:
    path = (folder / name).resolve()
    if not path.is_relative_to(folder):
        raise ValueError(f"data file {name!r} is outside {folder}")
    if not path.is_file():
        raise FileNotFoundError(f"data file {name!r} not found in {folder}")
    return path


@pytest.fixture(scope="session")
def service(pytestconfig: pytest.Config) -> Iterator[httpx.Client]:
    """An httpx.Client for the learner's service (base_url http://service)."""
    timeout = httpx.Timeout(pytestconfig.getoption("servelab_request_timeout"))
    socket = pytestconfig.getoption("servelab_socket")
    base_url = pytestconfig.getoption("servelab_base_url")
    if socket:
        transport = _GuardedTransport(httpx.HTTPTransport(uds=socket))
        client = httpx.Client(transport=transport, base_url="http://service", timeout=timeout)
    elif base_url:
        transport = _GuardedTransport(httpx.HTTPTransport())
        client = httpx.Client(transport=transport, base_url=base_url, timeout=timeout)
    else:
        raise pytest.UsageError("--servelab-socket (or --servelab-base-url) is required")
    with client:
        yield client


@pytest.fixture(scope="session")
def hidden_data(pytestconfig: pytest.Config) -> Callable[[str], Path]:
    """name -> Path of a hidden data file under graders/<slug>/data/."""
    folder = _dir_option(pytestconfig, "servelab_grader_dir", "--servelab-grader-dir") / "data"
    return lambda name: _data_file(folder, name)


@pytest.fixture(scope="session")
def public_data(pytestconfig: pytest.Config) -> Callable[[str], Path]:
    """name -> Path of a public data file under exercises/<slug>/data/."""
    folder = _dir_option(pytestconfig, "servelab_exercise_dir", "--servelab-exercise-dir") / "data"
    return lambda name: _data_file(folder, name)


@pytest.fixture(scope="session")
def exercise(pytestconfig: pytest.Config) -> Exercise:
    """The validated exercise.toml settings."""
    folder = _dir_option(pytestconfig, "servelab_exercise_dir", "--servelab-exercise-dir")
    return load_exercise(folder / "exercise.toml")


# --- collecting results ---------------------------------------------------------------------


def _marker_arg(item: pytest.Item, name: str) -> Any:
    marker = item.get_closest_marker(name)
    if marker is None:
        return None
    if len(marker.args) != 1 or marker.kwargs:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{name} takes exactly one argument")
    return marker.args[0]


def _check_for(item: pytest.Item) -> _Check:
    points = _marker_arg(item, "points")
    points = DEFAULT_POINTS if points is None else points
    if isinstance(points, bool) or not isinstance(points, int | float) or points < 0:
        raise pytest.UsageError(f"{item.nodeid}: points must be a number >= 0, got {points!r}")
    category = _marker_arg(item, "category") or DEFAULT_CATEGORY
    if not isinstance(category, str):
        raise pytest.UsageError(f"{item.nodeid}: category must be a string")
    raw_visibility = _marker_arg(item, "visibility") or Visibility.VISIBLE
    try:
        visibility = Visibility(raw_visibility)
    except ValueError:
        allowed = ", ".join(v.value for v in Visibility)
        raise pytest.UsageError(
            f"{item.nodeid}: visibility must be one of {allowed}, got {raw_visibility!r}"
        ) from None
    return _Check(
        nodeid=item.nodeid,
        name=_check_name(item),
        points=float(points),
        category=category,
        visibility=visibility,
    )


def _check_name(item: pytest.Item) -> str:
    function = getattr(item, "function", None)
    doc = (getattr(function, "__doc__", None) or "").strip()
    base = doc.splitlines()[0].strip() if doc else ""
    if not base:
        original = getattr(item, "originalname", item.name)
        base = original.removeprefix("test_").replace("_", " ").strip().capitalize()
    callspec = getattr(item, "callspec", None)
    return f"{base} [{callspec.id}]" if callspec is not None else base


def _cap(text: str, limit: int = _INSTRUCTOR_TEXT_CAP) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… [{len(text) - limit} characters cut] …\n{text[-half:]}"


def _learner_output(check: _Check) -> str:
    notes = "\n\n".join(note.message for note in check.feedback)
    if notes or check.status == CheckStatus.PASSED:
        return notes
    if check.status == CheckStatus.SKIPPED:
        return f'The check "{check.name}" was not run.'
    if check.timed_out:
        return (
            f'The check "{check.name}" did not pass: your service did not answer in time. '
            "Each request gets a few seconds; make sure no endpoint blocks or loops."
        )
    if check.unreachable:
        return (
            f'The check "{check.name}" did not pass: the connection to your service failed. '
            "It may have crashed while answering; its log says why."
        )
    if check.status == CheckStatus.ERROR:
        return f'The check "{check.name}" could not be completed against your service.'
    return f'The check "{check.name}" did not pass.'


class _ResultCollector:
    """Collects every check's outcome and writes the result document at session end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        results = config.getoption("servelab_results", None)
        self.path = Path(results) if results else None
        self.checks: list[_Check] = []
        self.suite_errors: list[str] = []
        self.started = time.monotonic()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            item.stash[_CHECK_KEY] = _check_for(item)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.suite_errors.append(_cap(f"collecting {report.nodeid}:\n{report.longreprtext}"))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        check = item.stash.get(_CHECK_KEY, None) or _check_for(item)
        _State.current = check
        try:
            yield
        finally:
            _State.current = None
        self.checks.append(check)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        check = _State.current
        if check is None or check.nodeid != report.nodeid:
            return
        check.seconds += report.duration
        if report.skipped and check.status == CheckStatus.PASSED:
            check.status = CheckStatus.SKIPPED
        elif report.failed:
            if report.when == "call":
                check.status = CheckStatus.FAILED
            elif check.status in (CheckStatus.PASSED, CheckStatus.SKIPPED):
                check.status = CheckStatus.ERROR
            check.raw.append(f"[{report.when}] {report.longreprtext}")
        for title, content in report.sections:
            if content.strip():
                check.raw.append(f"[{title}]\n{content}")

    def pytest_internalerror(self, excrepr: Any) -> None:
        self.suite_errors.append(_cap(f"internal error:\n{excrepr}"))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.path is None:
            return
        doc = self._document()
        text = doc.model_dump_json()
        if len(text.encode()) > MAX_RESULT_BYTES:
            trimmed = [t.model_copy(update={"instructor_output": ""}) for t in doc.tests]
            doc = doc.model_copy(update={"tests": trimmed, "instructor_output": ""})
            text = doc.model_dump_json()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, self.path)

    def _document(self) -> ResultDocument:
        tests = []
        for check in self.checks:
            ok = check.status == CheckStatus.PASSED
            section = next((n.section for n in check.feedback if n.section), None)
            tests.append(
                TestResult(
                    name=check.name[:300],
                    score=check.points if ok else 0.0,
                    max_score=check.points,
                    output=_cap(_learner_output(check), 20_000),
                    visibility=check.visibility,
                    tags=[check.category],
                    status=check.status,
                    category=check.category,
                    feedback=check.feedback,
                    section=section,
                    tables=check.tables,
                    seconds=round(check.seconds, 4),
                    nodeid=check.nodeid[:500],
                    instructor_output=_cap("\n".join(check.raw)),
                )
            )
        passed = sum(t.status == CheckStatus.PASSED for t in tests)
        doc = ResultDocument(
            execution_time=round(time.monotonic() - self.started, 3),
            output=f"{passed} of {len(tests)} checks passed.",
            tests=tests,
            leaderboard=list(_State.leaderboard),
            suite_errors=self.suite_errors[:20],
        )
        return doc.with_totals(self._labels())

    def _labels(self) -> dict[str, str]:
        folder = self.config.getoption("servelab_exercise_dir")
        toml = Path(folder) / "exercise.toml" if folder else None
        if toml is None or not toml.is_file():
            return {}
        try:
            return dict(load_exercise(toml).categories)
        except Exception:  # labels are cosmetic; a broken exercise.toml is reported elsewhere
            return {}


_CHECK_KEY = pytest.StashKey[_Check]()
