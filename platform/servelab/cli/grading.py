"""CLI: grade, runtime build/check. Owned by the grading engine."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
