"""What a crash leaves on the host: job folders are swept only when their process is gone."""

from __future__ import annotations

import subprocess
from pathlib import Path

from grading_helpers import course_settings, reused

from servelab.grading.orphans import sweep_job_folders, work_root
from servelab.grading.processes import process_tag, start_time, tag_for


def test_job_folders_of_gone_or_reused_pids_are_swept(
    tmp_path: Path, later: subprocess.Popen[bytes]
) -> None:
    settings = course_settings(tmp_path / "var")
    root = work_root(settings)
    finished = subprocess.Popen(["true"])
    finished.wait()
    folders = {
        "gone": root / f"job-{tag_for(finished.pid, '1')}-7-abc",
        # recorded by an earlier process whose pid the live `later` process now has
        "reused": root / f"job-{tag_for(later.pid, reused(later.pid))}-8-abc",
        "live": root / f"job-{tag_for(later.pid, start_time(later.pid))}-9-abc",
        "mine": root / f"job-{process_tag()}-local-abc",
        # another worker host sharing this folder: a pid dead here says nothing about it
        "other host": root / f"job-0123456789.{finished.pid}.1-10-abc",
        "not a job": root / "notes",
    }
    for folder in folders.values():
        folder.mkdir(parents=True)
        (folder / "train.py").write_text("x = 1\n")

    assert sweep_job_folders(settings) == 2

    assert not folders["gone"].exists() and not folders["reused"].exists()
    assert folders["live"].exists() and folders["mine"].exists() and folders["not a job"].exists()
    assert folders["other host"].exists()
