"""Routes: quiz pages, quiz JSON API, instructor item analysis. Owned by the quiz engine."""

from fastapi import APIRouter

router = APIRouter()
