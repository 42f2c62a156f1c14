#!/usr/bin/env bash
# Install (as root, with apt) and start the system services ServeLab needs.
# Idempotent: installs only what is missing, starts dockerd only if it is not answering.
# Usage: deploy/ensure-system.sh [docker] [browser] [postgres] [redis] [python]
set -euo pipefail

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(docker)

pkgs=()
need() { dpkg -s "$1" >/dev/null 2>&1 || pkgs+=("$1"); }
for w in "${want[@]}"; do
  case "$w" in
    docker) need docker.io; need debootstrap ;;
    browser) need chromium ;;
    postgres) need postgresql ;;
    redis) need redis-server ;;
    python) need python3-venv ;;
    *) echo "unknown component: $w" >&2; exit 2 ;;
  esac
done

if [ ${#pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "Missing system packages: ${pkgs[*]} (run as root, or install them with apt)" >&2
    exit 1
  fi
  echo "Installing system packages: ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

for w in "${want[@]}"; do
  if [ "$w" = docker ] && ! docker info >/dev/null 2>&1; then
    echo "Starting dockerd"
    mkdir -p /var/log
    (setsid dockerd >/var/log/servelab-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/servelab-dockerd.log" >&2; exit 1; }
  fi
done
