"""The instructor's quiz pages (routes/instructor_quiz.py): counts, item analysis, the CSV."""

from __future__ import annotations

import csv
import io
import re
from xml.etree import ElementTree

import quiz_helpers
from quiz_helpers import FLAGSHIP

from servelab.db.models import Role
from support import login

API = f"/api/v1/quizzes/{FLAGSHIP}"

# Fixtures from quiz_helpers (a conftest.py here would shadow the top-level one).
bearer = quiz_helpers.bearer
course_dir = quiz_helpers.course_dir
html_client = quiz_helpers.html_client
settings = quiz_helpers.settings
flagship = quiz_helpers.flagship


def test_instructor_pages(client, bearer, make_user, html_client, flagship) -> None:  # type: ignore[no-untyped-def]
    for answers in (
        {"best-practice": "artifact-and-contract", "split-strategy": "temporal"},
        {"best-practice": "one-average", "split-strategy": "temporal"},
    ):
        headers = bearer(make_user())
        attempt = client.post(f"{API}/attempts", headers=headers).json()
        client.post(
            f"{API}/attempts/{attempt['id']}/submit", headers=headers, json={"answers": answers}
        )
    client.post(
        f"{API}/attempts", headers=bearer(make_user(email="=cmd@example.org"))
    )  # open attempt

    learner = make_user()
    login(html_client, learner)
    assert html_client.get(f"/instructor/quizzes/{FLAGSHIP}").status_code == 403
    assert html_client.get(f"/instructor/quizzes/{FLAGSHIP}/attempts.csv").status_code == 403
    html_client.cookies.clear()
    login(html_client, make_user(Role.INSTRUCTOR))
    page = html_client.get(f"/instructor/quizzes/{FLAGSHIP}")
    assert page.status_code == 200
    assert "3 attempts by 3 learners; 2 submitted." in page.text
    # scores 3/17 and 1/17: mean = median = 2/17 = 11.8 %
    assert "Mean <strong>11.8 %</strong>, median <strong>11.8 %</strong>" in page.text
    svg = re.search(r"<svg.*?</svg>", page.text, re.S)
    assert svg is not None
    tree = ElementTree.fromstring(svg.group(0))  # the shared chart (web/charts.py)
    bars = [rect.findtext("title") for rect in tree.findall("rect")]
    assert len(bars) == 10
    assert bars[:3] == ["0%–10%: 1", "10%–20%: 1", "20%–30%: 0"]  # 5.9 % and 17.6 %
    assert 'id="item-best-practice"' in page.text and "very easy" in page.text
    assert html_client.get("/instructor/quizzes").status_code == 200

    exported = html_client.get(f"/instructor/quizzes/{FLAGSHIP}/attempts.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 3
    assert {r["status"] for r in rows} == {"submitted", "open"}
    assert sorted(r["score"] for r in rows) == ["", "1", "3"]
    assert "points:best-practice" in rows[0]
    assert all(float(r["seconds_taken"]) >= 0 for r in rows if r["status"] == "submitted")
    assert any(r["user_email"] == "'=cmd@example.org" for r in rows)  # formula neutralised
