"""A correct service whose every answer sets twenty new 1 KB cookies (headers a client may
accept), and that fails any request that sends a cookie back: a client keeping them would
send ever larger requests, and here it would fail every check."""

import json
import os
from pathlib import Path

from fastapi import FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field

MODEL = json.loads((Path(os.environ["MODEL_DIR"]) / "model.json").read_text())
app = FastAPI()
COOKIE = "v" * 1000
answers = 0


class Features(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: float = Field(allow_inf_nan=False)


@app.middleware("http")
async def flood(request, call_next):  # type: ignore[no-untyped-def]
    global answers
    if request.cookies and request.url.path != "/health":
        return Response("cookies came back", status_code=500)
    response = await call_next(request)
    answers += 1
    for n in range(20):
        response.set_cookie(f"c{answers}-{n}", COOKIE)
    return response


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.post("/predict")
def predict(features: Features, response: Response) -> dict:
    return {"prediction": MODEL["slope"] * features.x + MODEL["intercept"]}
