"""Routes: exercise pages, submissions, results, instructor grading views. Owned by the grading engine."""

from fastapi import APIRouter

router = APIRouter()
