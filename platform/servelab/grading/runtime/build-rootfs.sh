#!/usr/bin/env bash
# Offline build of a ServeLab image (the learners' runtime or the grader's), for hosts that cannot
# reach an image registry. The base is a debootstrap'ed Debian bookworm (its python3 is CPython
# 3.11); the pinned wheels were downloaded on the host, and are installed inside a chroot without
# any network.
# Usage: build-rootfs.sh ROOTFS WHEELS REQUIREMENTS MIRROR TAG CONTENT_HASH BASE_CACHE KIND USER UID
# BASE_CACHE: a tarball of the bare debootstrap result, reused when present (so changing a pin
# does not debootstrap again) and written when absent ("" for none).
# KIND: runtime | grader; USER, UID: the unprivileged user the image runs as.
# Prints "==> step" lines that `servelab runtime build` turns into progress.
set -euo pipefail

rootfs=$1 wheels=$2 requirements=$3 mirror=$4 tag=$5 content_hash=$6 base_cache=${7:-}
kind=${8:-runtime} user_name=${9:-learner} user_uid=${10:-10001}

# The host's environment (pip settings, proxies) must not leak into the image build.
in_root() {
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PIP_CONFIG_FILE=/dev/null \
    chroot "$rootfs" "$@"
}
cleanup() { umount "$rootfs/wheels" 2>/dev/null || true; rm -rf "$rootfs"; }
trap cleanup EXIT
rm -rf "$rootfs"
mkdir -p "$rootfs"

if [ -n "$base_cache" ] && [ -f "$base_cache" ]; then
  echo "==> base from cache"
  tar --numeric-owner -C "$rootfs" -xf "$base_cache"
else
  echo "==> debootstrap"
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" "$mirror" \
    >"$rootfs.debootstrap.log" 2>&1 || { tail -n 30 "$rootfs.debootstrap.log" >&2; exit 1; }
  rm -f "$rootfs.debootstrap.log"
  if [ -n "$base_cache" ]; then
    tar --numeric-owner -C "$rootfs" -cf "$base_cache.partial" . && mv "$base_cache.partial" "$base_cache"
  fi
fi

echo "==> venv"
in_root python3 -m venv --without-pip /opt/venv

echo "==> wheels"
# pip runs straight from its wheel, so pip itself never lands in the image.
mkdir -p "$rootfs/wheels"
mount --bind "$wheels" "$rootfs/wheels"
cp "$requirements" "$rootfs/requirements.txt"
pip_wheel=$(cd "$wheels" && ls pip-*.whl | head -n 1)
in_root /opt/venv/bin/python "/wheels/$pip_wheel/pip" install --quiet --no-index \
  --no-cache-dir --disable-pip-version-check --find-links /wheels -r /requirements.txt
umount "$rootfs/wheels"
rmdir "$rootfs/wheels"
rm "$rootfs/requirements.txt"

echo "==> harden"
echo "$user_name:x:$user_uid:$user_uid:$user_name:/tmp:/usr/sbin/nologin" >>"$rootfs/etc/passwd"
echo "$user_name:x:$user_uid:" >>"$rootfs/etc/group"
# Mount points: the learner's containers, or the grader's (suite, exercise, package, results).
# Each image has only its own, so a learner's snooping finds no grader paths at all.
if [ "$kind" = grader ]; then
  mkdir -p "$rootfs/grader" "$rootfs/exercise" "$rootfs/opt/servelab" "$rootfs/results" \
    "$rootfs/run/servelab"
else
  mkdir -p "$rootfs/submission" "$rootfs/data" "$rootfs/model" "$rootfs/run/servelab"
fi
# No set-uid/set-gid programs: a learner has nothing to escalate through.
find "$rootfs" -xdev -type f -perm /6000 -exec chmod ug-s {} +
rm -rf "$rootfs"/usr/share/{doc,man,info,locale}/* "$rootfs"/var/cache/apt/* \
  "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*

echo "==> import"
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
  --change 'ENV PYTHONUNBUFFERED=1' \
  --change 'ENV LANG=C.UTF-8' \
  --change "USER $user_uid:$user_uid" \
  --change 'WORKDIR /tmp' \
  --change 'CMD ["python"]' \
  --change 'LABEL servelab.runtime=1' \
  --change "LABEL servelab.image=$kind" \
  --change "LABEL servelab.runtime.hash=$content_hash" \
  --change 'LABEL servelab.runtime.build=offline' \
  - "$tag" >/dev/null
