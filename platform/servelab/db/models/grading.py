"""Grading tables (submissions, jobs, events). Owned by the grading engine."""
