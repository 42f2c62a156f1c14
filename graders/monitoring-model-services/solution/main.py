"""Reference: serve the fitted line behind a strict request model."""

import json
import os
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
model = json.loads((MODEL_DIR / "model.json").read_text())
app = FastAPI()


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    x: float = Field(ge=0, le=1000)


@app.post("/predict")
def predict(point: Point) -> dict[str, float]:
    return {"y": model["slope"] * point.x + model["intercept"]}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
