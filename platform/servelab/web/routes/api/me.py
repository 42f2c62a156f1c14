"""Route: who is asking (`GET /api/v1/me`), for the CLI and scripts to check a token."""

from __future__ import annotations

from fastapi import APIRouter

from servelab.web.api_schemas import API_PREFIX, UserPublic, error_responses
from servelab.web.deps import CurrentUser

router = APIRouter(prefix=API_PREFIX, tags=["api"])


@router.get("/me", response_model=UserPublic, responses=error_responses())
def whoami(user: CurrentUser) -> UserPublic:
    """Who the session cookie or bearer token belongs to."""
    return UserPublic.build(user)
