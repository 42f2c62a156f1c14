"""Grader self-test: grade an exercise's reference, mutants and starter, compare with intent.

The reference solution must score full marks; each mutant must fail exactly the checks its
`mutant.toml` declares (and so pass all others), or end in the status it declares (e.g. a
service too slow to start is `failed`); the starter must be gradable and pass some checks
but not all. Anything else is a surprise: the suite or the data no longer test what the
instructor thinks they test.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from servelab.content.errors import ContentErrors, load_toml_model
from servelab.content.loader import Course, UnknownExercise
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.images import stale_images
from servelab.grading.outcome import GradeOutcome
from servelab.grading.pipeline import PhaseCallback, grade_directory
from servelab.grading.results import CheckStatus, ResultDocument
from servelab.settings import Settings

MUTANT_FILE = "mutant.toml"
SCORE_EPSILON = 1e-6


class Kind(StrEnum):
    REFERENCE = "reference"
    MUTANT = "mutant"
    STARTER = "starter"


class MutantDeclaration(BaseModel):
    """graders/<slug>/mutants/<name>/mutant.toml: what this known-bad solution must do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(min_length=1)
    # "failed": the learner's code must fail (train, startup, ...) before any check runs.
    expect_status: Literal["graded", "failed"] = "graded"
    # check ids (the test function name, or `name[param]` for one parametrised case)
    must_fail: list[str] = Field(default_factory=list)
    # with expect_status "failed": text the learner's message must contain (case-insensitive),
    # so a mutant meant to be too slow does not pass by crashing instead
    failure_contains: str | None = None


@dataclass(frozen=True)
class Candidate:
    """One folder the self-test grades, and what it is supposed to show."""

    name: str
    kind: Kind
    path: Path
    declaration: MutantDeclaration | None = None

    @property
    def expectation(self) -> str:
        if self.kind == Kind.REFERENCE:
            return "full marks"
        if self.kind == Kind.STARTER:
            return "some checks pass, some fail"
        assert self.declaration is not None
        if self.declaration.expect_status == "failed":
            return "fails before grading"
        return f"fails {len(self.declaration.must_fail)} declared check(s)"


@dataclass
class Verdict:
    """How one candidate's grading compared with its expectation."""

    candidate: Candidate
    status: SubmissionStatus
    score: float | None
    max_score: float | None
    failed_checks: list[str]
    surprises: list[str]
    seconds: float
    outcome: GradeOutcome | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.surprises


@dataclass
class SelftestReport:
    slug: str
    verdicts: list[Verdict]
    problems: list[str] = field(default_factory=list)  # authoring mistakes found up front

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.verdicts) and all(v.ok for v in self.verdicts)


class SelftestError(Exception):
    """The exercise cannot be self-tested as authored (message says what to fix)."""


def check_id(nodeid: str) -> str:
    """`test_file.py::test_name[param]` -> `test_name[param]`: what declarations name."""
    return nodeid.rsplit("::", 1)[-1]


def _declared_matches(declared: str, check: str) -> bool:
    return check == declared or check.split("[", 1)[0] == declared


def discover(course: Course, slug: str) -> list[Candidate]:
    """The reference, every mutant (sorted by name) and the starter of an exercise."""
    try:
        files = course.find_exercise(slug, for_grading=True)
    except UnknownExercise as exc:
        raise SelftestError(exc.message) from exc
    solution = files.grader_dir / "solution"
    if not solution.is_dir():
        raise SelftestError(f"{solution} is missing: the self-test needs a reference solution")
    candidates = [Candidate("solution", Kind.REFERENCE, solution)]
    problems = []
    mutants_dir = files.grader_dir / "mutants"
    for folder in sorted(mutants_dir.iterdir() if mutants_dir.is_dir() else []):
        if not folder.is_dir() or folder.name.startswith((".", "_")):
            continue
        toml = folder / MUTANT_FILE
        if not toml.is_file():
            problems.append(f"{toml}: missing; declare what this mutant must fail")
            continue
        try:
            declaration = load_toml_model(toml, MutantDeclaration)
        except ContentErrors as exc:
            problems.append(str(exc))
            continue
        if declaration.expect_status == "graded" and not declaration.must_fail:
            problems.append(f"{toml}: must_fail is empty; a mutant failing nothing tests nothing")
            continue
        candidates.append(Candidate(folder.name, Kind.MUTANT, folder, declaration))
    if problems:
        raise SelftestError("\n".join(problems))
    if files.starter_dir.is_dir():
        candidates.append(Candidate("starter", Kind.STARTER, files.starter_dir))
    return candidates


def suite_check_ids(result: ResultDocument) -> list[str]:
    return [check_id(test.nodeid) for test in result.tests]


def judge(candidate: Candidate, outcome: GradeOutcome, seconds: float = 0.0) -> Verdict:
    """Compare one grading outcome with what the candidate is supposed to show."""
    result = outcome.result
    tests = result.tests if result else []
    failed = [check_id(t.nodeid) for t in tests if t.status != CheckStatus.PASSED]
    surprises: list[str] = []
    expected_status = SubmissionStatus.GRADED
    if candidate.declaration is not None and candidate.declaration.expect_status == "failed":
        expected_status = SubmissionStatus.FAILED
    if outcome.status != expected_status:
        detail = (outcome.learner_message or outcome.log_excerpt).strip().splitlines()
        surprises.append(
            f"status {outcome.status.value}, expected {expected_status.value}"
            + (f": {detail[0][:200]}" if detail else "")
        )
    elif (
        expected_status == SubmissionStatus.FAILED
        and candidate.declaration is not None
        and candidate.declaration.failure_contains
        and candidate.declaration.failure_contains.lower() not in outcome.learner_message.lower()
    ):
        surprises.append(
            f"failed, but not as declared (expected {candidate.declaration.failure_contains!r}): "
            f"{outcome.learner_message[:200]}"
        )
    elif result is not None:
        if result.suite_errors:
            surprises.append(f"the suite itself reported errors: {result.suite_errors[0][:200]}")
        surprises += _check_surprises(candidate, result, failed)
        if result.feedback_tests:  # split hidden data: each part must judge the same way
            part = result.model_copy(
                update={
                    "tests": result.feedback_part(),
                    "score": result.feedback_score,
                    "max_score": result.feedback_max_score,
                }
            )
            part_failed = [check_id(t.nodeid) for t in part.tests if t.status != "passed"]
            surprises += [
                f"on the feedback part: {surprise}"
                for surprise in _check_surprises(candidate, part, part_failed)
            ]
    return Verdict(
        candidate=candidate,
        status=outcome.status,
        score=result.score if result else None,
        max_score=result.max_score if result else None,
        failed_checks=failed,
        surprises=surprises,
        seconds=seconds,
        outcome=outcome,
    )


def _check_surprises(candidate: Candidate, result: ResultDocument, failed: list[str]) -> list[str]:
    if not result.tests:
        return ["the suite ran no checks"]
    if candidate.kind == Kind.REFERENCE:
        if failed or result.score < result.max_score - SCORE_EPSILON:
            return [f"the reference failed: {', '.join(failed) or 'score below max'}"]
        return []
    if candidate.kind == Kind.STARTER:
        if not failed:
            return ["the starter passes every check; it should leave work to the learner"]
        if len(failed) == len(result.tests):
            return ["the starter fails every check; it should run and pass some"]
        return []
    assert candidate.declaration is not None
    declared = candidate.declaration.must_fail
    checks = suite_check_ids(result)
    out = []
    unknown = [d for d in declared if not any(_declared_matches(d, c) for c in checks)]
    if unknown:
        out.append(f"declares checks the suite does not have: {', '.join(unknown)}")
    should_fail = {c for c in checks if any(_declared_matches(d, c) for d in declared)}
    unexpected = [c for c in failed if c not in should_fail]
    missed = sorted(should_fail - set(failed))
    if missed:
        out.append(f"passed checks it must fail: {', '.join(missed)}")
    if unexpected:
        out.append(f"failed undeclared checks: {', '.join(unexpected)}")
    return out


def run_selftest(
    settings: Settings,
    course: Course,
    slug: str,
    *,
    only: list[str] | None = None,
    jobs: int = 1,
    on_start: Callable[[Candidate], None] | None = None,
    on_phase: Callable[[Candidate, SubmissionStatus], None] | None = None,
    on_done: Callable[[Verdict], None] | None = None,
) -> SelftestReport:
    """Grade every candidate through the real pipeline, `jobs` at a time (each grading is
    independent, as in the worker pool); the verdicts keep the candidates' order. With more
    than one job the callbacks run in the grading threads."""
    try:
        candidates = discover(course, slug)
    except SelftestError as exc:
        return SelftestReport(slug, [], problems=str(exc).splitlines())
    files = course.find_exercise(slug, for_grading=True)
    solution = candidates[0].path  # discover() puts the reference first
    if only:
        unknown = sorted(set(only) - {c.name for c in candidates})
        if unknown:
            return SelftestReport(slug, [], problems=[f"no candidate named {', '.join(unknown)}"])
        candidates = [c for c in candidates if c.name in only]
    stale = stale_images(settings)
    if stale:
        return SelftestReport(slug, [], problems=stale)

    def grade_one(candidate: Candidate) -> Verdict:
        if on_start:
            on_start(candidate)
        started = time.monotonic()
        with _submission_folder(candidate, solution) as folder:
            outcome = grade_directory(
                folder, files, settings, on_phase=_phase_reporter(candidate, on_phase)
            )
        verdict = judge(candidate, outcome, time.monotonic() - started)
        if on_done:
            on_done(verdict)
        return verdict

    if jobs <= 1:
        return SelftestReport(slug, [grade_one(candidate) for candidate in candidates])
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="servelab-selftest") as pool:
        return SelftestReport(slug, list(pool.map(grade_one, candidates)))


@contextmanager
def _submission_folder(candidate: Candidate, solution: Path) -> Iterator[Path]:
    """The folder to grade. A mutant holds only the files that differ from the reference
    solution, so it is laid over a copy of solution/ (its mutant.toml left out)."""
    if candidate.kind != Kind.MUTANT:
        yield candidate.path
        return
    with tempfile.TemporaryDirectory(prefix=f"selftest-{candidate.name}-") as tmp:
        folder = Path(tmp) / "submission"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", MUTANT_FILE)
        shutil.copytree(solution, folder, ignore=ignore)
        shutil.copytree(candidate.path, folder, ignore=ignore, dirs_exist_ok=True)
        yield folder


def _phase_reporter(
    candidate: Candidate, on_phase: Callable[[Candidate, SubmissionStatus], None] | None
) -> PhaseCallback | None:
    if on_phase is None:
        return None
    return lambda status: on_phase(candidate, status)
