#!/usr/bin/env bash
# Offline build of one image of the Compose deployment (deploy/compose.yaml): app (the web app
# and the grading worker), redis or postgres. Like the grading images
# (platform/servelab/grading/runtime/build-rootfs.sh) it starts from the cached debootstrap'ed
# Debian bookworm base; Debian packages come from the host's apt mirror inside a chroot (the
# host's network, no image registry), Python packages from wheels downloaded on the host.
# Usage: build-image.sh KIND ROOTFS BASE_CACHE MIRROR TAG CONTENT_HASH [WHEELS RELEASE]
# KIND: app | redis | postgres. BASE_CACHE: the base tarball, written when absent.
# WHEELS (app): a folder with the wheel of every pinned dependency, and pip's.
# RELEASE (app): lib/servelab (the package), exercises/, graders/ and requirements.txt (the pins).
# Prints "==> step" lines that `servelab deploy build` shows as progress.
set -euo pipefail

kind=$1 rootfs=$2 base_cache=$3 mirror=$4 tag=$5 content_hash=$6 wheels=${7:-} release=${8:-}
here=$(cd "$(dirname "$0")" && pwd)

in_root() {
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PIP_CONFIG_FILE=/dev/null \
    DEBIAN_FRONTEND=noninteractive chroot "$rootfs" "$@"
}
cleanup() {
  umount "$rootfs/wheels" 2>/dev/null || true
  umount "$rootfs/proc" 2>/dev/null || true
  rm -rf "$rootfs"
}
trap cleanup EXIT
rm -rf "$rootfs"
mkdir -p "$rootfs"

if [ -f "$base_cache" ]; then
  echo "==> base from cache"
  tar --numeric-owner -C "$rootfs" -xf "$base_cache"
else
  echo "==> debootstrap"
  # The same recipe as the grading images' base (images.BASE_RECIPE), so the cache is shared.
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" "$mirror" \
    >"$rootfs.debootstrap.log" 2>&1 || { tail -n 30 "$rootfs.debootstrap.log" >&2; exit 1; }
  rm -f "$rootfs.debootstrap.log"
  tar --numeric-owner -C "$rootfs" -cf "$base_cache.partial" . && mv "$base_cache.partial" "$base_cache"
fi

apt_install() {
  echo "==> apt $*"
  mount -t proc proc "$rootfs/proc"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  # Packages' maintainer scripts must not start daemons inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"
  # The release and its updates, and security updates (the same layout as deb.debian.org).
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    echo "deb ${mirror%/}-security bookworm-security main"
  } >"$rootfs/etc/apt/sources.list"
  in_root apt-get update -qq
  in_root apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >/dev/null
  in_root apt-get clean
  rm -f "$rootfs/usr/sbin/policy-rc.d"
  umount "$rootfs/proc"
}

changes=()
case "$kind" in
  redis)
    apt_install redis-server
    mkdir -p "$rootfs/data"
    in_root chown redis:redis /data
    changes+=(--change 'USER redis' --change 'WORKDIR /data' --change 'VOLUME /data')
    changes+=(--change 'EXPOSE 6379')
    changes+=(--change 'CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data", "--appendonly", "yes"]')
    ;;
  postgres)
    # No cluster at install time: the entrypoint creates one in the data volume on first start.
    mkdir -p "$rootfs/etc/postgresql-common"
    echo "create_main_cluster = false" >"$rootfs/etc/postgresql-common/createcluster.conf"
    apt_install postgresql-15
    # ssl-cert made a "snakeoil" key at install: never ship one private key in every image.
    rm -f "$rootfs"/etc/ssl/private/ssl-cert-snakeoil.key "$rootfs"/etc/ssl/certs/ssl-cert-snakeoil.pem
    mkdir -p "$rootfs/var/lib/postgresql/data" "$rootfs/var/run/postgresql"
    in_root chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql
    chmod 700 "$rootfs/var/lib/postgresql/data"
    install -m 755 "$here/postgres-entrypoint.sh" "$rootfs/usr/local/bin/servelab-postgres"
    changes+=(--change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
    changes+=(--change 'ENV PGDATA=/var/lib/postgresql/data')
    changes+=(--change 'USER postgres' --change 'VOLUME /var/lib/postgresql/data')
    changes+=(--change 'EXPOSE 5432' --change 'CMD ["servelab-postgres"]')
    ;;
  app)
    echo "==> venv"
    in_root python3 -m venv --without-pip /opt/venv
    echo "==> wheels"
    mkdir -p "$rootfs/wheels"
    mount --bind "$wheels" "$rootfs/wheels"
    pip_wheel=$(cd "$wheels" && ls pip-*.whl | head -n 1)
    mkdir -p "$rootfs/opt/servelab"
    cp -r "$release" "$rootfs/opt/servelab/release"
    # Every dependency pinned (servelab.deploy_images.app_pins), so none is resolved here.
    # ServeLab's own package stays in the release folder, which the entrypoint publishes on the
    # host (the grader's container mounts the package from there).
    in_root /opt/venv/bin/python "/wheels/$pip_wheel/pip" install --quiet --no-index \
      --no-cache-dir --disable-pip-version-check --find-links /wheels --no-deps \
      -r /opt/servelab/release/requirements.txt
    umount "$rootfs/wheels"
    rmdir "$rootfs/wheels"
    echo "$content_hash" >"$rootfs/opt/servelab/release/BUILD_ID"
    install -m 755 "$here/entrypoint.sh" "$rootfs/usr/local/bin/servelab-entrypoint"
    install -m 755 "$here/servelab.sh" "$rootfs/usr/local/bin/servelab"
    changes+=(--change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
    changes+=(--change 'ENV PYTHONDONTWRITEBYTECODE=1' --change 'ENV PYTHONUNBUFFERED=1')
    changes+=(--change 'EXPOSE 8000' --change 'WORKDIR /opt/servelab')
    changes+=(--change 'ENTRYPOINT ["servelab-entrypoint"]' --change 'CMD ["servelab", "--help"]')
    ;;
  *) echo "unknown image kind: $kind" >&2; exit 2 ;;
esac

echo "==> harden"
find "$rootfs" -xdev -type f -perm /6000 -exec chmod ug-s {} +
rm -rf "$rootfs"/usr/share/{doc,man,info,locale}/* "$rootfs"/var/cache/apt/* \
  "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs/etc/resolv.conf"

echo "==> import"
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  "${changes[@]}" \
  --change 'LABEL servelab.deploy=1' \
  --change "LABEL servelab.deploy.image=$kind" \
  --change "LABEL servelab.deploy.hash=$content_hash" \
  - "$tag" >/dev/null
