"""Answers /predict one byte per second, forever: no single read ever times out."""

import asyncio

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.post("/predict")
async def predict() -> StreamingResponse:
    async def drip():  # type: ignore[no-untyped-def]
        yield b'{"prediction": '
        while True:
            await asyncio.sleep(1)
            yield b" "

    return StreamingResponse(drip(), media_type="application/json")
