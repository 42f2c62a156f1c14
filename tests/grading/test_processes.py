"""Process identity: a pid is alive only with the start time it was recorded with."""

from __future__ import annotations

import os
import subprocess

from grading_helpers import reused

from servelab.grading.processes import (
    HOST,
    owner_alive,
    owner_token,
    process_tag,
    start_time,
    tag_alive,
    tag_for,
)


def test_this_process_is_alive_by_tag_and_owner() -> None:
    assert tag_alive(process_tag())
    assert owner_alive(owner_token())
    assert owner_token() == f"{HOST}:{os.getpid()}:{start_time(os.getpid())}"


def test_a_reused_pid_is_dead(later: subprocess.Popen[bytes]) -> None:
    earlier = reused(later.pid)
    assert tag_alive(tag_for(later.pid, start_time(later.pid)))
    assert not tag_alive(tag_for(later.pid, earlier))
    assert not owner_alive(f"{HOST}:{later.pid}:{earlier}")


def test_gone_missing_and_foreign_owners() -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    assert start_time(finished.pid) is None
    assert not tag_alive(tag_for(finished.pid, "1"))
    assert not tag_alive("not-a-tag") and not tag_alive("")
    assert not tag_alive(f"{finished.pid}.1")  # the old tag, without a host, is not a tag
    assert not owner_alive(None) and not owner_alive(f"{HOST}:x:1")
    assert owner_alive("another-host:1:1")  # not ours to judge


def test_another_hosts_tag_is_left_to_that_host() -> None:
    """Workers on two hosts (or in two containers) sharing a job folder: a pid from the other
    host means nothing here, even one that is dead or reused on this host."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    assert not tag_alive(tag_for(finished.pid, "1"))
    assert tag_alive(f"0123456789.{finished.pid}.1")
