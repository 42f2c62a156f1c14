"""The `servelab` command: thin Typer commands over the modules that do the work."""

import typer

from servelab.cli import core, deploy, exercise, grading, runtime, submit

app = typer.Typer(
    help="ServeLab: auto-graded course platform for serving ML models with FastAPI.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
core.register(app)
grading.register(app)
submit.register(app)
exercise.register(app)
runtime.register(app)
deploy.register(app)
