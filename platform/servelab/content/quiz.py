"""quiz.toml: the lesson's quiz. Owned by the quiz engine (which extends the question types)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from servelab.content.errors import load_toml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Strict):
    id: str
    text: str
    feedback: str = ""


class SingleChoice(_Strict):
    type: Literal["single"] = "single"
    id: str
    prompt: str
    options: list[Option] = Field(min_length=2)
    answer: str
    points: float = 1.0
    explanation: str
    section: str = ""

    @model_validator(mode="after")
    def _answer_is_an_option(self) -> SingleChoice:
        ids = [o.id for o in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError(f"option ids must be unique, got {ids}")
        if self.answer not in ids:
            raise ValueError(f"answer '{self.answer}' is not among the options {ids}")
        return self


class Quiz(_Strict):
    title: str
    pass_mark: float = Field(0.7, ge=0, le=1)
    questions: list[SingleChoice] = Field(min_length=1)


def load_quiz(path: Path) -> Quiz:
    """Load and validate quiz.toml; raises ContentErrors naming file and line."""
    return load_toml_model(path, Quiz)
