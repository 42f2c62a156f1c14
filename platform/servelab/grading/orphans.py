"""ServeLab's Docker labels, its job folders, and the sweepers for what a crash left behind.

Every container and volume a sandbox creates carries `servelab.managed=1` and an owner token
(host, pid, pid start time: `processes.owner_token`); every socket folder and job folder
(`<var>/work/job-…`, one per grading) is named with the owner's `processes.process_tag`. A
resource whose owner process is gone is an orphan: the worker sweeps them at start-up,
without touching those of other live workers sharing the engine or the folders.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container

from servelab.grading import hostmount
from servelab.grading.processes import owner_alive, process_tag, tag_alive
from servelab.settings import Settings

MANAGED_LABEL = "servelab.managed"
OWNER_LABEL = "servelab.owner"
SANDBOX_LABEL = "servelab.sandbox"
ROLE_LABEL = "servelab.role"
SOCKET_ROOT = Path(tempfile.gettempdir()) / "servelab-run"
JOB_PREFIX = "job-"


def remove_container(container: Container) -> None:
    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc):
            raise


def remove_volume(client: docker.DockerClient, name: str) -> None:
    for attempt in range(20):
        try:
            client.volumes.get(name).remove(force=True)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            time.sleep(0.05 * (attempt + 1))  # a container using it is still being removed


def sweep_orphans(client: docker.DockerClient | None = None, *, everything: bool = False) -> int:
    """Remove ServeLab containers, volumes and socket dirs whose creating process is gone.

    `everything=True` also removes those of live processes (for an operator's explicit reset).
    Returns how many containers and volumes were removed.
    """
    client = client or docker.from_env()
    removed = 0
    filters = {"label": f"{MANAGED_LABEL}=1"}
    for container in client.containers.list(all=True, filters=filters, ignore_removed=True):
        if everything or not owner_alive(container.labels.get(OWNER_LABEL)):
            remove_container(container)
            removed += 1
    for volume in client.volumes.list(filters=filters):
        labels = volume.attrs.get("Labels") or {}
        if everything or not owner_alive(labels.get(OWNER_LABEL)):
            try:
                volume.remove(force=True)
                removed += 1
            except docker.errors.APIError:
                pass  # still in use by a container being removed; the next sweep gets it
    if SOCKET_ROOT.is_dir():
        for path in SOCKET_ROOT.iterdir():
            if everything or not tag_alive(path.name.split("-", 1)[0]):
                hostmount.unmount_tree(path)  # never let rmtree walk into a live mount
                shutil.rmtree(path, ignore_errors=True)
    return removed


def work_root(settings: Settings) -> Path:
    """Where the job folders are: `<var>/work`."""
    return settings.var_dir / "work"


def new_job_folder(settings: Settings, submission_id: int | None) -> Path:
    """A fresh, private job folder, named for this process (and the submission, for people)."""
    work_root(settings).mkdir(parents=True, exist_ok=True)
    prefix = f"{JOB_PREFIX}{process_tag()}-{submission_id or 'local'}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=work_root(settings)))


def sweep_job_folders(settings: Settings) -> int:
    """Remove the job folders of processes that are gone; returns how many."""
    root = work_root(settings)
    removed = 0
    if not root.is_dir():
        return 0
    for folder in root.iterdir():
        if not folder.name.startswith(JOB_PREFIX):
            continue
        if tag_alive(folder.name.removeprefix(JOB_PREFIX).split("-", 1)[0]):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed
