"""Starter: serve the churn model with FastAPI.

ServeLab serves `app` with uvicorn; MODEL_DIR (read-only) holds what train.py wrote.
This skeleton answers valid requests, but its input validation is far too trusting:
see the contract on the exercise page and the TODOs below.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
state: dict[str, Any] = {}


class Customer(BaseModel):
    # TODO (lesson: #input-validation, #nan-and-infinity): forbid extra fields, use
    # strict types, add the bounds from the contract, refuse NaN and Infinity, and
    # accept only the known plans and regions.
    customer_id: int
    tenure_months: float
    monthly_charges: float
    support_tickets_90d: int
    plan: str
    region: str


class Batch(BaseModel):
    # TODO (lesson: #input-validation): 1 to 1000 instances.
    instances: list[Customer]


class Prediction(BaseModel):
    churn_probability: float
    churned: bool
    model_version: str


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Load once at startup, not per request (lesson: #latency-and-monitoring).
    state["model"] = joblib.load(MODEL_DIR / "model.joblib")
    state["card"] = json.loads((MODEL_DIR / "model_card.json").read_text())
    yield
    state.clear()


app = FastAPI(title="Churn prediction", lifespan=lifespan)


def _predict(customers: list[Customer]) -> list[Prediction]:
    # One code path for single and batch predictions keeps them identical.
    frame = pd.DataFrame([c.model_dump() for c in customers])
    probabilities = state["model"].predict_proba(frame[state["card"]["features"]])[:, 1]
    version = state["card"]["model_version"]
    return [
        Prediction(churn_probability=float(p), churned=bool(p >= 0.5), model_version=version)
        for p in probabilities
    ]


@app.post("/predict", response_model=Prediction)
def predict(customer: Customer) -> Prediction:
    return _predict([customer])[0]


@app.post("/predict/batch", response_model=BatchPrediction)
def predict_batch(batch: Batch) -> BatchPrediction:
    return BatchPrediction(predictions=_predict(batch.instances))


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/model-card")
def model_card() -> dict[str, Any]:
    return state["card"]
