"""A fork bomb that also reports how many forks the pids limit allowed."""

import json
import os
import time

forked = refused = 0
deadline = time.monotonic() + 2
while time.monotonic() < deadline:
    try:
        pid = os.fork()
    except OSError:
        refused += 1
        continue
    if pid == 0:  # every child is a bomb too
        while True:
            try:
                os.fork()
            except OSError:
                pass
    forked += 1
print("REPORT " + json.dumps({"forked": forked, "refused": refused}), flush=True)
while True:
    pass
