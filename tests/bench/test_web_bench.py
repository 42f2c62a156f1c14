"""bench/web.py's statistics: throughput, p50/p99 and the ratios to the static file (the
benchmark itself is run by hand, never in the test suite)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from support import ROOT


def _bench() -> ModuleType:
    sys.path.insert(0, str(ROOT / "bench"))  # its `from burst import percentile`
    spec = importlib.util.spec_from_file_location("bench_web", ROOT / "bench" / "web.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_web"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_summarize_counts_only_answered_requests_in_throughput_and_latency() -> None:
    bench = _bench()
    latencies = [0.500, 0.010] + [0.020] * 97 + [0.010]  # seconds, unsorted
    stats = bench.summarize("lesson page", latencies, errors=5, seconds=2.0)
    assert (stats.requests, stats.errors, stats.throughput) == (105, 5, 50.0)
    # Nearest rank (burst.percentile): p50 is the 50th of 100 values, p99 the 99th.
    assert stats.p50_ms == 20.0 and stats.p99_ms == 20.0
    assert bench.summarize("x", latencies + [0.5] * 5, errors=0, seconds=1.0).p99_ms == 500.0
    empty = bench.summarize("static file", [], errors=3, seconds=1.0)
    assert (empty.throughput, empty.p50_ms, empty.p99_ms) == (0.0, None, None)


def test_ratios_are_page_over_static_file() -> None:
    bench = _bench()
    page = bench.summarize("lesson page", [0.020] * 100, errors=0, seconds=1.0)
    static = bench.summarize("static file", [0.010] * 400, errors=0, seconds=1.0)
    assert bench.ratios(page, static) == {"throughput": 0.25, "p50": 2.0, "p99": 2.0}
    nothing = bench.summarize("static file", [], errors=1, seconds=1.0)
    assert bench.ratios(page, nothing) == {"throughput": None, "p50": None, "p99": None}
