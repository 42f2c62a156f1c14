"""Serve delivery-time predictions with 90 % intervals: strict validation, batch = singles."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import joblib
from delivery_features import matrix
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
state: dict[str, Any] = {}


class Delivery(BaseModel):
    # strict: "3" is not a number; allow_inf_nan: NaN and Infinity are refused.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    courier_id: int = Field(ge=1, le=10_000_000)
    store_id: int = Field(ge=1, le=10_000_000)
    distance_km: float = Field(gt=0, le=100)
    items: int = Field(ge=1, le=50)
    hour: int = Field(ge=0, le=23)
    zone: Literal["centre", "suburb", "outskirts"]
    vehicle: Literal["bike", "scooter", "car"]


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    instances: list[Delivery] = Field(min_length=1, max_length=1000)


class Prediction(BaseModel):
    prediction: float
    lower: float
    upper: float
    model_version: str


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state.update(joblib.load(MODEL_DIR / "model.joblib"))
    state["card"] = json.loads((MODEL_DIR / "model_card.json").read_text())
    yield
    state.clear()


app = FastAPI(title="Delivery time", version="1.0", lifespan=lifespan)


@app.exception_handler(RequestValidationError)
async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # The default handler echoes the input, and a NaN in it makes the answer a 500.
    errors = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": errors})


def _predict(deliveries: list[Delivery]) -> list[Prediction]:
    points = state["model"].predict(matrix([d.model_dump() for d in deliveries]))
    version = state["card"]["model_version"]
    out = []
    for delivery, point in zip(deliveries, points, strict=True):
        low, high = state["offsets"][delivery.zone]
        # The residual quantiles straddle zero, so lower <= prediction <= upper; min/max
        # keep it so even for a zone whose residuals all fell on one side.
        lower, upper = min(point + low, point), max(point + high, point)
        out.append(
            Prediction(
                prediction=float(point), lower=float(lower), upper=float(upper),
                model_version=version,
            )
        )
    return out


@app.post("/predict", response_model=Prediction)
def predict(delivery: Delivery) -> Prediction:
    return _predict([delivery])[0]


@app.post("/predict/batch", response_model=BatchPrediction)
def predict_batch(batch: Batch) -> BatchPrediction:
    return BatchPrediction(predictions=_predict(batch.instances))


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/model-card")
def model_card() -> dict[str, Any]:
    return state["card"]
