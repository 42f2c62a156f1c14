"""A correct service whose /health answers 200 at start-up, then drips its body forever:
the after-suite probe, and the suite's own health check, must not wait for it."""

import asyncio
import json
import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

MODEL = json.loads((Path(os.environ["MODEL_DIR"]) / "model.json").read_text())
app = FastAPI()
calls = 0


class Features(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: float = Field(allow_inf_nan=False)


@app.get("/health")
async def health():  # type: ignore[no-untyped-def]
    global calls
    calls += 1
    if calls == 1:
        return {"status": "ok"}

    async def drip():  # type: ignore[no-untyped-def]
        while True:
            yield b" "
            await asyncio.sleep(1)

    return StreamingResponse(drip(), media_type="application/json")


@app.post("/predict")
def predict(features: Features) -> dict:
    return {"prediction": MODEL["slope"] * features.x + MODEL["intercept"]}
