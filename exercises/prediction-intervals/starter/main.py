"""Starter: serve the model written by train.py behind the exercise's contract."""

import json
import os
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
model = json.loads((MODEL_DIR / "model.json").read_text())
card = json.loads((MODEL_DIR / "model_card.json").read_text())
app = FastAPI()


class Delivery(BaseModel):
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


def _answer(delivery: Delivery) -> dict[str, Any]:
    # TODO: a real prediction, and an interval whose width follows the zone's noise.
    point = model["median"]
    return {
        "prediction": point,
        "lower": point + model["low"],
        "upper": point + model["high"],
        "model_version": card["model_version"],
    }


@app.post("/predict")
def predict(delivery: Delivery) -> dict[str, Any]:
    return _answer(delivery)


@app.post("/predict/batch")
def predict_batch(batch: Batch) -> dict[str, Any]:
    return {"predictions": [_answer(d) for d in batch.instances]}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/model-card")
def model_card() -> dict[str, Any]:
    return card
