"""Tries to write 2 GB into the socket folder (the one folder it shares with the host), then
serves normally and reports how much it managed to write."""

import os

from fastapi import FastAPI

written = 0
error = ""
chunk = b"\0" * (1 << 20)
try:
    with open("/run/servelab/filler.bin", "wb") as handle:
        while written < 2 * 1024**3:
            handle.write(chunk)
            handle.flush()
            written += len(chunk)
except OSError as exc:
    error = exc.strerror or str(exc)
try:
    os.remove("/run/servelab/filler.bin")  # room for uvicorn's socket is not needed: inodes
except OSError:
    pass
with open("/run/servelab/filler.bin", "wb") as handle:  # and fill it again, to stay full
    try:
        while True:
            handle.write(chunk)
            handle.flush()
    except OSError:
        pass

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/report")
def report() -> dict:
    return {"written": written, "error": error}
