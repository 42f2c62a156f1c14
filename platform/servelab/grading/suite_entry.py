"""The grader container's entry point: get ready while the learner's service starts, then test.

    python -m servelab.grading.suite_entry GO_FILE WAIT_SECONDS -- PYTEST_ARGS...

The platform starts the grader's container as soon as training has succeeded, so the
container's start and Python's imports overlap the service's own start-up. This waits for
GO_FILE (written by the platform once the service answers its health check) and then runs
pytest in this process. If the file does not appear within WAIT_SECONDS (the service never
became healthy), it exits without running anything. Runs inside the container only.
"""

from __future__ import annotations

import importlib
import os
import sys
import time

# Imported while waiting: what nearly every suite needs (heavier, rarer ones load on demand).
# Not the plugin itself: pytest must import it, to rewrite its assertions.
_WARM = ("pytest", "httpx", "pydantic", "hypothesis", "numpy", "pandas")
NOT_STARTED_EXIT = 99
_POLL_SECONDS = 0.01


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[2] != "--":
        sys.stderr.write("usage: suite_entry GO_FILE WAIT_SECONDS -- PYTEST_ARGS...\n")
        return 2
    go_file, wait_seconds, pytest_args = argv[0], float(argv[1]), argv[3:]
    for name in _WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # not in this image: the suite imports what it needs
    deadline = time.monotonic() + wait_seconds
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            return NOT_STARTED_EXIT
        time.sleep(_POLL_SECONDS)
    import pytest

    return int(pytest.main(pytest_args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
