"""Serve the fraud model with strict validation, plus /metrics (Prometheus text format) and
/drift (PSI per feature over the last requests)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fraud_features import FEATURES, NUMERIC, design_matrix
from monitoring import DriftMonitor, Metrics
from pydantic import BaseModel, ConfigDict, Field

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
MONITORED = ("/predict", "/predict/batch", "/health")
state: dict[str, Any] = {}
metrics = Metrics()


class Payment(BaseModel):
    # strict: "3" is not a number; allow_inf_nan: NaN, Infinity and 1e999 are refused.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    payment_id: int = Field(ge=1)
    amount: float = Field(gt=0, le=100_000)
    hour: int = Field(ge=0, le=23)
    account_age_days: float = Field(ge=0, le=36_500)
    distance_km: float = Field(ge=0, le=20_000)
    merchant_category: Literal["grocery", "fuel", "electronics", "travel", "gaming"]
    channel: Literal["pos", "web", "mobile"]


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    instances: list[Payment] = Field(min_length=1, max_length=1000)


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


@app.exception_handler(RequestValidationError)
async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # The default handler echoes the input, and a NaN in it makes the answer itself a 500.
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": errors})


def _predict(payments: list[Payment]) -> list[Prediction]:
    numeric = np.array([[getattr(p, n) for n in NUMERIC] for p in payments], dtype=float)
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
