"""The exercise dashboard: the submissions table (filters, sorting, pages, bad links), its
charts' numbers, regrading a selection with its progress and score changes, and the grades
in Canvas' and Moodle's import layouts."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import HTML, SLUG, course_settings, sample_result, store_submission
from sqlmodel import Session

from servelab.db.models import Role, User
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import queue, regrade
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import ResultDocument
from servelab.settings import Settings
from support import csrf_from, login

DASHBOARD = f"/instructor/exercises/{SLUG}/submissions"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def settings(tiny_settings: Settings) -> Settings:
    return tiny_settings


@pytest.fixture
def instructor_client(client: TestClient, make_user: Callable[..., User]) -> TestClient:
    login(client, make_user(Role.INSTRUCTOR, email="teach@example.org"))
    return client


def _result(score: float) -> ResultDocument:
    """The sample document with its first check scored `score` of 10 (the others dropped)."""
    doc = sample_result()
    tests = [t.model_copy(update={"score": min(score, t.max_score)}) for t in doc.tests[:1]]
    return doc.model_copy(update={"tests": tests}).with_totals()


def _named(db: Session, make_user: Callable[..., User], email: str, name: str) -> User:
    user = make_user(Role.LEARNER, email=email)
    user.display_name = name
    db.add(user)
    db.commit()
    return user


def _ids(client: TestClient, query: str) -> list[int]:
    r = client.get(f"{DASHBOARD}?{query}", headers=HTML)
    assert r.status_code == 200, r.text
    return [row.submission.id for row in r.context["rows"]]  # type: ignore[attr-defined]


def _status(db: Session, submission_id: int | None) -> str:
    db.expire_all()
    row = db.get(Submission, submission_id)
    assert row is not None
    return row.status


def _post(client: TestClient, path: str, data: dict[str, object]):  # type: ignore[no-untyped-def]
    fields = {"csrf_token": csrf_from(client, "/login"), **data}
    return client.post(path, data=fields, headers=HTML, follow_redirects=False)


def test_learners_get_403_on_the_dashboard_and_its_actions(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    mine = store_submission(db, learner, result=sample_result())
    login(client, learner)
    assert client.get(DASHBOARD, headers=HTML).status_code == 403
    progress = f"/instructor/exercises/{SLUG}/regrade-progress?batch={T0.isoformat()}"
    assert client.get(progress).status_code == 403
    assert client.get(f"/instructor/exercises/{SLUG}/grades.csv?format=canvas").status_code == 403
    r = _post(client, f"/instructor/exercises/{SLUG}/regrade-selected", {"ids": [mine.id]})
    assert r.status_code == 403
    assert _status(db, mine.id) == "graded"


def test_filters_by_learner_status_and_score_range(
    instructor_client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    ada = _named(db, make_user, "ada@example.org", "Ada Lovelace")
    bob = _named(db, make_user, "bob@example.org", "Bob 100%_sure")
    ada_low = store_submission(db, ada, result=_result(2), requested_at=T0)
    ada_high = store_submission(db, ada, result=_result(9), requested_at=T0 + timedelta(hours=1))
    bob_failed = store_submission(db, bob, status=SubmissionStatus.FAILED, requested_at=T0)
    bob_mid = store_submission(db, bob, result=_result(5), requested_at=T0 + timedelta(hours=2))
    c = instructor_client
    assert set(_ids(c, "")) == {ada_low.id, ada_high.id, bob_failed.id, bob_mid.id}
    assert set(_ids(c, "learner=LOVELACE")) == {ada_low.id, ada_high.id}  # name, any case
    assert set(_ids(c, "learner=bob%40example")) == {bob_failed.id, bob_mid.id}  # email
    # LIKE wildcards in the filter are literal text, not patterns.
    assert set(_ids(c, "learner=100%25_")) == {bob_failed.id, bob_mid.id}
    assert set(_ids(c, "learner=%25")) == set(_ids(c, "learner=_")) == {bob_failed.id, bob_mid.id}
    assert _ids(c, "learner=a%25l") == _ids(c, "learner=a_a") == []  # as patterns, Ada's
    assert _ids(c, "status=failed") == [bob_failed.id]
    assert set(_ids(c, "min_score=4")) == {ada_high.id, bob_mid.id}
    assert set(_ids(c, "min_score=4&max_score=6")) == {bob_mid.id}
    assert _ids(c, "max_score=3&learner=ada") == [ada_low.id]
    # Empty form fields mean "any" (the filter form sends them).
    assert len(_ids(c, "learner=&status=&min_score=&max_score=")) == 4
    r = c.get(f"{DASHBOARD}?status=graded&learner=nobody", headers=HTML)
    assert "No submission matches these filters." in r.text


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("status=bogus", "status is one of queued"),
        ("sort=password", "sort is one of id, learner"),
        ("order=sideways", "order is asc or desc"),
        ("page=abc", "page is a whole number"),
        ("page=0", "page is a whole number"),
        ("per_page=1000", "per_page is a whole number from 1 to 100"),
        ("min_score=nan", "the minimum score is a number"),
        ("max_score=-1", "the maximum score is a number"),
        ("min_score=5&max_score=1", "the minimum score is above the maximum"),
        ("learner=" + "x" * 101, "at most 100 characters"),
        ("batch=yesterday", "regrade batch is not a time"),
        ("regraded=-1", "regraded is a count of submissions"),
        ("skipped=1e99", "skipped is a count of submissions"),
    ],
)
def test_bad_dashboard_links_get_400_with_what_is_wrong(
    instructor_client: TestClient, query: str, says: str
) -> None:
    r = instructor_client.get(f"{DASHBOARD}?{query}", headers=HTML)
    assert r.status_code == 400
    assert says in r.text


def test_sorts_and_pages_in_sql_with_header_links(
    instructor_client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learners = [_named(db, make_user, f"l{i}@example.org", f"L{i}") for i in range(3)]
    made = []
    for i in range(7):
        result = _result(i) if i % 3 else None
        state = SubmissionStatus.GRADED if result else SubmissionStatus.FAILED
        made.append(
            store_submission(
                db,
                learners[i % 3],
                status=state,
                result=result,
                requested_at=T0 + timedelta(minutes=i),
            )
        )
    ids = [s.id for s in made]
    c = instructor_client
    assert _ids(c, "sort=id&order=asc&per_page=3") == ids[:3]
    assert _ids(c, "sort=id&order=asc&per_page=3&page=2") == ids[3:6]
    assert _ids(c, "sort=id&order=asc&per_page=3&page=3") == ids[6:]
    assert _ids(c, "sort=id&order=asc&per_page=3&page=99") == ids[6:]  # past the end: last page
    assert _ids(c, "per_page=3") == ids[::-1][:3]  # default: newest submitted first
    # Score: graded ones by score, the ungraded ones last in both directions.
    graded = sorted((s for s in made if s.status == "graded"), key=lambda s: s.score or 0)
    ungraded = [s.id for s in made if s.status != "graded"]
    by_score_desc = _ids(c, "sort=score&order=desc")
    assert by_score_desc[:4] == [s.id for s in graded[::-1]]
    assert set(by_score_desc[4:]) == set(ungraded)
    assert _ids(c, "sort=score&order=asc")[:4] == [s.id for s in graded]
    assert _ids(c, "sort=learner&order=asc")[:3] == [ids[0], ids[3], ids[6]]  # l0, ids in order

    r = c.get(f"{DASHBOARD}?sort=score&order=desc&per_page=3&status=graded", headers=HTML)
    html = r.text
    page = r.context["page"]  # type: ignore[attr-defined]
    assert (page.total, page.pages, page.page) == (4, 2, 1)
    assert 'aria-sort="descending"' in html and html.count("aria-sort=") == 1
    # The score header turns the order around; the filters survive sorting and paging.
    assert 'href="?status=graded&amp;sort=score&amp;order=asc&amp;per_page=3"' in html
    assert 'href="?status=graded&amp;sort=score&amp;page=2&amp;per_page=3" rel="next"' in html
    assert '<div class="table-wrap dashboard-wrap">' in html
    assert "Showing 1–3 of 4 submissions matching the filters." in html


def test_the_charts_numbers_match_the_submissions(
    instructor_client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    ada = make_user(Role.LEARNER)
    bob = make_user(Role.LEARNER)
    store_submission(db, ada, result=_result(2))  # 20 %
    store_submission(db, ada, result=_result(9))  # 90 %: ada's best
    store_submission(db, bob, result=sample_result())  # 25 of 50: 50 %
    store_submission(db, bob, status=SubmissionStatus.FAILED)  # phases count, checks do not
    store_submission(db, bob, result=sample_result(), slug="other")  # another exercise
    r = instructor_client.get(DASHBOARD, headers=HTML)
    stats = r.context["stats"]  # type: ignore[attr-defined]
    assert sorted(stats.best_percent) == [50.0, 90.0]
    rates = {c.name: (c.failed, c.ran) for c in stats.checks}
    # health answers ran in all three graded ones; the others only in the full sample.
    assert rates["health answers"] == (0, 3)
    assert rates["rejects NaN"] == (1, 1) and rates["secret holdout check"] == (1, 1)
    percents = [c.percent for c in stats.checks]
    assert percents == sorted(percents, reverse=True) and percents[0] == 100.0  # worst first
    phases = {p.phase: (p.count, p.median, p.p90) for p in stats.phases}
    assert phases == {"train": (4, 1.5, 1.5), "startup": (4, 0.8, 0.8), "test": (4, 2.25, 2.25)}
    charts = r.context["charts"]  # type: ignore[attr-defined]
    assert "2 values from 0% to 100%" in charts["scores"].summary
    assert "rejects NaN 100%" in charts["checks"].summary
    assert "health answers 0%" in charts["checks"].summary
    assert "Training, median 1.5 s" in charts["phases"].summary
    html = r.text
    assert html.count('role="img"') == 3 and "Failure rate per check" in html


def test_regrade_selected_queues_only_the_chosen_ones_of_this_exercise(
    instructor_client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    chosen = [store_submission(db, learner, result=sample_result()) for _ in range(2)]
    left = store_submission(db, learner, result=sample_result())
    other = store_submission(db, learner, result=sample_result(), slug="other")
    path = f"/instructor/exercises/{SLUG}/regrade-selected"
    c = instructor_client

    # An id of another exercise refuses the whole selection.
    r = _post(c, path, {"ids": [chosen[0].id, other.id]})
    assert r.status_code == 400 and f"Not submissions of &#39;{SLUG}&#39;: {other.id}" in r.text
    assert [_status(db, s.id) for s in (*chosen, other)] == ["graded"] * 3
    for bad, says in (
        ({"ids": ["1; DROP"]}, "not a submission number"),
        ({}, "Tick at least one submission"),
        ({"ids": list(range(1, regrade.MAX_SELECTED + 2))}, f"At most {regrade.MAX_SELECTED}"),
    ):
        r = _post(c, path, bad)
        assert r.status_code == 400 and says in r.text, bad
    assert c.post(path, data={"ids": [chosen[0].id]}, headers=HTML).status_code == 403  # no CSRF

    r = _post(c, path, {"ids": [s.id for s in chosen]})
    assert r.status_code == 303
    assert [_status(db, s.id) for s in chosen] == ["queued", "queued"]
    assert _status(db, left.id) == "graded" and _status(db, other.id) == "graded"
    last = queue.get_events(db, submission_id=chosen[0].id)[-1]  # type: ignore[arg-type]
    assert "regrade requested by teach@example.org" in last.detail

    # The dashboard follows the batch: counts, a refresh while unfinished, the JSON poll.
    location = r.headers["location"]
    page = c.get(location, headers=HTML)
    assert "Queued 2 submissions for regrading" in page.text
    assert "2 queued, 0 running, 0 done of 2 regraded" in page.text
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page.text
    assert "dashboard.js" in page.text  # the poll, where JavaScript runs
    assert "regrading; was 25.0" in page.text
    batch = re.search(r"batch=([^&]+)", location).group(1)  # type: ignore[union-attr]
    poll = c.get(f"/instructor/exercises/{SLUG}/regrade-progress?batch={batch}")
    assert poll.json() == {"queued": 2, "running": 0, "done": 0, "finished": False}

    # Already queued ones cannot be chosen again; the row's own button regrades just its row.
    assert _post(c, path, {"ids": [chosen[0].id]}).status_code == 303
    assert _status(db, chosen[0].id) == "queued"
    r = _post(c, path, {"one": left.id, "ids": [other.id]})
    assert r.status_code == 303 and _status(db, left.id) == "queued"
    assert _status(db, other.id) == "graded"


def _grade_now(db: Session, submission_id: int | None, result: ResultDocument | None) -> None:
    """What a worker does with a queued submission: claim it, then store its outcome."""
    assert submission_id is not None
    claim = queue.claim_submission(
        db,
        submission_id=submission_id,
        worker_id="test-worker",
        lease_seconds=60,
        deadline_seconds=lambda _slug: 600,
    )
    assert claim is not None
    state = SubmissionStatus.GRADED if result else SubmissionStatus.FAILED
    outcome = GradeOutcome(status=state, result=result, phase_seconds={"train": 1.0})
    assert queue.complete(db, claim, outcome, finished_at=datetime.now(UTC))


def test_the_dashboard_shows_score_changes_after_a_regrade(
    instructor_client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    up = store_submission(db, learner, result=_result(4))
    down = store_submission(db, learner, result=_result(9))
    was_failed = store_submission(db, learner, status=SubmissionStatus.FAILED)
    never = store_submission(db, learner, result=_result(6))
    c = instructor_client
    r = _post(
        c,
        f"/instructor/exercises/{SLUG}/regrade-selected",
        {"ids": [up.id, down.id, was_failed.id]},
    )
    location = r.headers["location"]
    _grade_now(db, up.id, _result(7))
    _grade_now(db, down.id, _result(3))
    _grade_now(db, was_failed.id, _result(5))
    db.expire_all()
    assert db.get(Submission, up.id).previous_score == 4.0  # type: ignore[union-attr]
    page = c.get(location, headers=HTML)
    html = page.text
    assert "0 queued, 0 running, 3 done of 3 regraded: all finished." in html
    assert 'http-equiv="refresh"' not in html and "dashboard.js" not in html  # finished
    assert re.search(r"was 4.0 → now 7.0 <span class=\"up\">\(\+3.0\)", html)
    assert re.search(r"was 9.0 → now 3.0 <span class=\"down\">\(−6.0\)", html)
    assert "was ungraded → now 5.0" in html
    assert html.count("→ now") == 3  # the submission not regraded shows no change
    rows = {row.submission.id: row.submission for row in page.context["rows"]}  # type: ignore[attr-defined]
    assert rows[never.id].regraded_at is None


def test_regrade_all_reports_its_batch_on_the_dashboard(
    instructor_client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    done = store_submission(db, learner, result=sample_result())
    store_submission(db, learner, status=SubmissionStatus.TRAINING)
    r = _post(instructor_client, f"/instructor/exercises/{SLUG}/regrade", {})
    assert r.status_code == 303 and "batch=" in r.headers["location"]
    html = instructor_client.get(r.headers["location"], headers=HTML).text
    assert "1 queued, 0 running, 0 done of 1 regraded" in html
    assert _status(db, done.id) == "queued"


def _csv(client: TestClient, query: str) -> list[list[str]]:
    r = client.get(f"/instructor/exercises/{SLUG}/grades.csv?{query}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(r.text)))


def test_canvas_and_moodle_layouts_with_formulas_neutralised(
    instructor_client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    ada = _named(db, make_user, "ada@example.org", "Ada Lovelace")
    eve = _named(db, make_user, "eve@example.org", '=HYPERLINK("http://evil","x")')
    mal = _named(db, make_user, "mal@example.org", "@SUM(A1)")
    store_submission(db, ada, result=sample_result(), requested_at=T0)
    store_submission(db, ada, status=SubmissionStatus.FAILED, requested_at=T0 + timedelta(1))
    store_submission(db, eve, result=_result(6), requested_at=T0)
    store_submission(db, mal, status=SubmissionStatus.ERROR, requested_at=T0)
    c = instructor_client
    title = c.get(DASHBOARD, headers=HTML).context["exercise"].title  # type: ignore[attr-defined]

    canvas = _csv(c, "pick=best&format=canvas")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", title]
    assert canvas[1] == ["Points Possible", "", "", "", "", "50.0"]
    assert canvas[2:] == [
        ["Ada Lovelace", "", "", "ada@example.org", "", "25.0"],
        ['\'=HYPERLINK("http://evil","x")', "", "", "eve@example.org", "", "6.0"],
        ["'@SUM(A1)", "", "", "mal@example.org", "", ""],  # nothing graded: left empty
    ]
    latest = _csv(c, "pick=latest&format=canvas")
    assert latest[2] == ["Ada Lovelace", "", "", "ada@example.org", "", ""]  # the failed one
    r = c.get(f"/instructor/exercises/{SLUG}/grades.csv?pick=best&format=canvas")
    assert f"{SLUG}-grades-best-canvas.csv" in r.headers["content-disposition"]

    moodle = _csv(c, "pick=best&format=moodle")
    assert moodle[0] == [
        "Email address",
        title,
        f"{title}: API contract",
        f"{title}: Beats the baseline",
    ]
    assert moodle[1:] == [
        ["ada@example.org", "25.0", "10.0", "15.0"],
        ["eve@example.org", "6.0", "6.0", ""],
        ["mal@example.org", "", "", ""],
    ]
    assert _csv(c, "pick=best")[0][0] == "email"  # ServeLab's own layout stays the default
    r = c.get(f"/instructor/exercises/{SLUG}/grades.csv?format=blackboard")
    assert r.status_code == 400 and "format=canvas" in r.text


@pytest.mark.postgres
def test_filters_sorting_and_pages_are_portable_sql(tmp_path: Path, postgres_db: str) -> None:
    """Case-insensitive learner search, NULLS LAST on scores and paging on PostgreSQL."""
    from servelab.accounts import users as accounts
    from servelab.db.migrate import upgrade
    from servelab.web.app import create_app

    settings = course_settings(tmp_path, database_url=postgres_db)
    upgrade(settings)
    app = create_app(settings)
    with TestClient(app) as client, Session(app.state.engine) as db:
        ada = accounts.create_user(db, email="ada@example.org", password="correct horse battery")
        low = store_submission(db, ada, result=_result(2), requested_at=T0)
        failed = store_submission(db, ada, status=SubmissionStatus.FAILED, requested_at=T0)
        high = store_submission(db, ada, result=_result(8), requested_at=T0)
        teacher = accounts.create_user(
            db, email="teach@example.org", password="correct horse battery", role=Role.INSTRUCTOR
        )
        login(client, teacher)
        assert _ids(client, "sort=score&order=desc") == [high.id, low.id, failed.id]
        assert _ids(client, "sort=score&order=asc") == [low.id, high.id, failed.id]
        assert _ids(client, "learner=ADA&sort=id&order=asc&per_page=2&page=2") == [high.id]
        assert _ids(client, "min_score=1&max_score=5") == [low.id]
        r = _post(client, f"/instructor/exercises/{SLUG}/regrade-selected", {"ids": [low.id]})
        html = client.get(r.headers["location"], headers=HTML).text
        assert "1 queued, 0 running, 0 done of 1 regraded" in html


def test_page_links_show_the_ends_and_the_neighbourhood() -> None:
    from servelab.grading.submission_table import page_numbers

    assert page_numbers(1, 1) == [1]
    assert page_numbers(1, 4) == [1, 2, 3, 4]
    assert page_numbers(10, 40) == [1, None, 8, 9, 10, 11, 12, None, 40]
    assert page_numbers(40, 40) == [1, None, 38, 39, 40]
