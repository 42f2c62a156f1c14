"""Mutant: the reference service, but every prediction (single or batch) takes 0.5 s.

A correct but slow service must still be graded within the exercise's test limit: it fails
the latency check and keeps every point its model earns.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
from churn_features import NUMERIC, design_matrix
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
state: dict[str, Any] = {}
SECONDS_PER_CALL = 0.5


class Customer(BaseModel):
    # strict: "3" is not a number and true is not an integer; allow_inf_nan: NaN,
    # Infinity and 1e999 (which Python's JSON parser reads as inf) are refused.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    customer_id: int = Field(ge=1)
    tenure_months: float = Field(ge=0, le=1200)
    monthly_charges: float = Field(gt=0, le=100_000)
    support_tickets_90d: int = Field(ge=0, le=10_000)
    plan: Literal["basic", "standard", "premium"]
    region: Literal["north", "south", "east", "west", "islands"]


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    instances: list[Customer] = Field(min_length=1, max_length=1000)


class Prediction(BaseModel):
    churn_probability: float
    churned: bool
    model_version: str


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    bundle = joblib.load(MODEL_DIR / "model.joblib")
    state.update(bundle)
    state["card"] = json.loads((MODEL_DIR / "model_card.json").read_text())
    yield
    state.clear()


app = FastAPI(title="Churn prediction", version="1.0", lifespan=lifespan)


@app.exception_handler(RequestValidationError)
async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's default handler echoes the offending input, and a NaN in it makes the
    # error response itself unserialisable (a 500). Report where and what, never the value.
    errors = [
        {
            "loc": [str(p) for p in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": errors})


def _predict(customers: list[Customer]) -> list[Prediction]:
    numeric = np.array([[getattr(c, name) for name in NUMERIC] for c in customers], dtype=float)
    features = design_matrix(
        numeric,
        [c.plan for c in customers],
        [c.region for c in customers],
        state["means"],
        state["stds"],
    )
    probabilities = state["model"].predict_proba(features)[:, 1]
    version = state["card"]["model_version"]
    return [
        Prediction(churn_probability=float(p), churned=bool(p >= 0.5), model_version=version)
        for p in probabilities
    ]


@app.post("/predict", response_model=Prediction)
def predict(customer: Customer) -> Prediction:
    time.sleep(SECONDS_PER_CALL)
    return _predict([customer])[0]


@app.post("/predict/batch", response_model=BatchPrediction)
def predict_batch(batch: Batch) -> BatchPrediction:
    time.sleep(SECONDS_PER_CALL)
    return BatchPrediction(predictions=_predict(batch.instances))


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/model-card")
def model_card() -> dict[str, Any]:
    return state["card"]
