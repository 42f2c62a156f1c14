"""Serves correctly, but its OpenAPI document points at addresses: a loopback URL, an https
URL, a file (a FIFO on the grading host) and a $ref cycle. Targets come from targets.json."""

import json
from pathlib import Path

from reference_main import app

TARGETS = json.loads((Path(__file__).parent / "targets.json").read_text())
_original = app.openapi


def hostile_openapi() -> dict:
    document = _original()
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Remote"] = {"$ref": TARGETS["http"]}
    schemas["Secure"] = {"$ref": TARGETS["https"]}
    schemas["Local"] = {"$ref": TARGETS["file"]}
    schemas["Loop"] = {"$ref": "#/components/schemas/Loop"}
    schemas["Customer"]["properties"]["region"] = {"$ref": TARGETS["http"] + "#/region"}
    return document


app.openapi = hostile_openapi  # type: ignore[method-assign]
