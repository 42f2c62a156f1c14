"""Serve the churn model, reading request bodies as plain dicts."""

# MUTANT: no input validation; bodies are read as raw dicts, so bad input crashes (500s).
from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from churn_features import NUMERIC, design_matrix
from fastapi import FastAPI, Request

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
state: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state.update(joblib.load(MODEL_DIR / "model.joblib"))
    state["card"] = json.loads((MODEL_DIR / "model_card.json").read_text())
    yield
    state.clear()


app = FastAPI(title="Churn prediction", lifespan=lifespan)


def _predict(customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    numeric = np.array([[c[name] for name in NUMERIC] for c in customers], dtype=float)
    features = design_matrix(
        numeric,
        [c["plan"] for c in customers],
        [c["region"] for c in customers],
        state["means"],
        state["stds"],
    )
    probabilities = state["model"].predict_proba(features)[:, 1]
    version = state["card"]["model_version"]
    return [
        {"churn_probability": float(p), "churned": bool(p >= 0.5), "model_version": version}
        for p in probabilities
    ]


@app.post("/predict")
async def predict(request: Request) -> dict[str, Any]:
    return _predict([await request.json()])[0]


@app.post("/predict/batch")
async def predict_batch(request: Request) -> dict[str, Any]:
    body = await request.json()
    return {"predictions": _predict(body["instances"])}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/model-card")
def model_card() -> dict[str, Any]:
    return state["card"]
