"""A learner's /openapi.json is data, never an address: the real flagship suite against
services whose documents point at a loopback listener, a FIFO, or themselves, or ask the
fuzzer for more work than it may spend."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flagship_helpers import EXERCISE_DIR, GRADER_DIR, solution_variant

from servelab.grading.calibration import run_suite, served
from servelab.grading.results import CheckStatus, ResultDocument

OPENAPI_CHECKS = {"test_openapi_declares_endpoints", "test_fuzz_from_openapi_finds_no_5xx"}

# Appended to the reference solution's main.py: the same app, its document rewritten.
HOSTILE_OPENAPI = """

import copy as _copy

_original_openapi = app.openapi


def _hostile_openapi():
    document = _copy.deepcopy(_original_openapi())
    schemas = document["components"]["schemas"]
    schemas["Customer"]["properties"].update({PROPERTIES!r})
    schemas.update({EXTRA!r})
    return document


app.openapi = _hostile_openapi
"""


@contextmanager
def loopback_listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP listener on 127.0.0.1 that records every connection made to it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    seen: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, peer = server.accept()
            except TimeoutError:
                continue
            seen.append(f"{peer[0]}:{peer[1]}")
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], seen
    finally:
        stop.set()
        thread.join(5)
        server.close()


@contextmanager
def watched_fifo(path: Path) -> Iterator[threading.Event]:
    """A FIFO whose writer blocks until someone opens it for reading; the event says so."""
    os.mkfifo(path)
    opened = threading.Event()

    def write() -> None:
        with open(path, "wb") as fifo:  # blocks until a reader opens the FIFO
            opened.set()
            fifo.write(b"{}")

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield opened
    finally:
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # release the writer
        thread.join(5)
        os.close(reader)


def _grade_variant(
    tmp_path: Path, properties: dict[str, object], extra: dict[str, object] | None = None
) -> ResultDocument:
    """Grade the reference solution whose document has these Customer properties (and extra
    schemas) instead of its own."""
    code = HOSTILE_OPENAPI.format(PROPERTIES=properties, EXTRA=extra or {})
    source = solution_variant(tmp_path / "service", append_to_main=code)
    work = tmp_path / "work"
    work.mkdir()
    started = time.monotonic()
    with served(source, EXERCISE_DIR / "data", work) as sock:
        result = run_suite(sock, EXERCISE_DIR, GRADER_DIR, work / "results.json", timeout=300)
    print(f"trained, served and graded in {time.monotonic() - started:.1f} s")
    return result


def _failed(result: ResultDocument) -> dict[str, str]:
    return {
        t.nodeid.rsplit("::", 1)[-1]: t.output
        for t in result.tests
        if t.status != CheckStatus.PASSED
    }


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_refs_to_addresses_and_files_are_never_followed(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    with loopback_listener() as (port, connections), watched_fifo(fifo) as fifo_opened:
        refs = {
            "plan": f"http://127.0.0.1:{port}/x",
            "region": f"https://127.0.0.1:{port}/y",
            "tenure_months": fifo.as_uri(),
        }
        result = _grade_variant(tmp_path, {field: {"$ref": ref} for field, ref in refs.items()})
        reader_opened_the_fifo = fifo_opened.is_set()  # before the cleanup opens it itself
    assert connections == [], "the grader connected to an address the learner's document named"
    assert not reader_opened_the_fifo, "the grader opened a file the learner's document named"
    failed = _failed(result)
    assert set(failed) == OPENAPI_CHECKS, failed
    for output in failed.values():
        assert "web addresses (http:// or https://)" in output
        assert "files (file://)" in output and "fetched and opened nothing" in output
        assert str(port) not in output and str(fifo) not in output  # learner text is not quoted


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_ref_cycle_fails_the_openapi_checks_and_the_suite_finishes(tmp_path: Path) -> None:
    cycle = {"Loop": {"$ref": "#/components/schemas/Loop"}}
    result = _grade_variant(tmp_path, {"plan": {"$ref": "#/components/schemas/Loop"}}, cycle)
    failed = _failed(result)
    assert set(failed) == OPENAPI_CHECKS, failed
    assert all("form a cycle" in output for output in failed.values())
    assert result.max_score == 100 and result.score == 100 - 2 - 2


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_schema_too_expensive_to_fuzz_stops_the_fuzz_not_the_suite(tmp_path: Path) -> None:
    # Hypothesis spends minutes trying to build strings for this pattern.
    expensive = {"plan": {"type": "string", "pattern": "^(a{1000}){1000}$"}}
    result = _grade_variant(tmp_path, expensive)
    failed = _failed(result)
    assert set(failed) == {"test_fuzz_from_openapi_finds_no_5xx"}, failed
    assert "The fuzzer was stopped after 45 s" in failed["test_fuzz_from_openapi_finds_no_5xx"]
    fuzz = next(t for t in result.tests if t.nodeid.endswith("test_fuzz_from_openapi_finds_no_5xx"))
    print(f"fuzz check stopped after {fuzz.seconds:.1f} s; suite {result.execution_time:.1f} s")
