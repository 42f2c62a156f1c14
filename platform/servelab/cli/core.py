"""CLI: serve, db, content, users. Owned by the platform foundation."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
