"""Helpers for the sandbox tests: fixture submissions and what a sandbox left behind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import docker

from servelab.grading.orphans import MANAGED_LABEL, SANDBOX_LABEL
from servelab.grading.sandbox import PhaseResult, Sandbox

HOSTILE = Path(__file__).parent / "hostile"


def leftovers(client: docker.DockerClient, sandbox: Sandbox) -> list[str]:
    """Everything of `sandbox` still on the host: containers, volumes, socket dir, processes."""
    found: list[str] = []
    label = {"label": f"{SANDBOX_LABEL}={sandbox.id}"}
    found += [f"container {c.name}" for c in client.containers.list(all=True, filters=label)]
    found += [f"volume {v.name}" for v in client.volumes.list(filters=label)]
    if sandbox.host_dir.exists():
        found.append(f"host dir {sandbox.host_dir}")
    mounts = Path("/proc/self/mountinfo").read_text()
    if str(sandbox.host_dir) in mounts:
        found.append(f"mount under {sandbox.host_dir}")
    for cgroup in Path("/proc").glob("[0-9]*/cgroup"):
        try:
            text = cgroup.read_text()
        except OSError:
            continue  # the process ended while we looked
        found += [f"process {cgroup.parent.name}" for cid in sandbox.container_ids if cid in text]
    return found


def managed_count(client: docker.DockerClient) -> int:
    return len(
        client.containers.list(
            all=True, filters={"label": f"{MANAGED_LABEL}=1"}, ignore_removed=True
        )
    )


def report_of(result: PhaseResult) -> dict:
    """The JSON a fixture program printed after `REPORT ` in its output."""
    # Not anchored at line start: Docker reads stdout and stderr through separate pipes, so a
    # traceback's lines can land around the report line.
    match = re.search(r"REPORT (\{[^\n]*\})", result.output)
    assert match, result.output
    return json.loads(match.group(1))
