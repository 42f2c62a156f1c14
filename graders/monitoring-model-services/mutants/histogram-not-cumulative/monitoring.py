"""What operating the service needs: request and score metrics in Prometheus text format, and
a drift report (PSI per feature) over a window of recent request rows."""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
WINDOW = 1000
MIN_ROWS = 100
THRESHOLD = 0.2
FLOOR = 0.0001


class Histogram:
    """Cumulative buckets as Prometheus writes them: each bucket counts values <= its bound."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * len(self.bounds)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break
        self.count += 1
        self.total += value

    def lines(self, name: str, labels: str) -> list[str]:
        sep = "," if labels else ""
        out = [
            f'{name}_bucket{{{labels}{sep}le="{b}"}} {c}'
            for b, c in zip(self.bounds, self.counts, strict=True)
        ]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        suffix = f"{{{labels}}}" if labels else ""
        out += [f"{name}_count{suffix} {self.count}", f"{name}_sum{suffix} {self.total!r}"]
        return out


class Metrics:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.latency: dict[str, Histogram] = {}
        self.scores = Histogram(SCORE_BUCKETS)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(endpoint, status)] += 1
            self.latency.setdefault(endpoint, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def observe_scores(self, scores: Sequence[float]) -> None:
        with self.lock:
            for score in scores:
                self.scores.observe(score)

    def text(self) -> str:
        with self.lock:
            lines = [
                "# HELP model_requests_total Requests answered, by endpoint and status.",
                "# TYPE model_requests_total counter",
            ]
            for (endpoint, status), n in sorted(self.requests.items()):
                lines.append(f'model_requests_total{{endpoint="{endpoint}",status="{status}"}} {n}')
            lines += [
                "# HELP model_request_duration_seconds Time to answer, by endpoint.",
                "# TYPE model_request_duration_seconds histogram",
            ]
            for endpoint, hist in sorted(self.latency.items()):
                lines += hist.lines("model_request_duration_seconds", f'endpoint="{endpoint}"')
            lines += [
                "# HELP model_prediction_score Fraud probabilities returned.",
                "# TYPE model_prediction_score histogram",
                *self.scores.lines("model_prediction_score", ""),
            ]
        return "\n".join(lines) + "\n"


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    total = 0.0
    for p, q in zip(expected, actual, strict=True):
        p, q = max(p, FLOOR), max(q, FLOOR)
        total += (q - p) * math.log(q / p)
    return total


class DriftMonitor:
    def __init__(self, reference: dict[str, dict[str, list]]) -> None:
        self.reference = reference
        self.lock = threading.Lock()
        self.rows: deque[dict[str, Any]] = deque(maxlen=WINDOW)

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        with self.lock:
            self.rows.extend(rows)

    def reset(self) -> None:
        with self.lock:
            self.rows.clear()

    def _shares(self, name: str, values: list[Any]) -> list[float]:
        ref = self.reference[name]
        if "levels" in ref:
            return [sum(v == level for v in values) / len(values) for level in ref["levels"]]
        edges = ref["edges"]
        counts = [0] * (len(edges) + 1)
        for v in values:
            counts[sum(1 for e in edges if e <= v)] += 1
        return [c / len(values) for c in counts]

    def report(self) -> dict[str, Any]:
        with self.lock:
            rows = list(self.rows)
        features: dict[str, dict[str, Any]] = {}
        for name, ref in self.reference.items():
            if len(rows) < MIN_ROWS:
                features[name] = {"statistic": None, "drifted": False}
                continue
            stat = psi(ref["shares"], self._shares(name, [r[name] for r in rows]))
            features[name] = {"statistic": stat, "drifted": stat > THRESHOLD}
        drifted = sorted(n for n, f in features.items() if f["drifted"])
        return {
            "window": len(rows),
            "threshold": THRESHOLD,
            "features": features,
            "drifted": drifted,
        }
