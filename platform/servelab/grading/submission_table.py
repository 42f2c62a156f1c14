"""The instructor dashboard's submissions table: filtered, sorted and paged in SQL.

The query string is read into one `TableQuery` (every value bounded and checked; a bad one is
a `TableQueryError` with a message the page shows), and `table_page` turns it into a single
SELECT with WHERE / ORDER BY / LIMIT / OFFSET plus a COUNT, so a page costs the same with ten
submissions or a hundred thousand. Only the rows of the page have their result read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import ColumnElement, case, or_
from sqlmodel import Session, col, func, select

from servelab.db.models import User
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import views
from servelab.grading.grades import SubmissionRow

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
MAX_PAGE = 100_000
MAX_LEARNER_FILTER = 100


class SortKey(StrEnum):
    ID = "id"
    LEARNER = "learner"
    SUBMITTED = "submitted"
    STATUS = "status"
    SCORE = "score"


class TableQueryError(ValueError):
    """A query string value the table cannot use; `message` says which and what is allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_FIELD_HINTS = {
    "learner": f"the learner filter is at most {MAX_LEARNER_FILTER} characters",
    "status": "status is one of " + ", ".join(s.value for s in SubmissionStatus),
    "min_score": "the minimum score is a number of points, 0 or more",
    "max_score": "the maximum score is a number of points, 0 or more",
    "sort": "sort is one of " + ", ".join(k.value for k in SortKey),
    "order": "order is asc or desc",
    "page": f"page is a whole number from 1 to {MAX_PAGE}",
    "per_page": f"per_page is a whole number from 1 to {MAX_PER_PAGE}",
}


class TableQuery(BaseModel):
    """What the dashboard's query string asks for; empty form fields mean "any"."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    learner: str = Field(default="", max_length=MAX_LEARNER_FILTER)
    status: SubmissionStatus | None = None
    min_score: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_score: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    sort: SortKey = SortKey.SUBMITTED
    order: Literal["asc", "desc"] = "desc"
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    per_page: int = Field(default=DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE)

    @model_validator(mode="after")
    def _range_in_order(self) -> TableQuery:
        if (
            self.min_score is not None
            and self.max_score is not None
            and self.min_score > self.max_score
        ):
            raise ValueError("the minimum score is above the maximum")
        return self

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> TableQuery:
        """Read the query string (blank values dropped); TableQueryError names what is wrong."""
        sent = {k: v.strip() for k, v in params.items() if k in cls.model_fields and v.strip()}
        try:
            return cls.model_validate(sent)
        except ValidationError as exc:
            problems = []
            for err in exc.errors()[:3]:
                field = str(err["loc"][0]) if err["loc"] else ""
                problems.append(
                    _FIELD_HINTS.get(field, str(err["msg"]).removeprefix("Value error, "))
                )
            raise TableQueryError(
                "This dashboard link has a value it cannot use: " + "; ".join(problems) + "."
            ) from None

    @property
    def filtered(self) -> bool:
        ranges = (self.min_score, self.max_score)
        return bool(self.learner) or self.status is not None or ranges != (None, None)

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string of this view with `changes`, defaults left out (short links)."""
        merged = self.model_copy(update=changes)
        out: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(merged, name)
            if value is None or value == "" or value == field.default:
                continue
            out[name] = str(value.value if isinstance(value, StrEnum) else value)
        return out

    def link(self, **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return f"?{query}" if query else "?"

    def sort_link(self, key: SortKey) -> str:
        """Sort by `key`: descending first, or the other way when already sorted by it."""
        order = "asc" if self.sort == key and self.order == "desc" else "desc"
        return self.link(sort=key, order=order, page=1)

    def aria_sort(self, key: SortKey) -> str | None:
        if self.sort != key:
            return None
        return "ascending" if self.order == "asc" else "descending"


@dataclass(frozen=True)
class TablePage:
    rows: list[SubmissionRow]
    total: int  # rows matching the filters, on every page
    page: int  # the page shown (a page past the end shows the last one)
    pages: int
    query: TableQuery

    @property
    def first_shown(self) -> int:
        return (self.page - 1) * self.query.per_page + 1 if self.rows else 0

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.rows) - 1 if self.rows else 0


def _graded_score() -> ColumnElement[Any]:
    # A row waiting for its regrade still holds its old score: only a graded row has one.
    return case((col(Submission.status) == SubmissionStatus.GRADED, col(Submission.score)))


def _conditions(exercise_slug: str, query: TableQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [col(Submission.exercise_slug) == exercise_slug]
    if query.learner:
        needle = query.learner.lower()
        where.append(
            or_(
                func.lower(col(User.email)).contains(needle, autoescape=True),
                func.lower(col(User.display_name)).contains(needle, autoescape=True),
            )
        )
    if query.status is not None:
        where.append(col(Submission.status) == query.status)
    if query.min_score is not None or query.max_score is not None:
        where.append(col(Submission.status) == SubmissionStatus.GRADED)
    if query.min_score is not None:
        where.append(col(Submission.score) >= query.min_score)
    if query.max_score is not None:
        where.append(col(Submission.score) <= query.max_score)
    return where


def _order(query: TableQuery) -> list[Any]:
    column: Any = {
        SortKey.ID: col(Submission.id),
        SortKey.LEARNER: col(User.email),
        SortKey.SUBMITTED: col(Submission.requested_at),
        SortKey.STATUS: col(Submission.status),
        SortKey.SCORE: _graded_score(),
    }[query.sort]
    ordered = column.asc() if query.order == "asc" else column.desc()
    tie = col(Submission.id).asc() if query.order == "asc" else col(Submission.id).desc()
    return [ordered.nulls_last(), tie]


def table_page(session: Session, *, exercise_slug: str, query: TableQuery) -> TablePage:
    """One page of the exercise's submissions as `query` filters and sorts them."""
    where = _conditions(exercise_slug, query)
    count_stmt = select(func.count()).select_from(Submission).join(User).where(*where)
    total = int(session.exec(count_stmt).one())
    pages = max(1, math.ceil(total / query.per_page))
    page = min(query.page, pages)
    stmt = (
        select(Submission, User)
        .join(User)
        .where(*where)
        .order_by(*_order(query))
        .limit(query.per_page)
        .offset((page - 1) * query.per_page)
    )
    rows = []
    for submission, learner in session.exec(stmt).all():
        doc = views.full_result(submission)
        rows.append(
            SubmissionRow(
                submission=submission,
                learner=learner,
                categories=doc.categories if doc else [],
                phase_seconds=views.phase_seconds(submission),
            )
        )
    return TablePage(rows=rows, total=total, page=page, pages=pages, query=query)


def page_numbers(page: int, pages: int, *, around: int = 2) -> list[int | None]:
    """Page links to show: the first, the last and a few around the current (None: a gap)."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    out: list[int | None] = []
    previous = 0
    for number in shown:
        if previous and number - previous > 1:
            out.append(None)
        out.append(number)
        previous = number
    return out
