"""Fill /tmp and MODEL_DIR until they refuse, report how far it got, then fail."""

import json
import os


def fill(folder: str) -> int:
    written = 0
    block = b"\0" * (1024 * 1024)
    try:
        for n in range(100_000):
            with open(os.path.join(folder, f"fill-{n}.bin"), "wb") as handle:
                for _ in range(8):
                    handle.write(block)
                    written += len(block)
    except OSError:
        pass
    return written


tmp = fill("/tmp")
model = fill(os.environ["MODEL_DIR"])
print("REPORT " + json.dumps({"tmp": tmp, "model": model}), flush=True)
with open(os.path.join(os.environ["MODEL_DIR"], "one-more.bin"), "wb") as handle:
    handle.write(b"\0" * (1024 * 1024))
