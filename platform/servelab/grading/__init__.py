"""Grading: archive, runtime, sandbox, runner, pytest plugin, results, pipeline, queue."""
