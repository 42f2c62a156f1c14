"""Benchmark the grading engine: ServeLab's pipeline against a naive docker-build-per-submission.

    .venv/bin/python bench/grading.py [--sequential 5] [--concurrent 2] [--naive 3] [--runsc 3]

Grades a reference solution N times one after another and M at once through
`grade_directory`, and prints per-phase medians, end-to-end p50/p95, throughput, and the platform
overhead: everything except the learner's own training and start-up and the hidden suite's run
(so the hidden suite's own container, created, started and removed for every submission, counts
as overhead; it is also printed on its own line). The naive pipeline builds an image per
submission (FROM the runtime image, COPY the submission, pip install its requirements from the
local wheel cache, offline) and then grades the same way; its cost is shown beside ours as a
ratio. With --runsc, the same sequential runs under gVisor give a runsc/runc ratio measured in
the same run. Results are also written to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import docker

from servelab.content.loader import ExerciseFiles, load_settings_course
from servelab.grading.orphans import MANAGED_LABEL, OWNER_LABEL
from servelab.grading.outcome import GradeOutcome
from servelab.grading.pipeline import grade_directory
from servelab.grading.processes import owner_token
from servelab.settings import PROJECT_ROOT, Settings

COURSE = PROJECT_ROOT / "tests" / "fixtures" / "course"
# The reference solution's needs, written into every benchmarked copy: the naive pipeline
# installs them, ServeLab only checks them against the image.
REQUIREMENTS = "fastapi\nuvicorn\npydantic\nnumpy\npandas\n"
NAIVE_DOCKERFILE = """\
FROM {image}
USER root
COPY wheels /wheels
COPY submission /submission
RUN python /wheels/{pip_wheel}/pip install --quiet --no-index --find-links /wheels \\
      --target /opt/extra -r /submission/requirements.txt
ENV PYTHONPATH=/opt/extra
USER 10001:10001
"""


@dataclass
class Run:
    seconds: float
    outcome: GradeOutcome
    build_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = self.outcome.phase_seconds
        create_start = sum(
            p.get(f"{ph}_{s}", 0.0) for ph in ("train", "startup") for s in ("create", "start")
        )
        self.phases = {
            "prepare": p.get("prepare", 0.0),
            "container create+start": create_start,
            "grader container (added)": sum(
                p.get(f"test_{s}", 0.0) for s in ("create", "start", "remove")
            ),
            "train (learner)": p.get("train", 0.0),
            "startup (learner)": p.get("startup", 0.0),
            "tests (hidden suite)": p.get("test", 0.0),
        }
        # The grader's container starts beside the learner's start-up: shown, not added up.
        accounted = sum(v for k, v in self.phases.items() if k != "grader container (added)")
        self.phases["cleanup + rest"] = self.seconds - self.build_seconds - accounted
        if self.build_seconds:
            self.phases["docker build (naive)"] = self.build_seconds

    @property
    def overhead(self) -> float:
        """Wall time not spent in the learner's code or the hidden suite."""
        own = sum(
            self.phases[k] for k in ("train (learner)", "startup (learner)", "tests (hidden suite)")
        )
        return self.seconds - own


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def prepare_submission(solution: Path, work: Path, name: str) -> Path:
    target = work / name
    shutil.copytree(solution, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "requirements.txt").write_text(REQUIREMENTS)
    return target


def exercise_of(settings: Settings, slug: str) -> ExerciseFiles:
    return load_settings_course(settings).find_exercise(slug, for_grading=True)


def grade_once(solution: Path, work: Path, slug: str, settings: Settings) -> Run:
    source = prepare_submission(solution, work, f"s-{secrets.token_hex(4)}")
    exercise = exercise_of(settings, slug)
    started = time.monotonic()
    outcome = grade_directory(source, exercise, settings)
    return Run(time.monotonic() - started, outcome)


def grade_naive(
    client: docker.DockerClient, solution: Path, work: Path, slug: str, settings: Settings
) -> Run:
    """docker build an image with the submission and its installed requirements, then grade."""
    context = work / f"naive-{secrets.token_hex(4)}"
    context.mkdir()
    prepare_submission(solution, context, "submission")
    wheels = settings.var_dir / "runtime" / "wheels"
    shutil.copytree(wheels, context / "wheels", copy_function=os.link)
    pip_wheel = next(p.name for p in wheels.glob("pip-*.whl"))
    (context / "Dockerfile").write_text(
        NAIVE_DOCKERFILE.format(image=settings.runtime_image, pip_wheel=pip_wheel)
    )
    tag = f"servelab-naive:{secrets.token_hex(4)}"
    labels = {MANAGED_LABEL: "1", OWNER_LABEL: owner_token()}
    started = time.monotonic()
    client.images.build(path=str(context), tag=tag, rm=True, forcerm=True, labels=labels)
    built = time.monotonic() - started
    try:
        naive_settings = settings.model_copy(update={"runtime_image": tag})
        outcome = grade_directory(
            context / "submission", exercise_of(settings, slug), naive_settings
        )
    finally:
        client.images.remove(tag, force=True)
        shutil.rmtree(context, ignore_errors=True)
    return Run(time.monotonic() - started, outcome, build_seconds=built)


def summarize(label: str, runs: list[Run]) -> dict[str, object]:
    graded = [r for r in runs if r.outcome.status == "graded"]
    totals = [r.seconds for r in runs]
    summary: dict[str, object] = {
        "runs": len(runs),
        "graded_full_marks": sum(r.outcome.score == r.outcome.max_score for r in graded),
        "e2e_p50": statistics.median(totals),
        "e2e_p95": percentile(totals, 0.95),
        "overhead_p50": statistics.median(r.overhead for r in runs),
        "phases_p50": {k: statistics.median(r.phases[k] for r in runs) for k in runs[0].phases},
    }
    print(f"\n== {label}: {len(runs)} runs, {summary['graded_full_marks']} with full marks")
    for phase, seconds in summary["phases_p50"].items():  # type: ignore[attr-defined]
        print(f"   {phase:<26} p50 {seconds:7.3f} s")
    print(f"   {'end to end':<26} p50 {summary['e2e_p50']:7.3f} s   p95 {summary['e2e_p95']:.3f} s")
    print(f"   {'platform overhead':<26} p50 {summary['overhead_p50']:7.3f} s")
    return summary


def _compare_runsc(
    args: argparse.Namespace,
    solution: Path,
    work: Path,
    settings: Settings,
    report: dict[str, object],
) -> dict[str, object]:
    """The same sequential runs under gVisor, and their cost relative to runc's."""
    gvisor = settings.model_copy(update={"sandbox_runtime": "runsc"})
    grade_once(solution, work, args.exercise, gvisor)  # warm caches, not measured
    runs = [grade_once(solution, work, args.exercise, gvisor) for _ in range(args.runsc)]
    summary = summarize(f"ServeLab under gVisor (runsc), {args.runsc} sequential", runs)
    runc = report["sequential"]
    for key, label in (("e2e_p50", "end to end"), ("overhead_p50", "platform overhead")):
        ratio = summary[key] / runc[key]  # type: ignore[index, operator]
        summary[f"{key}_ratio"] = ratio
        print(f"runsc / runc {label} p50: {summary[key]:.2f} s / {runc[key]:.2f} s = {ratio:.2f}x")  # type: ignore[index]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=5, help="N runs one after another")
    parser.add_argument("--concurrent", type=int, default=2, help="M runs at once")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of M concurrent runs")
    parser.add_argument("--naive", type=int, default=3, help="runs of the naive pipeline")
    parser.add_argument("--runsc", type=int, default=0, help="sequential runs under gVisor")
    parser.add_argument("--exercise", default="tiny-regression")
    parser.add_argument("--course", type=Path, default=COURSE, help="holds exercises/, graders/")
    args = parser.parse_args()

    base = Settings()
    work = Path(tempfile.mkdtemp(prefix="servelab-bench-"))
    settings = Settings(
        var_dir=work / "var",
        exercises_dir=args.course / "exercises",
        graders_dir=args.course / "graders",
    )
    (settings.var_dir / "runtime").mkdir(parents=True)
    os.symlink(base.var_dir / "runtime" / "wheels", settings.var_dir / "runtime" / "wheels")
    solution = args.course / "graders" / args.exercise / "solution"
    client = docker.from_env()
    report: dict[str, object] = {"exercise": args.exercise, "cpus": os.cpu_count()}
    try:
        grade_once(solution, work, args.exercise, settings)  # warm caches, not measured
        sequential = [
            grade_once(solution, work, args.exercise, settings) for _ in range(args.sequential)
        ]
        report["sequential"] = summarize(f"ServeLab, {args.sequential} sequential", sequential)

        started = time.monotonic()
        concurrent: list[Run] = []
        with ThreadPoolExecutor(args.concurrent) as pool:
            for _ in range(args.rounds):
                jobs = [
                    pool.submit(grade_once, solution, work, args.exercise, settings)
                    for _ in range(args.concurrent)
                ]
                concurrent += [job.result() for job in jobs]
        wall = time.monotonic() - started
        report["concurrent"] = summarize(f"ServeLab, {args.concurrent} at once", concurrent)
        throughput = len(concurrent) / wall * 60
        report["throughput_per_minute"] = throughput
        print(
            f"   throughput {throughput:.1f} submissions/minute ({len(concurrent)} in {wall:.1f} s)"
        )

        naive = [
            grade_naive(client, solution, work, args.exercise, settings) for _ in range(args.naive)
        ]
        report["naive"] = summarize("naive (docker build per submission)", naive)
        ours = report["sequential"]["e2e_p50"]  # type: ignore[index]
        theirs = report["naive"]["e2e_p50"]  # type: ignore[index]
        ratio = theirs / ours
        report["naive_over_servelab"] = ratio
        print(f"\nnaive / ServeLab end-to-end p50: {theirs:.2f} s / {ours:.2f} s = {ratio:.2f}x")
        overhead = report["sequential"]["overhead_p50"]  # type: ignore[index]
        verdict = "meets" if overhead <= 0.7 else "misses"
        print(f"platform overhead p50 {overhead:.2f} s {verdict} the 0.7 s goal")
        if args.runsc:
            report["runsc"] = _compare_runsc(args, solution, work, settings, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = PROJECT_ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"grading-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(
        json.dumps(report, indent=2)
    )


if __name__ == "__main__":
    main()
