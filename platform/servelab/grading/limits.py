"""Resource limits for a submission's containers, from exercise.toml within a hard cap."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from typing import Any

from docker.types import Ulimit

from servelab.content.exercise import ExerciseLimits

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class SandboxLimits:
    """What one submission may use; every value is enforced by Docker or by the sandbox's clock."""

    train_seconds: float = 120.0
    startup_seconds: float = 30.0
    test_seconds: float = 300.0
    memory_bytes: int = 1 * GiB
    cpus: float = 1.0
    pids: int = 512
    tmpfs_bytes: int = 64 * MiB  # /tmp
    model_dir_bytes: int = 256 * MiB  # MODEL_DIR, handed from training to serving
    output_bytes: int = 64 * 1024  # captured output kept per container (head + tail)
    nofile: int = 1024
    fsize_bytes: int = 256 * MiB  # largest single file a process may write

    @classmethod
    def from_exercise(cls, limits: ExerciseLimits) -> SandboxLimits:
        """The exercise's limits, clamped to HARD_CAP: an exercise cannot ask for more."""
        wanted = cls(
            train_seconds=limits.train_seconds,
            startup_seconds=limits.startup_seconds,
            test_seconds=limits.test_seconds,
            memory_bytes=limits.memory_mb * MiB,
            cpus=limits.cpus,
            pids=limits.pids,
        )
        return wanted.clamped()

    def clamped(self) -> SandboxLimits:
        """Every value at most HARD_CAP's, and CPUs at most what this host has."""
        capped = {
            f.name: min(getattr(self, f.name), getattr(HARD_CAP, f.name)) for f in fields(self)
        }
        capped["cpus"] = max(0.1, min(capped["cpus"], float(os.cpu_count() or 1)))
        return replace(self, **capped)

    @property
    def threads(self) -> int:
        """Threads numerical libraries may start: the CPU quota rounded up."""
        return max(1, math.ceil(self.cpus))

    @property
    def nano_cpus(self) -> int:
        return int(self.cpus * 1e9)

    def docker_options(self) -> dict[str, Any]:
        """These limits as Docker container options (docker SDK `containers.create` names)."""
        return {
            "mem_limit": self.memory_bytes,
            "memswap_limit": self.memory_bytes,  # equal: no swap on top of the memory limit
            "nano_cpus": self.nano_cpus,
            "pids_limit": self.pids,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,noexec,size={self.tmpfs_bytes},mode=1777"},
            "shm_size": self.tmpfs_bytes,
            "ulimits": [
                Ulimit(name="nofile", soft=self.nofile, hard=self.nofile),
                Ulimit(name="fsize", soft=self.fsize_bytes, hard=self.fsize_bytes),
                Ulimit(name="core", soft=0, hard=0),
            ],
        }

    def thread_environment(self) -> dict[str, str]:
        """Numerical libraries start a thread per host core unless told the CPU quota."""
        threads = str(self.threads)
        names = ("OMP", "OPENBLAS", "MKL", "NUMEXPR")
        env = {f"{name}_NUM_THREADS": threads for name in names}
        env["VECLIB_MAXIMUM_THREADS"] = threads
        env["LOKY_MAX_CPU_COUNT"] = threads
        return env


HARD_CAP = SandboxLimits(
    train_seconds=900.0,
    startup_seconds=120.0,
    test_seconds=900.0,
    memory_bytes=4 * GiB,
    cpus=4.0,
    pids=2048,
    tmpfs_bytes=512 * MiB,
    model_dir_bytes=1 * GiB,
    output_bytes=1 * MiB,
    nofile=4096,
    fsize_bytes=1 * GiB,
)
