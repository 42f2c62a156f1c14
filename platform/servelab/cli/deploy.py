"""CLI: `servelab deploy build` for the Compose deployment's images (deploy/compose.yaml)."""

from __future__ import annotations

from typing import Annotated, get_args

import typer
from rich.console import Console

from servelab.cli.runtime import docker_client
from servelab.deploy_images import DEFAULT_TAGS, Kind, build_deploy_image
from servelab.grading.runtime import RuntimeImageError
from servelab.settings import get_settings

deploy_app = typer.Typer(help="The Compose deployment (deploy/compose.yaml, deploy/README.md).")
KINDS: tuple[Kind, ...] = get_args(Kind)


@deploy_app.command("build")
def build(
    only: Annotated[
        list[str] | None, typer.Option(help="build only these images: app, redis, postgres")
    ] = None,
    force: Annotated[bool, typer.Option(help="rebuild even when an image is current")] = False,
) -> None:
    """Build the app, redis and postgres images offline; a no-op for a current image."""
    settings = get_settings()
    err = Console(stderr=True)
    unknown = sorted(set(only or ()) - set(KINDS))
    if unknown:
        err.print(f"[red]Unknown image {', '.join(unknown)}[/red]: choose app, redis or postgres.")
        raise typer.Exit(2)
    client = docker_client(err)
    for kind in KINDS:
        if only and kind not in only:
            continue

        def show(step: str, kind: Kind = kind) -> None:
            err.print(f"  {kind}: {step}")

        try:
            result = build_deploy_image(settings, kind, client=client, force=force, on_step=show)
        except RuntimeImageError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        state = "built" if result.built else "is current"
        err.print(f"{DEFAULT_TAGS[kind]} {state} ({result.content_hash}, {result.seconds:.0f} s)")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(deploy_app, name="deploy")
