"""Owns the service socket with a raw server that sends its status line one byte per second.

uvicorn never binds: importing this module blocks forever. A health probe that waited for a
whole status line, or for a whole answer, would wait as long as this service likes.
"""

import os
import socket
import threading
import time

PATH = "/run/servelab/service.sock"


def drip(connection: socket.socket) -> None:
    try:
        connection.recv(4096)
        for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}":
            connection.send(bytes([byte]))
            time.sleep(1)
    except OSError:
        pass
    finally:
        connection.close()


def serve() -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(PATH)
    os.chmod(PATH, 0o666)  # what uvicorn does once it listens
    server.listen(64)
    while True:
        connection, _ = server.accept()
        threading.Thread(target=drip, args=(connection,), daemon=True).start()


threading.Thread(target=serve, daemon=True).start()
while True:
    time.sleep(3600)
