"""ServeLab's pytest plugin for grader authors (load with `-p servelab.grading.plugin`).

Fixtures: `service` (an httpx.Client for the learner's service, bounded per docs/grading.md),
`hidden_data(name)`, `public_data(name)`, `exercise`. Markers: `points(n)`, `category(name)`,
`visibility("visible" | "hidden" | "after_due")`. Helpers: `feedback(message, *, section=None)`
and `record_table(name, rows, *, digits=2)` attach learner-facing text to the running check,
`time_limit(seconds)` stops a block the service could make endless (`TimeLimitReached`);
they live in `suite_helpers` and are re-exported here. Learners see only those (redacted if
they quote hidden data); raw assertion text goes to an instructor-only field. With
`--servelab-results PATH` the result document is written there as the suite goes and at its
end; `--servelab-time-budget` bounds the suite's time and
`--servelab-hidden-parts final,feedback` runs every hidden-data check once per part.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from servelab.content.exercise import Exercise, load_exercise
from servelab.grading.budget import CheckGuard, TimeBudget, TimeLimitReached
from servelab.grading.checks import check_for, hidden_parts
from servelab.grading.fit import DocumentWriter
from servelab.grading.guarded_http import Problem, ServiceLimits, service_client
from servelab.grading.redact import Fingerprint, Redactor
from servelab.grading.report import CheckRecord, NotRun, build_document
from servelab.grading.results import CheckStatus, Part
from servelab.grading.suite_helpers import (
    SuiteState,
    fail,
    feedback,
    record_leaderboard,
    record_table,
    time_limit,
)
from servelab.grading.truncate import cap_text

__all__ = [
    "TimeLimitReached",
    "fail",
    "feedback",
    "record_leaderboard",
    "record_table",
    "time_limit",
]


# --- options, markers, fixtures -------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("servelab", "ServeLab grading")
    group.addoption("--servelab-socket", help="Unix socket the learner's service listens on")
    group.addoption("--servelab-base-url", help="TCP URL of a service (authoring without Docker)")
    group.addoption("--servelab-exercise-dir", help="exercises/<slug>/ (public data, settings)")
    group.addoption("--servelab-grader-dir", help="graders/<slug>/ (hidden data)")
    group.addoption("--servelab-results", help="write the result document (JSON) here")
    group.addoption(
        "--servelab-request-timeout",
        type=float,
        default=10.0,
        help="total seconds per HTTP request to the service (its deadline)",
    )
    group.addoption("--servelab-time-budget", type=float, help="seconds the whole suite may spend")
    group.addoption(
        "--servelab-hidden-parts",
        help="comma-separated parts of split hidden data (final,feedback): every check that "
        "uses hidden_data runs once per part, on data/<part>/",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): points this check is worth (default 1)")
    config.addinivalue_line("markers", "category(name): contract, leakage, baseline, slices, ...")
    config.addinivalue_line(
        "markers",
        "visibility(v): visible (default), hidden, or after_due (shown after the due date)",
    )
    SuiteState.current = None
    SuiteState.leaderboard = []
    hidden_parts(config)  # a wrong --servelab-hidden-parts is a usage error before collection
    # Always tracks the running check (so feedback() works when authors run a suite by hand);
    # writes the result document only with --servelab-results.
    config.pluginmanager.register(_ResultCollector(config), "servelab-results")


def _collector(config: pytest.Config) -> _ResultCollector:
    plugin = config.pluginmanager.get_plugin("servelab-results")
    assert isinstance(plugin, _ResultCollector)
    return plugin


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """With split hidden data, every check that reads hidden data runs once per part."""
    parts = hidden_parts(metafunc.config)
    if parts and "hidden_data" in metafunc.fixturenames:
        values = [part.value for part in parts]
        metafunc.parametrize("hidden_data", values, indirect=True, scope="session", ids=values)


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


def _note_problem(problem: Problem) -> None:
    if SuiteState.current is not None:
        SuiteState.current.problems.add(problem)


@pytest.fixture(scope="session")
def service(pytestconfig: pytest.Config) -> Iterator[httpx.Client]:
    """An httpx.Client for the learner's service (base_url http://service)."""
    collector = _collector(pytestconfig)
    socket = pytestconfig.getoption("servelab_socket")
    base_url = pytestconfig.getoption("servelab_base_url")
    if not socket and not base_url:
        raise pytest.UsageError("--servelab-socket (or --servelab-base-url) is required")
    client = service_client(
        uds=socket or None,
        base_url="http://service" if socket else base_url,
        limits=collector.limits,
        time_left=collector.budget.left,
        on_problem=_note_problem,
    )
    with client:
        yield client


@pytest.fixture(scope="session")
def hidden_data(
    request: pytest.FixtureRequest, pytestconfig: pytest.Config
) -> Callable[[str], Path]:
    """name -> Path of a hidden data file under graders/<slug>/data/ (data/<part>/ if split)."""
    folder = _dir_option(pytestconfig, "servelab_grader_dir", "--servelab-grader-dir") / "data"
    part = getattr(request, "param", None)
    if part is not None:
        folder = folder / Part(part).value
    elif hidden_parts(pytestconfig):
        raise RuntimeError(
            "with split hidden data, take hidden_data as a fixture argument (it is "
            "parametrized per part), not through request.getfixturevalue()"
        )
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


_CHECK_KEY = pytest.StashKey[CheckRecord]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """A check not started before the time budget ends is not run (and scores 0)."""
    collector = _collector(item.config)
    if not collector.budget.spent:
        return None
    check = collector.check(item)
    check.not_run, check.finished = NotRun.OUT_OF_TIME, True
    return True


# --- collecting results ---------------------------------------------------------------------


class _ResultCollector:
    """Records every check's outcome; writes the result document as the suite goes."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.budget = TimeBudget(config.getoption("servelab_time_budget", None))
        self.guard = CheckGuard(self.budget, self._stopped_for_time)
        SuiteState.guard = self.guard
        self.limits = ServiceLimits(
            deadline_seconds=config.getoption("servelab_request_timeout", None) or 10.0
        )
        results = config.getoption("servelab_results", None)
        self.writer = DocumentWriter(Path(results)) if results else None
        self.started = time.monotonic()
        self.checks: list[CheckRecord] = []
        self.suite_errors: list[str] = []
        self._redactor: Redactor | None = None
        self._warnings: list[str] = []
        self.labels = _category_labels(config)

    def check(self, item: pytest.Item) -> CheckRecord:
        record = item.stash.get(_CHECK_KEY, None)
        if record is None:  # an item run without collection (e.g. by another plugin)
            record = item.stash[_CHECK_KEY] = check_for(item)
            self.checks.append(record)
        return record

    @staticmethod
    def _stopped_for_time() -> None:
        if SuiteState.current is not None:
            SuiteState.current.stopped_for_time = True

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:  # the final order, after every plugin's reordering
            self.check(item)
        self._write(complete=False)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.suite_errors.append(
                cap_text(f"collecting {report.nodeid}:\n{report.longreprtext}", 8_000)
            )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        check = self.check(item)
        if self.budget.spent:  # not run: the module's pytest_runtest_protocol marks it
            return (yield)
        check.not_run = None
        SuiteState.current = check
        try:
            return (yield)
        finally:
            SuiteState.current = None
            check.finished = True
            if self.writer is not None and self.writer.due:
                self._write(complete=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        with self.guard.phase():
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        with self.guard.phase():
            return (yield)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        check = SuiteState.current
        if check is None:
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
        self.suite_errors.append(cap_text(f"internal error:\n{excrepr}", 8_000))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._write(complete=True)

    def _write(self, *, complete: bool) -> None:
        if self.writer is None:
            return
        doc = build_document(
            self.checks,
            started=self.started,
            leaderboard=list(SuiteState.leaderboard),
            suite_errors=self.suite_errors,
            warnings=self._warnings,
            redactor=self._redactor_once(),
            limits=self.limits,
            labels=self.labels,
            complete=complete,
        )
        self.writer.write(doc)

    def _redactor_once(self) -> Redactor | None:
        grader = self.config.getoption("servelab_grader_dir", None)
        if self._redactor is None and grader:
            exercise = self.config.getoption("servelab_exercise_dir", None)
            grader_dir = Path(grader).resolve()
            fingerprint = Fingerprint.build(
                grader_dir / "data",
                public_dirs=[Path(exercise).resolve()] if exercise else [],
                source_dirs=[grader_dir],
            )
            self._warnings += [f"hidden-data leak check: {note}" for note in fingerprint.notes]
            self._redactor = Redactor(fingerprint)
        return self._redactor


def _category_labels(config: pytest.Config) -> dict[str, str]:
    folder = config.getoption("servelab_exercise_dir", None)
    toml = Path(folder) / "exercise.toml" if folder else None
    if toml is None or not toml.is_file():
        return {}
    try:
        return dict(load_exercise(toml).categories)
    except Exception:  # labels are cosmetic; a broken exercise.toml is reported elsewhere
        return {}
