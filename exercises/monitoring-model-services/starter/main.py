"""Starter: serve the fraud model with FastAPI.

ServeLab serves `app` with uvicorn; MODEL_DIR (read-only) holds what train.py wrote. This
answers valid predictions; metrics and drift are yours to build (see the exercise page's
contract and the TODOs).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
model = joblib.load(MODEL_DIR / "model.joblib")
card = json.loads((MODEL_DIR / "model_card.json").read_text())
app = FastAPI(title="Fraud scoring")


class Payment(BaseModel):
    # TODO (lesson: #input-validation): forbid extra fields, strict types, the contract's
    # bounds, no NaN or Infinity, only the known categories and channels.
    payment_id: int
    amount: float
    hour: int
    account_age_days: float
    distance_km: float
    merchant_category: str
    channel: str


class Batch(BaseModel):
    instances: list[Payment]  # TODO: 1 to 1000 instances


def _predict(payments: list[Payment]) -> list[dict[str, Any]]:
    frame = pd.DataFrame([p.model_dump() for p in payments])[card["features"]]
    scores = model.predict_proba(frame)[:, 1]
    return [
        {"fraud_probability": float(s), "fraud": bool(s >= 0.5), "model_version": "starter"}
        for s in scores
    ]


@app.post("/predict")
def predict(payment: Payment) -> dict[str, Any]:
    return _predict([payment])[0]


@app.post("/predict/batch")
def predict_batch(batch: Batch) -> dict[str, Any]:
    return {"predictions": _predict(batch.instances)}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/model-card")
def model_card() -> dict[str, Any]:
    return card


@app.get("/metrics", response_class=PlainTextResponse)
def metrics() -> str:
    # TODO (lesson: #prometheus-text-format, #request-metrics): count requests by endpoint
    # and status, time them into a histogram, and histogram the scores you return.
    return ""


@app.get("/drift")
def drift() -> dict[str, Any]:
    # TODO (lesson: #drift-psi, #drift-window): PSI per feature of the window against train.csv.
    return {"window": 0, "threshold": 0.2, "features": {}, "drifted": []}


@app.post("/drift/reset")
def drift_reset() -> dict[str, int]:
    return {"window": 0}
