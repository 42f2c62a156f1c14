"""Hidden checks for monitoring-model-services: the contract, then quality on held-out rows."""

import pandas as pd
import pytest

from servelab.grading.plugin import feedback


def _fail(message: str, section: str) -> None:
    feedback(message, section=section)
    pytest.fail(message, pytrace=False)


@pytest.mark.category("contract")
@pytest.mark.points(1)
def test_health(service):
    """GET /health answers {"status": "ok"}"""
    response = service.get("/health")
    if response.status_code != 200 or response.json() != {"status": "ok"}:
        _fail("GET /health must answer 200 with {\"status\": \"ok\"}.", "verification-plan")


@pytest.mark.category("contract")
@pytest.mark.points(2)
def test_valid_request_gets_a_number(service):
    """A valid request gets {"y": number}"""
    response = service.post("/predict", json={"x": 2.5})
    body = response.json() if response.status_code == 200 else None
    if not isinstance(body, dict) or not isinstance(body.get("y"), int | float):
        _fail("POST /predict with {\"x\": 2.5} must answer 200 with {\"y\": number}.", "syntax")


@pytest.mark.category("contract")
@pytest.mark.points(2)
def test_invalid_input_is_422(service):
    """Missing, extra, mistyped and out-of-bounds input gets 422"""
    bodies = [{}, {"x": 1.0, "z": 2}, {"x": "1"}, {"x": -1.0}, {"x": 1001.0}]
    wrong = [b for b in bodies if service.post("/predict", json=b).status_code != 422]
    if wrong:
        _fail(f"These bodies were not refused with 422: {wrong}", "common-mistakes")


@pytest.mark.category("quality")
@pytest.mark.points(5)
def test_beats_the_mean_on_holdout(service, hidden_data, public_data):
    """On held-out rows, MAE is at most half that of predicting the training mean"""
    holdout = pd.read_csv(hidden_data("holdout.csv"))
    mean = pd.read_csv(public_data("train.csv"))["y"].mean()
    predicted = [service.post("/predict", json={"x": float(x)}).json()["y"] for x in holdout["x"]]
    mae = (holdout["y"] - predicted).abs().mean()
    if mae > 0.5 * (holdout["y"] - mean).abs().mean():
        _fail(
            "Your model is not much better than predicting the mean of y.",
            "data-and-model-decisions",
        )
