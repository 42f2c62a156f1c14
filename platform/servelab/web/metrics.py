"""Prometheus metrics for the web app (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "servelab_http_requests_total", "HTTP requests handled", ["method", "route", "status"]
)
LATENCY = Histogram("servelab_http_request_seconds", "HTTP request latency", ["method", "route"])


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)
