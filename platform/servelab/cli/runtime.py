"""CLI: `servelab runtime build|check|sweep` for the images grading runs (runtime and grader)."""

from __future__ import annotations

from typing import Annotated

import docker
import docker.errors
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from servelab.grading import images
from servelab.grading.runtime import RuntimeImageError
from servelab.settings import Settings, get_settings

runtime_app = typer.Typer(
    help="Build and check the images grading runs: the learners' runtime and the grader's."
)

_STEPS = {
    "download wheels": "Downloading the pinned wheels on the host",
    "debootstrap": "Building a Debian bookworm root filesystem (debootstrap)",
    "base from cache": "Unpacking the cached Debian bookworm root filesystem",
    "venv": "Creating the Python 3.11 virtual environment",
    "wheels": "Installing the wheels without network",
    "harden": "Adding the unprivileged user, removing set-uid bits",
    "import": "Importing the root filesystem into Docker",
    "docker build": "docker build on python:3.11-slim",
    "done": "Done",
}


def docker_client(err: Console) -> docker.DockerClient:
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
    force: Annotated[bool, typer.Option(help="rebuild even when an image is current")] = False,
) -> None:
    """Build both images; a no-op for an image built from the same inputs."""
    settings = get_settings()
    err = Console(stderr=True)
    client = docker_client(err)
    offline = None if online is None else not online
    for spec in images.IMAGES:
        _build_one(settings, spec, client, err, offline=offline, force=force)


def _build_one(
    settings: Settings,
    spec: images.ImageSpec,
    client: docker.DockerClient,
    err: Console,
    *,
    offline: bool | None,
    force: bool,
) -> None:
    tag = spec.tag(settings)
    if not force and images.image_exists(settings, client, spec):
        err.print(f"The {spec.kind} image {tag} is current ({spec.content_hash()}).")
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        current: list[TaskID] = []

        def on_step(step: str) -> None:
            if current:
                progress.update(current[-1], completed=1, total=1)
            text = _STEPS.get(step, step)
            current.append(progress.add_task(f"{spec.kind}: {text}", total=None))

        try:
            result = images.build_image(
                settings, offline, spec=spec, client=client, on_step=on_step, force=force
            )
        except RuntimeImageError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        if current:
            progress.update(current[-1], completed=1, total=1)
    how = "offline (debootstrap)" if result.offline else "online (Dockerfile)"
    err.print(f"Built {result.tag} {how} in {result.seconds:.0f} s ({result.content_hash}).")


@runtime_app.command("check")
def check() -> None:
    """Run each image as grading does and check every package imports at its pinned version."""
    settings = get_settings()
    err = Console(stderr=True)
    client = docker_client(err)
    failed = False
    for spec in images.IMAGES:
        failed |= not _check_one(settings, spec, client, err)
    if failed:
        raise typer.Exit(1)


def _check_one(
    settings: Settings, spec: images.ImageSpec, client: docker.DockerClient, err: Console
) -> bool:
    tag = spec.tag(settings)
    if not images.image_exists(settings, client, spec):
        err.print(f"[yellow]{tag} is missing or out of date;[/yellow] run `servelab runtime build`")
    try:
        report = images.check_image(settings, client, spec)
    except RuntimeImageError as exc:
        err.print(f"[red]{exc}[/red]")
        return False
    table = Table(title=f"{tag} (Python {report.python})")
    table.add_column("package")
    table.add_column("pinned")
    table.add_column("in image")
    pins = spec.pins()
    for name, pin in pins.items():
        found = report.versions.get(name, "missing")
        table.add_row(name, pin, found if found == pin else f"[red]{found}[/red]")
    Console().print(table)
    if report.problems:
        err.print(
            f"[red]The {spec.kind} image does not match its pins:[/red]\n"
            + "\n".join(report.problems)
        )
        return False
    err.print(
        f"{spec.kind}: all {len(pins)} packages import at their pinned versions "
        f"({report.seconds:.1f} s)."
    )
    return True


@runtime_app.command("sweep")
def sweep(
    everything: Annotated[
        bool, typer.Option("--all", help="also remove those of running workers (a reset)")
    ] = False,
) -> None:
    """Remove sandbox containers, volumes and mounts left behind by crashed workers."""
    from servelab.grading.orphans import sweep_orphans

    client = docker_client(Console(stderr=True))
    removed = sweep_orphans(client, everything=everything)
    Console(stderr=True).print(f"Removed {removed} orphaned containers and volumes.")


def register(app: typer.Typer) -> None:
    """Add `servelab runtime ...` to the root app."""
    app.add_typer(runtime_app, name="runtime")
