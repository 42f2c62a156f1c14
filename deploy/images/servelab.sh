#!/bin/sh
# `servelab` in the app image. Outside the entrypoint (`docker-compose exec web servelab ...`)
# it goes through it first, so every command sees the same package, folders and settings.
[ -n "${APP_ENV_READY:-}" ] || exec servelab-entrypoint servelab "$@"
exec /opt/venv/bin/python -c \
  'import sys; from servelab.cli import app; sys.argv[0] = "servelab"; app()' "$@"
