"""Owns the socket with a raw server: /health answers 200 (so it starts), everything else gets
`100 Continue` lines forever, each within any read timeout."""

import os
import socket
import threading
import time

PATH = "/run/servelab/service.sock"


def handle(connection: socket.socket) -> None:
    try:
        while True:
            request = connection.recv(65536)
            if not request:
                return
            if request.startswith(b"GET /health "):
                connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\n")
                connection.sendall(b'{"status":"ok"}')
                continue
            while True:
                connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                time.sleep(0.2)
    except OSError:
        pass
    finally:
        connection.close()


def serve() -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(PATH)
    os.chmod(PATH, 0o666)
    server.listen(64)
    while True:
        connection, _ = server.accept()
        threading.Thread(target=handle, args=(connection,), daemon=True).start()


threading.Thread(target=serve, daemon=True).start()
while True:  # uvicorn, importing this module, never gets to bind
    time.sleep(3600)
