import os
import signal

from fastapi import FastAPI

signal.signal(signal.SIGTERM, signal.SIG_IGN)
app = FastAPI()


@app.on_event("startup")
def ignore_term() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # uvicorn installs its own handler first


@app.get("/health")
def health() -> dict:
    return {"pid": os.getpid()}
