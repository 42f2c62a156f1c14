"""The last line of defence: learner-visible text that quotes hidden data is withheld."""

from __future__ import annotations

import base64
import csv
import json
import time
from pathlib import Path

import pytest
from attack_services import attack_service
from suite_runs import SUITES, copy_suite, run_suite

from servelab.grading.redact import WITHHELD, Fingerprint, Redactor
from servelab.grading.results import CheckStatus, learner_view

LEAKY = SUITES / "leaky"


@pytest.fixture(scope="module")
def fingerprint() -> Fingerprint:
    return Fingerprint.build(
        LEAKY / "grader" / "data",
        public_dirs=[LEAKY / "exercise"],
        source_dirs=[LEAKY / "grader"],
    )


def _hidden_rows() -> list[dict[str, str]]:
    with (LEAKY / "grader" / "data" / "holdout.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_hidden_only_tokens_exclude_public_and_short_values(fingerprint: Fingerprint) -> None:
    assert {"71523", "82214", "106.17", "84.93"} <= set(fingerprint.tokens)
    assert "premium" not in fingerprint.tokens  # also in the public data
    assert "28.6" not in fingerprint.tokens  # three digits: too short to tell from a metric
    assert "holdout" not in fingerprint.tokens  # in the grader's own source


@pytest.mark.parametrize(
    "encode",
    [
        lambda raw: raw.decode(),
        lambda raw: raw.hex(),
        lambda raw: raw.hex().upper(),
        lambda raw: base64.b64encode(raw).decode(),
        lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("="),
        lambda raw: "key_" + base64.b64encode(raw.hex().encode()).decode(),  # two levels
    ],
    ids=["plain", "hex", "HEX", "base64", "urlsafe", "base64-of-hex"],
)
def test_a_quoted_row_is_found_however_encoded(fingerprint: Fingerprint, encode) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps(_hidden_rows()[0]).encode()
    assert fingerprint.leaks(f"Unexpected key: {encode(raw)}")


def test_a_row_with_one_rare_value_is_found_with_its_other_cells(fingerprint: Fingerprint) -> None:
    # 71523 alone is one hidden-only token; with most of its row's cells it is that row
    assert fingerprint.leaks("71523 2026-02-01 28.6 premium east 1")
    assert not fingerprint.leaks("Customer 71523 was scored.")


def test_honest_feedback_with_numbers_is_not_withheld(fingerprint: Fingerprint) -> None:
    for text in (
        "Your ROC AUC on the holdout is 0.8123 (baseline 0.7000); 37 of 4000 rows were wrong.",
        "Mean monthly charge error 12.5; 2 of 4 rows churned; premium and islands slices ok.",
        "POST /predict answered HTTP 500 for 3 of 60 generated requests.",
    ):
        assert not fingerprint.leaks(text), text


def test_tables_are_checked_row_by_row(fingerprint: Fingerprint) -> None:
    redactor = Redactor(fingerprint)
    honest = [{"region": "east", "auc": 0.81, "n": 120}]
    assert redactor.table("ROC AUC per region", honest) == ("ROC AUC per region", honest, [])
    name, rows, leaked = redactor.table("Keys", [{"key": "ok"}, {"key": "71523|106.17"}])
    assert (name, rows, leaked) == ("Keys", [{"note": WITHHELD}], ["rows of table 'Keys'"])
    name, _, leaked = redactor.table("71523 and 82214", [])
    assert name.startswith("Table withheld") and leaked == ["a table name"]


def test_the_fingerprint_is_built_once_and_cheaply(tmp_path: Path) -> None:
    hidden = tmp_path / "data"
    hidden.mkdir()
    with (hidden / "big.csv").open("w") as handle:
        handle.write("id,value,label\n")
        for i in range(50_000):
            handle.write(f"{100_000 + i},{i * 1.37:.2f},{i % 2}\n")
    (hidden / "model.bin").write_bytes(b"\xff\xfe\x00binary")
    started = time.monotonic()
    built = Fingerprint.build(hidden)
    elapsed = time.monotonic() - started
    started = time.monotonic()
    for _ in range(1000):
        built.leaks("Your ROC AUC is 0.8123 and 37 of 4000 rows were wrong. " * 5)
    per_text = (time.monotonic() - started) / 1000
    print(
        f"\nfingerprint of 50k rows: {len(built.tokens)} tokens in {elapsed:.2f} s; "
        f"{per_text * 1e6:.0f} us per 300-character text"
    )
    assert built.leaks("100017 and 100018")
    assert any("model.bin is not UTF-8 text" in note for note in built.notes)


def test_a_leaky_grader_leaks_nothing_to_learners(tmp_path: Path) -> None:
    suite = copy_suite("leaky", tmp_path)
    with attack_service() as server:
        run = run_suite(tmp_path, server.path, suite / "grader", exercise=suite / "exercise")
    print("\n" + run.report("leaky grader vs an echoing service"))
    assert run.code == 1, run.output
    assert sum(r.path == "/echo" for r in server.seen.requests) == 4  # the rows did go out
    doc = run.document()
    shown = learner_view(doc).model_dump_json()
    for row in _hidden_rows():
        raw = json.dumps(row).encode()
        for secret in (
            row["customer_id"],
            row["monthly_charges"],
            raw.hex()[:24],
            base64.b64encode(raw).decode()[:24],
            base64.urlsafe_b64encode(raw).decode()[:24],
        ):
            assert secret not in shown, secret
    warned = "\n".join(doc.grader_warnings)
    for check in (
        "test_quotes_response_keys",
        "test_quotes_one_key_per_note",
        "test_quotes_hex_values",
        "test_quotes_base64_values",
        "test_quotes_headers",
        "test_section_from_a_response",
        "test_tables_of_keys",
        "test_named_after_rows[71523-106.17]",
    ):
        assert f"test_leaky.py::{check}" in warned, check
    assert "leaderboard entry contained hidden test data" in warned
    assert "grader bug" in warned

    tests = {t.nodeid.rsplit("::", 1)[-1]: t for t in doc.tests}
    honest = tests["test_honest_feedback"]
    assert honest.status == CheckStatus.PASSED
    assert honest.output.startswith("Your ROC AUC on the holdout is 0.8123 (baseline 0.7000)")
    assert honest.tables[0].rows[0] == {"region": "east", "auc": 0.81, "n": 120}
    assert "test_honest_feedback" not in warned
    keys = tests["test_quotes_response_keys"]
    assert keys.feedback[0].message == WITHHELD and WITHHELD in keys.output
    assert "71523" in keys.instructor_output  # instructors still see what happened
