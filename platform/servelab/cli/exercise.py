"""CLI: exercise selftest/new. Owned by the flagship exercise."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
