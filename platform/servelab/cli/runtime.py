"""CLI: `servelab runtime build` and `servelab runtime check` for the learners' runtime image."""

from __future__ import annotations

from typing import Annotated

import docker
import docker.errors
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from servelab.grading import runtime
from servelab.settings import get_settings

runtime_app = typer.Typer(help="Build and check the runtime image learners' services run in.")

_STEPS = {
    "download wheels": "Downloading the pinned wheels on the host",
    "debootstrap": "Building a Debian bookworm root filesystem (debootstrap)",
    "base from cache": "Unpacking the cached Debian bookworm root filesystem",
    "venv": "Creating the Python 3.11 virtual environment",
    "wheels": "Installing the wheels without network",
    "harden": "Adding the learner user, removing set-uid bits",
    "import": "Importing the root filesystem into Docker",
    "docker build": "docker build on python:3.11-slim",
    "done": "Done",
}


def _docker_client(err: Console) -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        err.print(
            f"[red]Docker is not reachable:[/red] {exc}\nRun `deploy/ensure-system.sh docker`."
        )
        raise typer.Exit(2) from None
    return client


@runtime_app.command("build")
def build(
    online: Annotated[
        bool | None,
        typer.Option("--online/--offline", help="force the Dockerfile or the debootstrap build"),
    ] = None,
    force: Annotated[bool, typer.Option(help="rebuild even when the image is current")] = False,
) -> None:
    """Build the runtime image; a no-op when an image built from the same inputs exists."""
    settings = get_settings()
    err = Console(stderr=True)
    client = _docker_client(err)
    offline = None if online is None else not online
    if not force and runtime.image_exists(settings, client):
        err.print(
            f"Runtime image {runtime.image_tag(settings)} is current ({runtime.content_hash()})."
        )
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        current: list[TaskID] = []

        def on_step(step: str) -> None:
            if current:
                progress.update(current[-1], completed=1, total=1)
            current.append(progress.add_task(_STEPS.get(step, step), total=None))

        try:
            result = runtime.build_image(
                settings, offline, client=client, on_step=on_step, force=force
            )
        except runtime.RuntimeImageError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        if current:
            progress.update(current[-1], completed=1, total=1)
    how = "offline (debootstrap)" if result.offline else "online (Dockerfile)"
    err.print(f"Built {result.tag} {how} in {result.seconds:.0f} s ({result.content_hash}).")


@runtime_app.command("check")
def check() -> None:
    """Run the image as the sandbox does and check every package imports at its pinned version."""
    settings = get_settings()
    err = Console(stderr=True)
    client = _docker_client(err)
    if not runtime.image_exists(settings, client):
        err.print(
            f"[yellow]{runtime.image_tag(settings)} is missing or out of date;[/yellow] "
            "run `servelab runtime build`."
        )
    try:
        report = runtime.check_image(settings, client)
    except runtime.RuntimeImageError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    table = Table(title=f"{runtime.image_tag(settings)} (Python {report.python})")
    table.add_column("package")
    table.add_column("pinned")
    table.add_column("in image")
    pins = runtime.runtime_packages()
    for name, pin in pins.items():
        found = report.versions.get(name, "missing")
        table.add_row(name, pin, found if found == pin else f"[red]{found}[/red]")
    Console().print(table)
    if report.problems:
        err.print("[red]The image does not match its pins:[/red]\n" + "\n".join(report.problems))
        raise typer.Exit(1)
    err.print(f"All {len(pins)} packages import at their pinned versions ({report.seconds:.1f} s).")


@runtime_app.command("sweep")
def sweep(
    everything: Annotated[
        bool, typer.Option("--all", help="also remove those of running workers (a reset)")
    ] = False,
) -> None:
    """Remove sandbox containers, volumes and mounts left behind by crashed workers."""
    from servelab.grading.sandbox import sweep_orphans

    client = _docker_client(Console(stderr=True))
    removed = sweep_orphans(client, everything=everything)
    Console(stderr=True).print(f"Removed {removed} orphaned containers and volumes.")


def register(app: typer.Typer) -> None:
    """Add `servelab runtime ...` to the root app."""
    app.add_typer(runtime_app, name="runtime")
