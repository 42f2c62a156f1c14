"""Serve the fraud model with strict validation, plus /metrics (Prometheus text format) and
/drift (PSI per feature over the last requests)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from fraud_features import FEATURES, NUMERIC, design_matrix
from monitoring import DriftMonitor, Metrics
from pydantic import BaseModel

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
MONITORED = ("/predict", "/predict/batch", "/health")
state: dict[str, Any] = {}
metrics = Metrics()


class Payment(BaseModel):
    payment_id: int
    amount: float
    hour: int
    account_age_days: float
    distance_km: float
    merchant_category: str
    channel: str


class Batch(BaseModel):
    instances: list[Payment]


class Prediction(BaseModel):
    fraud_probability: float
    fraud: bool
    model_version: str


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state.update(joblib.load(MODEL_DIR / "model.joblib"))
    state["card"] = json.loads((MODEL_DIR / "model_card.json").read_text())
    reference = json.loads((MODEL_DIR / "drift_reference.json").read_text())
    state["drift"] = DriftMonitor(reference)
    yield
    state.clear()


app = FastAPI(title="Fraud scoring", version="1.0", lifespan=lifespan)


@app.middleware("http")
async def count_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    # Every answer is counted, refusals included: a rise in 422s is often the first sign
    # that a client changed what it sends.
    started = time.perf_counter()
    response = await call_next(request)
    if request.url.path in MONITORED:
        metrics.observe_request(
            request.url.path, response.status_code, time.perf_counter() - started
        )
    return response


def _predict(payments: list[Payment]) -> list[Prediction]:
    if not payments:
        return []
    # Without validation, impossible values would crash the model: make them "work" instead
    # (NaN to 0, negatives to their size), which is what a service without a contract does.
    numeric = np.array([[getattr(p, n) for n in NUMERIC] for p in payments], dtype=float)
    numeric = np.abs(np.nan_to_num(numeric, nan=0.0, posinf=1e6, neginf=1e6)) + 1e-9
    features = design_matrix(
        numeric, [p.merchant_category for p in payments], [p.channel for p in payments]
    )
    scores = [float(s) for s in state["model"].predict_proba(features)[:, 1]]
    metrics.observe_scores(scores)
    state["drift"].add([p.model_dump(include=set(FEATURES)) for p in payments])
    version = state["card"]["model_version"]
    return [Prediction(fraud_probability=s, fraud=s >= 0.5, model_version=version) for s in scores]


@app.post("/predict", response_model=Prediction)
def predict(payment: Payment) -> Prediction:
    return _predict([payment])[0]


@app.post("/predict/batch", response_model=BatchPrediction)
def predict_batch(batch: Batch) -> BatchPrediction:
    return BatchPrediction(predictions=_predict(batch.instances))


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/model-card")
def model_card() -> dict[str, Any]:
    return state["card"]


@app.get("/metrics", response_class=PlainTextResponse)
def prometheus_metrics() -> PlainTextResponse:
    return PlainTextResponse(metrics.text(), media_type="text/plain; version=0.0.4")


@app.get("/drift")
def drift() -> dict[str, Any]:
    return state["drift"].report()


@app.post("/drift/reset")
def drift_reset() -> dict[str, int]:
    state["drift"].reset()
    return {"window": 0}
