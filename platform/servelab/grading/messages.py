"""Learner-facing explanations of what happened to a submission's containers, and what to do."""

from __future__ import annotations

import re

from servelab.grading.limits import MiB, SandboxLimits
from servelab.grading.runtime import featured_packages, runtime_packages

_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^'.]+)")
_SIGXFSZ_EXIT = 128 + 25


def _mib(n: int) -> str:
    return f"{n // MiB} MiB"


def _hint(output: str, limits: SandboxLimits) -> str:
    """A specific hint from the end of the output: the most common causes, named."""
    tail = output[-4000:]
    missing = _MISSING_MODULE.findall(tail)
    if missing:
        name = missing[-1]
        offered = ", ".join(f"{n} {v}" for n, v in featured_packages().items())
        if name.replace("_", "-").lower() in runtime_packages():
            return f" Python could not import {name!r}; check the module name and spelling."
        local = " If it is your own module, include its .py file in the submission."
        return (
            f" Your code imports {name!r}, which the runtime image does not have. The image "
            f"offers: {offered}.{local}"
        )
    if "SyntaxError" in tail or "IndentationError" in tail:
        return (
            " Python could not read your code: the traceback below shows the file and line "
            "of the syntax error."
        )
    if "MemoryError" in tail:
        return f" It ran out of memory (limit {_mib(limits.memory_bytes)})."
    if "No space left on device" in tail:
        return (
            f" A disk filled up: MODEL_DIR holds at most {_mib(limits.model_dir_bytes)} and /tmp "
            f"{_mib(limits.tmpfs_bytes)}. Save only the fitted model, not data or checkpoints."
        )
    if "Resource temporarily unavailable" in tail or "can't start new thread" in tail:
        return (
            f" It started too many processes or threads (limit {limits.pids}). Use n_jobs=1 "
            "and do not start processes in a loop."
        )
    if "File too large" in tail:
        return f" It wrote a file larger than {_mib(limits.fsize_bytes)}, the limit for one file."
    if "Read-only file system" in tail:
        return " It tried to write outside MODEL_DIR or /tmp; everything else is read-only."
    if any(
        sign in tail
        for sign in (
            "Network is unreachable",
            "No route to host",  # gVisor's answer without network
            "Temporary failure in name resolution",
        )
    ):
        return " Grading runs without network: load data from DATA_DIR, download nothing."
    return ""


def too_many_processes(running: int, limits: SandboxLimits) -> str:
    """Appended when a phase timed out at the pids limit (a fork bomb, or a runaway pool)."""
    return (
        f" At the deadline it was running {running} processes and threads, at the limit of "
        f"{limits.pids}: do not start processes in a loop, and use n_jobs=1."
    )


def _exit_text(exit_code: int | None, limits: SandboxLimits) -> str:
    if exit_code == _SIGXFSZ_EXIT:
        return f" It wrote a file larger than {_mib(limits.fsize_bytes)}, the limit for one file."
    return ""


def train_message(reason: str, exit_code: int | None, output: str, limits: SandboxLimits) -> str:
    """What to tell the learner after `python train.py`."""
    if reason == "ok":
        return "train.py finished."
    if reason == "timeout":
        return (
            f"train.py was still running after {limits.train_seconds:g} s, the time limit for "
            "training, and was stopped. Fit one model on DATA_DIR's data; keep tuning loops, "
            f"waits and input() out of train.py.{_hint(output, limits)}"
        )
    if reason == "oom":
        return (
            f"train.py used more than {_mib(limits.memory_bytes)} of memory and was stopped. "
            "Load only the columns you need, avoid copies of the data, and choose a model "
            "whose size does not grow with the number of rows."
        )
    return (
        f"train.py stopped with exit code {exit_code}.{_exit_text(exit_code, limits)}"
        f"{_hint(output, limits)} Its output is below; the last lines usually say why."
    )


def startup_message(
    reason: str,
    exit_code: int | None,
    output: str,
    limits: SandboxLimits,
    health_path: str,
    last_status: int | None,
) -> str:
    """What to tell the learner after starting `uvicorn main:app`."""
    if reason == "ok":
        return f"The service started and GET {health_path} answered 200."
    if reason == "oom":
        return (
            f"The service used more than {_mib(limits.memory_bytes)} of memory while starting "
            "and was stopped. Load the model once, at start-up, and nothing else large."
        )
    if reason == "crashed":
        return (
            f"The service stopped while starting (exit code {exit_code})."
            f"{_exit_text(exit_code, limits)}"
            f"{_hint(output, limits)} Check that main.py defines `app = FastAPI()` and loads "
            "the model from MODEL_DIR; its output is below."
        )
    answered = (
        f" GET {health_path} answered {last_status}, not 200."
        if last_status is not None
        else f" GET {health_path} never answered."
    )
    return (
        f"The service did not become healthy within {limits.startup_seconds:g} s.{answered} "
        f"Define GET {health_path} returning 200, and keep slow work (training, downloads) "
        f"out of start-up.{_hint(output, limits)}"
    )


def serve_message(reason: str, exit_code: int | None, limits: SandboxLimits) -> str:
    """What to tell the learner when the service died while it was being tested.

    By then the service has received hidden data, so nothing it printed is quoted: its log is
    for instructors only, and a learner gets the facts the platform measured.
    """
    if reason == "oom":
        return (
            f"The service ran out of memory ({_mib(limits.memory_bytes)}) while being tested "
            "and was stopped. Predict without copying the model or keeping every request."
        )
    if reason == "unhealthy":
        return (
            "After the checks the service no longer answered its health check. A request may "
            "have blocked it: keep handlers fast and never wait on input."
        )
    return (
        f"The service stopped while being tested (exit code {exit_code})."
        f"{_exit_text(exit_code, limits)}"
        " Its log is not shown, because by then it had received hidden test data. Run your "
        "service locally and send it the requests the checks describe: an exception that is "
        "not handled, or code that calls exit(), stops the whole service."
    )
