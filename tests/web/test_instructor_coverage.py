"""The instructor's grader-coverage page (/instructor/exercises/{slug}/coverage): the stored
matrix of the last `exercise selftest --matrix`, its empty and damaged cases, learners kept out."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from servelab.db.models import Role, User
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.coverage import build_matrix
from servelab.grading.coverage_store import matrix_path, store_matrix
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import CheckStatus, ResultDocument, TestResult
from servelab.settings import Settings
from support import login

SLUG = "fastapi-for-ml-apis"  # the flagship is in the default course
PAGE = f"/instructor/exercises/{SLUG}/coverage"
HTML = {"accept": "text/html"}


def _graded(*failed: str) -> GradeOutcome:
    tests = [
        TestResult(
            name=name,
            nodeid=f"test_churn.py::{name}",
            max_score=1,
            score=0 if name in failed else 1,
            status=CheckStatus.FAILED if name in failed else CheckStatus.PASSED,
            output=f"hidden holdout AUC 0.8123 for {name}",  # must never reach the page
        )
        for name in ("test_health", "test_auc", "test_numeric_means")
    ]
    return GradeOutcome(SubmissionStatus.GRADED, result=ResultDocument(tests=tests).with_totals())


def _store(settings: Settings, *, ok: bool = True) -> None:
    matrix = build_matrix(
        SLUG,
        _graded(),
        [
            ("constant-prior", _graded("test_auc", "test_numeric_means")),
            ("whole-file-preprocessing", _graded("test_numeric_means")),
            ("slow-startup", GradeOutcome(SubmissionStatus.FAILED, learner_message="too slow")),
        ],
    )
    store_matrix(settings, matrix, selftest_ok=ok)


def test_learners_get_403_and_anonymous_visitors_the_login(
    client: TestClient, make_user: Callable[..., User], settings: Settings
) -> None:
    _store(settings)
    anonymous = client.get(PAGE, headers=HTML, follow_redirects=False)
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]
    login(client, make_user(Role.LEARNER))
    r = client.get(PAGE, headers=HTML)
    assert r.status_code == 403
    assert "constant-prior" not in r.text and "test_auc" not in r.text
    # also for an exercise that does not exist: the instructor check comes first
    assert client.get("/instructor/exercises/nope/coverage", headers=HTML).status_code == 403


def test_no_stored_matrix_says_how_to_fill_it(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    login(client, make_user(Role.INSTRUCTOR))
    r = client.get(PAGE, headers=HTML)
    assert r.status_code == 200
    assert f"run <code>servelab exercise selftest {SLUG} --matrix</code> to fill this" in r.text
    index = client.get("/instructor", headers=HTML)
    assert f'href="{PAGE}"' in index.text
    assert client.get("/instructor/exercises/nope/coverage", headers=HTML).status_code == 404


def test_the_stored_matrix_shows_kills_suspects_and_fragile_mutants(
    client: TestClient, make_user: Callable[..., User], settings: Settings
) -> None:
    _store(settings)
    login(client, make_user(Role.INSTRUCTOR))
    r = client.get(PAGE, headers=HTML)
    assert r.status_code == 200
    page = r.text
    assert "every candidate as expected" in page
    headers = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    for name in ("constant-prior", "whole-file-preprocessing", "slow-startup"):
        assert f'<th scope="col">{name}</th>' in headers
    assert "suspect check: test_health kills no mutant" in page
    assert (
        "fragile mutant: whole-file-preprocessing is killed by one check only "
        "(test_numeric_means)" in page
    )
    assert "failed before the checks" in page
    row = page.split("<code>test_numeric_means</code>", 1)[1].split("</tr>", 1)[0]
    assert row.count("> killed</span>") == 2 and "> not run</span>" in row
    # check ids and mutant names only: no check output, no hidden numbers
    assert "0.8123" not in page and "hidden holdout" not in page


def test_a_matrix_from_a_failed_selftest_says_so(
    client: TestClient, make_user: Callable[..., User], settings: Settings
) -> None:
    _store(settings, ok=False)
    login(client, make_user(Role.INSTRUCTOR))
    assert "the self-test had surprises" in client.get(PAGE, headers=HTML).text


def test_a_damaged_stored_matrix_is_a_message_not_a_500(
    client: TestClient, make_user: Callable[..., User], settings: Settings
) -> None:
    path = matrix_path(settings, SLUG)
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    login(client, make_user(Role.INSTRUCTOR))
    r = client.get(PAGE, headers=HTML)
    assert r.status_code == 200
    assert "The stored matrix could not be read" in r.text
    assert f"selftest {SLUG} --matrix` again" in r.text
