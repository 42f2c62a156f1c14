from fastapi import FastAPI
from snoop import search

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/report")
def report() -> dict:
    return search()
