import time

from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict:
    time.sleep(3600)
    return {"status": "never"}
