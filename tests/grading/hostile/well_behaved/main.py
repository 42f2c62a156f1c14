import json
import os

from fastapi import FastAPI

with open(os.path.join(os.environ["MODEL_DIR"], "model.json")) as handle:
    MODEL = json.load(handle)

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/predict")
def predict() -> dict:
    return {"prediction": MODEL["mean"]}
