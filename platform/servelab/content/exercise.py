"""exercise.toml: the practice task's settings. Owned by the grading engine (which extends it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from servelab.content.errors import load_toml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExerciseLimits(_Strict):
    """Per-phase resource limits; the grading engine clamps them to a hard cap."""

    train_seconds: float = Field(120, gt=0)
    startup_seconds: float = Field(30, gt=0)
    test_seconds: float = Field(300, gt=0)
    memory_mb: int = Field(1024, gt=0)
    cpus: float = Field(1.0, gt=0)
    pids: int = Field(512, gt=0)


class Exercise(_Strict):
    title: str
    summary: str = ""
    limits: ExerciseLimits = ExerciseLimits()


def load_exercise(path: Path) -> Exercise:
    """Load and validate exercise.toml; raises ContentErrors naming file and line."""
    return load_toml_model(path, Exercise)
