"""Monitoring checks on GET /metrics: parsed with prometheus_client's own parser, read before
and after a mix of requests the grader counted (the `exchange` fixture)."""

from __future__ import annotations

import math

import pytest
from monitoring_support import (
    LATENCY,
    MONITORED,
    REQUESTS,
    SCORES,
    buckets,
    fail,
    family_type,
)

from conftest import Exchange


@pytest.mark.category("monitoring")
@pytest.mark.points(3)
def test_metrics_parse_with_prometheus_client(metrics: Exchange) -> None:
    """/metrics parses with prometheus_client and declares the three metrics"""
    assert metrics.after is not None
    wanted = {REQUESTS: "counter", LATENCY: "histogram", SCORES: "histogram"}
    wrong = [
        f"{name} ({kind})"
        for name, kind in wanted.items()
        if family_type(metrics.after, name) != kind
    ]
    if not metrics.content_type.startswith("text/plain"):
        wrong.append("a text/plain content type")
    if wrong:
        fail(
            "/metrics parsed, but these are missing or declared with another type: "
            + ", ".join(wrong)
            + ".",
            "prometheus-text-format",
        )


@pytest.mark.category("monitoring")
@pytest.mark.points(5)
def test_request_counts_match_what_was_sent(metrics: Exchange) -> None:
    """model_requests_total grows by exactly the requests sent, per endpoint and status"""
    wrong = []
    for endpoint in MONITORED:
        for status in ("200", "422"):
            sent = metrics.sent.get((endpoint, status), 0)
            counted = metrics.delta(REQUESTS, endpoint=endpoint, status=status)
            if counted != sent:
                wrong.append(f"{endpoint} {status}: sent {sent}, counted {counted:g}")
    if wrong:
        fail(
            "Between two reads of /metrics the grader sent requests and counted them; the "
            "counter disagrees: " + "; ".join(wrong) + ". Count every answer, refusals "
            "included, with the endpoint's path and the status code as labels.",
            "request-metrics",
        )


@pytest.mark.category("monitoring")
@pytest.mark.points(4)
def test_latency_histogram_is_consistent(metrics: Exchange) -> None:
    """The latency histogram is cumulative, +Inf = count, count = requests sent"""
    assert metrics.after is not None
    problems = []
    for endpoint in MONITORED:
        pairs = buckets(metrics.after, LATENCY, endpoint=endpoint)
        finite = [le for le, _ in pairs if math.isfinite(le)]
        counts = [c for _, c in pairs]
        total = metrics.after.value(f"{LATENCY}_count", endpoint=endpoint)
        if len(finite) < 5 or not pairs or pairs[-1][0] != math.inf:
            problems.append(f'{endpoint}: needs at least 5 finite buckets and le="+Inf"')
            continue
        if any(b < a for a, b in zip(counts, counts[1:], strict=False)):
            problems.append(f"{endpoint}: bucket counts fall as le grows (not cumulative)")
        if counts[-1] != total:
            problems.append(f"{endpoint}: the +Inf bucket differs from _count")
        sent = sum(n for (e, _), n in metrics.sent.items() if e == endpoint)
        grew = metrics.delta(f"{LATENCY}_count", endpoint=endpoint)
        if grew != sent:
            problems.append(f"{endpoint}: _count grew by {grew:g}, the grader sent {sent}")
        if metrics.delta(f"{LATENCY}_sum", endpoint=endpoint) < 0:
            problems.append(f"{endpoint}: _sum went down")
    if problems:
        fail(
            "The latency histogram is not consistent: " + "; ".join(problems) + ".",
            "latency-histogram",
        )


@pytest.mark.category("monitoring")
@pytest.mark.points(4)
def test_score_histogram_matches_the_predictions(metrics: Exchange) -> None:
    """model_prediction_score counts every returned probability in the right buckets"""
    assert metrics.after is not None
    problems = []
    n = len(metrics.scores)
    if metrics.delta(f"{SCORES}_count") != n:
        problems.append(f"_count grew by {metrics.delta(f'{SCORES}_count'):g}, not {n}")
    pairs = buckets(metrics.after, SCORES)
    if len([le for le, _ in pairs if math.isfinite(le)]) < 5:
        problems.append("fewer than 5 finite buckets")
    before = dict(buckets(metrics.before, SCORES)) if metrics.before else {}
    for le, count in pairs:
        expected = sum(1 for s in metrics.scores if s <= le)
        if count - before.get(le, 0.0) != expected:
            problems.append(
                f"bucket le={le:g} grew by {count - before.get(le, 0.0):g}, not {expected}"
            )
            break
    if problems:
        fail(
            f"Between two reads of /metrics the grader received {n} valid predictions "
            "(single and batch); the score histogram disagrees: " + "; ".join(problems) + ".",
            "score-histogram",
        )
