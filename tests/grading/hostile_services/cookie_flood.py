"""A correct service whose every answer sets a hundred 4 KB cookies."""

import json
import os
from pathlib import Path

from fastapi import FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field

MODEL = json.loads((Path(os.environ["MODEL_DIR"]) / "model.json").read_text())
app = FastAPI()
COOKIE = "v" * 4000


class Features(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: float = Field(allow_inf_nan=False)


@app.middleware("http")
async def flood(request, call_next):  # type: ignore[no-untyped-def]
    response = await call_next(request)
    for n in range(100):
        response.set_cookie(f"c{n}-{len(request.cookies)}", COOKIE)
    return response


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.post("/predict")
def predict(features: Features, response: Response) -> dict:
    return {"prediction": MODEL["slope"] * features.x + MODEL["intercept"]}
