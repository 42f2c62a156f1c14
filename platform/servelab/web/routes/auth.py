"""Routes: auth. Owned by the platform foundation."""

from fastapi import APIRouter

router = APIRouter()
