"""Grading: archive, runtime image, sandbox, runner, pytest plugin, results, pipeline, queue, worker."""
