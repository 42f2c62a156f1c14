#!/bin/sh
# Entrypoint of the app image (web and worker). Grading hands the host's Docker engine paths to
# mount: the submission, the exercise's data and grader folders, ServeLab's package (mounted into
# the grader's container) and the sandbox's socket folder. So all of them live under
# SERVELAB_HOST_DIR, which compose.yaml binds at the same absolute path on the host and in here.
set -eu

: "${SERVELAB_HOST_DIR:?SERVELAB_HOST_DIR must name a host folder bound at the same path}"
# Sandbox sockets live under it, and a Unix socket's path must fit in 108 bytes.
if [ "${#SERVELAB_HOST_DIR}" -gt 40 ]; then
  echo "SERVELAB_HOST_DIR is longer than 40 characters; choose a shorter path (e.g. /srv/servelab)" >&2
  exit 2
fi
# An empty SERVELAB_* variable (a compose default of "") means "not set".
for name in $(env | sed -n 's/^\(SERVELAB_[A-Z0-9_]*\)=$/\1/p'); do unset "$name"; done

# Publish this image's package and content once per build: copy, then rename into place, so
# several workers starting at once never see half a release.
release="$SERVELAB_HOST_DIR/app/$(cat /opt/servelab/release/BUILD_ID)"
if [ ! -d "$release" ]; then
  mkdir -p "$SERVELAB_HOST_DIR/app"
  staging=$(mktemp -d "$SERVELAB_HOST_DIR/app/.staging-XXXXXX")
  cp -r /opt/servelab/release/. "$staging/"
  chmod 755 "$staging"
  mv -T "$staging" "$release" 2>/dev/null || rm -rf "$staging"
fi

# settings.PROJECT_ROOT is two levels above the package: $release, so the content defaults to
# $release/exercises and $release/graders (SERVELAB_EXERCISES_DIR/GRADERS_DIR override them).
export PYTHONPATH="$release/lib"
if [ "${1:-}" = servelab ] && [ "${2:-}" = worker ]; then
  # Each worker container (its hostname is its id) keeps its job and socket folders apart, so
  # removing a container's folder removes all it left. (Their names also carry the host, so
  # workers sharing one folder would not sweep each other's.) It reads submissions at the
  # absolute path the web app stored, under $SERVELAB_HOST_DIR/var, and copies them in.
  own="$SERVELAB_HOST_DIR/w/$(cat /etc/hostname)"
  export SERVELAB_VAR_DIR="$own/var" TMPDIR="$own"
else
  export SERVELAB_VAR_DIR="${SERVELAB_VAR_DIR:-$SERVELAB_HOST_DIR/var}"
  export TMPDIR="$SERVELAB_HOST_DIR/tmp"
fi
# The sandboxes' socket folders (tempfile.gettempdir()/servelab-run) are host paths too.
mkdir -p "$SERVELAB_VAR_DIR/submissions" "$TMPDIR"
export APP_ENV_READY=1
if [ -n "${RUN_AS_UID:-}" ] && [ "$(id -u)" = 0 ]; then
  # The web app needs no root: it writes only the submissions folder (the worker, root, reads
  # it) and keeps its upload spool in the container's own /tmp.
  chown "$RUN_AS_UID:$RUN_AS_UID" "$SERVELAB_VAR_DIR" "$SERVELAB_VAR_DIR/submissions"
  export TMPDIR=/tmp HOME=/tmp
  if ! setpriv --reuid="$RUN_AS_UID" --regid="$RUN_AS_UID" --clear-groups -- \
      test -r "$release/lib/servelab/__init__.py"; then
    echo "uid $RUN_AS_UID cannot read $release: make $SERVELAB_HOST_DIR readable (chmod 755)" >&2
    exit 2
  fi
  exec setpriv --reuid="$RUN_AS_UID" --regid="$RUN_AS_UID" --clear-groups -- "$@"
fi
exec "$@"
