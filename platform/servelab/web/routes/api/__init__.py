"""The JSON API, under /api/v1 (web/api_schemas.py has its response shapes)."""
