"""The one Settings object, read from SERVELAB_* variables and an optional .env file."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_DEV_SECRET = "dev-insecure-secret-change-me"


MACHINE_CACHE = Path("/var/cache/servelab")


class Settings(BaseSettings):
    """Everything configurable about ServeLab. Zero configuration works for development."""

    model_config = SettingsConfigDict(env_prefix="SERVELAB_", env_file=".env", extra="ignore")

    environment: str = Field("development", description="development | production | test")
    secret_key: str = _DEV_SECRET
    database_url: str = ""
    var_dir: Path = PROJECT_ROOT / "var"
    exercises_dir: Path = PROJECT_ROOT / "exercises"
    graders_dir: Path = PROJECT_ROOT / "graders"
    # The image builds' cached debootstrap base (one tarball, kept between builds and shared
    # by every checkout on the machine). None: /var/cache/servelab as root, else var/runtime.
    image_cache_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    https: bool = False
    session_days: int = 14
    log_level: str = "INFO"

    # Login throttling (accounts/throttle.py): failures counted within a sliding window.
    login_window_seconds: int = 900
    login_max_failures: int = 10  # per account from one address (or one known browser)
    login_max_failures_per_address: int = 100  # from one address, over all accounts
    login_max_failures_per_account: int = 50  # per account over all unknown browsers
    # Argon2id takes 64 MiB per hash: at most this many at once, waiting at most this long.
    password_hash_slots: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    password_hash_wait_seconds: float = Field(10.0, gt=0)

    # Request bodies (web/body_limit.py); the upload routes have their own, larger limit.
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    # Live progress streams (Server-Sent Events) held open at once.
    max_event_streams_per_user: int = Field(3, ge=1)
    max_event_streams: int = Field(100, ge=1)
    # Database pool per process: None derives worker_count + 10 (requests and workers).
    database_pool_size: int | None = Field(None, ge=1)
    database_max_overflow: int = Field(20, ge=0)
    database_pool_timeout: float = Field(10.0, gt=0)

    # Grading
    runtime_image: str = "servelab-runtime:py311"  # learners' train and serve containers
    grader_image: str = "servelab-grader:py311"  # the hidden suite's container
    # The OCI runtime for every grading container: None (Docker's default, runc) or "runsc"
    # (gVisor: a user-space kernel between learner code and the host; see README, Security).
    sandbox_runtime: Literal["runc", "runsc"] | None = None
    grader_memory_mb: int = Field(1536, gt=0)  # the hidden suite's container
    grader_cpus: float = Field(1.0, gt=0)
    # Grading workers per process: threads of the embedded pool or `servelab worker`, or the
    # Celery worker's processes (one submission each) under the celery backend.
    worker_count: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    # "database": the web app's embedded pool (or `servelab worker`) polls the submission table.
    # "celery": Celery workers (`servelab worker`) take one task per submission from Redis at
    # redis_url; the web app only hands queued submissions to the broker.
    queue_backend: Literal["database", "celery"] = "database"
    redis_url: str = "redis://127.0.0.1:6379/0"
    job_attempts: int = Field(2, ge=1)  # platform failures before a submission is dead-lettered
    # A running job's lease, renewed by its worker; a worker silent this long has lost its jobs.
    job_lease_seconds: float = Field(30.0, gt=0)
    # Celery: a queued submission handed to the broker this long ago is sent again (the broker
    # may have lost it, e.g. a Redis restart without persistence); duplicates are harmless.
    celery_redispatch_seconds: float = Field(300.0, gt=0)
    # The web app runs the grading worker pool in-process; None means on, except in tests.
    embedded_worker: bool | None = None
    # Uploads unpacked and checked at once per process (each may hold tens of MiB), and how
    # long a submission waits for a free place before it is refused with 503.
    intake_concurrency: int = Field(2, ge=1)
    intake_wait_seconds: float = Field(15.0, gt=0)

    # Running a lesson's example in the sandbox (web/routes/lesson_examples.py): the web
    # process starts the container, so it needs the Docker engine (false: no Run button); the
    # time limit, runs per person per minute, and example containers at once per process.
    example_runs_enabled: bool = True
    example_run_seconds: float = Field(30.0, gt=0, le=300)
    example_runs_per_minute: int = Field(5, ge=1)
    example_run_concurrency: int = Field(2, ge=1)

    # Where the login throttle and the live-stream caps are counted (web/redis_limits.py):
    # "memory" (one web process) or "redis" (every web process sharing redis_url). None:
    # redis when SERVELAB_REDIS_URL is set or the queue backend is celery, else memory.
    limits_backend: Literal["memory", "redis"] | None = None

    @model_validator(mode="after")
    def _derive_and_check(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'servelab.db'}"
        if self.image_cache_dir is None:
            as_root = os.geteuid() == 0
            self.image_cache_dir = MACHINE_CACHE if as_root else self.var_dir / "runtime"
        if self.database_pool_size is None:
            self.database_pool_size = self.worker_count + 10
        if self.limits_backend is None:
            shared = "redis_url" in self.model_fields_set or self.queue_backend == "celery"
            self.limits_backend = "redis" if shared else "memory"
        if self.environment == "production" and self.secret_key == _DEV_SECRET:
            raise ValueError("SERVELAB_SECRET_KEY must be set to a random value in production")
        if self.environment == "production" and not self.https:
            raise ValueError(
                "SERVELAB_HTTPS must be true in production: login cookies are sent only over "
                "HTTPS (Secure). Serve ServeLab behind HTTPS and set SERVELAB_HTTPS=true."
            )
        return self

    @property
    def submissions_dir(self) -> Path:
        return self.var_dir / "submissions"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own Settings and inject them."""
    return Settings()
