"""Accepting a submission (grading/intake.py): one accept() for zip and text, its refusals."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from grading_helpers import SLUG, SOLUTION, course_settings, make_learner, tiny_course
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.db.models import User
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import intake
from servelab.grading.archive import MAX_COMPRESSED
from servelab.grading.intake import SubmissionRefused, TextFiles, ZipUpload
from servelab.grading.submission_limits import MAX_ACTIVE_SUBMISSIONS
from servelab.settings import Settings

SOLUTION_FILES = {name: (SOLUTION / name).read_text() for name in ("train.py", "main.py")}


@pytest.fixture
def intake_settings(tmp_path: Path) -> Settings:
    settings = course_settings(tmp_path / "var")
    upgrade(settings)
    return settings


@pytest.fixture
def engine(intake_settings: Settings) -> Iterator[Engine]:
    engine = make_engine(intake_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def learner(engine: Engine) -> User:
    with Session(engine) as session:
        return make_learner(session)


def _accept(engine: Engine, settings: Settings, user: User, upload: intake.Upload) -> Submission:
    with Session(engine) as session:
        return intake.accept(
            session,
            settings=settings,
            course=tiny_course(),
            user=user,
            exercise_slug=SLUG,
            upload=upload,
        )


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"my-service/{name}", text)
    return buffer.getvalue()


def _folders(settings: Settings) -> list[Path]:
    root = settings.submissions_dir
    return sorted(root.iterdir()) if root.exists() else []


def test_text_files_are_written_queued_and_normalised(
    engine: Engine, intake_settings: Settings, learner: User
) -> None:
    files = {**SOLUTION_FILES, "main.py": SOLUTION_FILES["main.py"].replace("\n", "\r\n")}
    row = _accept(engine, intake_settings, learner, TextFiles({**files, "requirements.txt": " "}))
    assert row.status == SubmissionStatus.QUEUED and row.user_id == learner.id
    folder = Path(row.source_dir)
    assert folder.parent == intake_settings.submissions_dir
    assert folder.name.startswith(f"{learner.id}-")
    assert sorted(p.name for p in folder.iterdir()) == ["main.py", "train.py"]  # empty one left out
    assert "\r" not in (folder / "main.py").read_text()


def test_a_zip_is_unpacked_from_its_top_folder(
    engine: Engine, intake_settings: Settings, learner: User
) -> None:
    row = _accept(engine, intake_settings, learner, ZipUpload(_zip(SOLUTION_FILES)))
    assert (Path(row.source_dir) / "train.py").read_text() == SOLUTION_FILES["train.py"]


@pytest.mark.parametrize(
    ("upload", "status", "words"),
    [
        (ZipUpload(None), 400, "Choose a .zip file"),
        (ZipUpload(b""), 400, "Choose a .zip file"),
        (TextFiles({"train.py": "x = 1\n", "main.py": "  \n"}), 400, "main.py is empty"),
        (TextFiles({}), 400, "train.py and main.py are empty"),
        (
            TextFiles({**SOLUTION_FILES, "big.txt": "x" * (MAX_COMPRESSED + 1)}),
            413,
            "Leave data and trained models out",
        ),
        (ZipUpload(_zip({"train.py": "x = 1\n"})), 400, "Your submission has no main.py"),
        (ZipUpload(b"not a zip at all"), 400, "not a valid .zip archive"),
        (
            TextFiles({**SOLUTION_FILES, "requirements.txt": "lightgbm==4.5\n"}),
            400,
            "lightgbm is not in the runtime image",
        ),
    ],
)
def test_refusals_say_why_and_leave_nothing_behind(
    engine: Engine,
    intake_settings: Settings,
    learner: User,
    upload: intake.Upload,
    status: int,
    words: str,
) -> None:
    with pytest.raises(SubmissionRefused) as refused:
        _accept(engine, intake_settings, learner, upload)
    assert refused.value.status_code == status
    assert words in refused.value.message
    assert _folders(intake_settings) == []
    with Session(engine) as session:
        assert session.exec(select(Submission)).all() == []


def test_an_unknown_exercise_is_404(
    engine: Engine, intake_settings: Settings, learner: User
) -> None:
    with Session(engine) as session, pytest.raises(SubmissionRefused) as refused:
        intake.accept(
            session,
            settings=intake_settings,
            course=tiny_course(),
            user=learner,
            exercise_slug="no-such-exercise",
            upload=TextFiles(SOLUTION_FILES),
        )
    assert refused.value.status_code == 404


def test_the_active_limit_refuses_with_retry_after_and_unpacks_nothing(
    engine: Engine, intake_settings: Settings, learner: User
) -> None:
    for _ in range(MAX_ACTIVE_SUBMISSIONS):
        _accept(engine, intake_settings, learner, TextFiles(SOLUTION_FILES))
    with pytest.raises(SubmissionRefused) as refused:
        _accept(engine, intake_settings, learner, TextFiles(SOLUTION_FILES))
    assert refused.value.status_code == 429
    assert refused.value.retry_after_seconds is not None and refused.value.retry_after_seconds > 0
    assert len(_folders(intake_settings)) == MAX_ACTIVE_SUBMISSIONS


def test_submission_problem_names_the_missing_files(tmp_path: Path) -> None:
    problem = intake.submission_problem(tmp_path)
    assert problem is not None and "no train.py or main.py" in problem
    (tmp_path / "train.py").write_text("x = 1\n")
    (tmp_path / "main.py").write_text("app = None\n")
    assert intake.submission_problem(tmp_path) is None
