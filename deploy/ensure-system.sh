#!/usr/bin/env bash
# Install (as root, with apt) and start the system services ServeLab needs.
# Idempotent: installs only what is missing, starts dockerd only if it is not answering.
# runsc: gVisor, registered with Docker as the "runsc" runtime (SERVELAB_SANDBOX_RUNTIME=runsc).
# compose: Debian's docker-compose 1.29 (deploy/compose.yaml).
# node: Node.js and npm, to rebuild the code editor's bundle (`make editor`) and to check it.
# Usage: deploy/ensure-system.sh [docker] [runsc] [compose] [browser] [postgres] [redis] [python] [node]
set -euo pipefail

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(docker)

pkgs=()
need() { dpkg -s "$1" >/dev/null 2>&1 || pkgs+=("$1"); }
for w in "${want[@]}"; do
  case "$w" in
    docker) need docker.io; need debootstrap ;;
    runsc) need docker.io; need runsc ;;
    compose) need docker.io; need debootstrap; need docker-compose ;;
    browser) need chromium ;;
    postgres) need postgresql ;;
    redis) need redis-server ;;
    python) need python3-venv ;;
    # Debian packages npm apart from nodejs; other nodejs builds (NodeSource) bring their own.
    node) need nodejs; command -v npm >/dev/null 2>&1 || need npm ;;
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

# gVisor as a Docker runtime. --network=none: grading containers never have a network anyway;
# --host-uds=all: the serve container's Unix socket must reach the host's side of its bind
# mount (and the grader's container must connect to it), which gVisor refuses by default.
register_runsc() {
  python3 - <<'PY'
import json, pathlib, sys
path = pathlib.Path("/etc/docker/daemon.json")
config = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
wanted = {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--host-uds=all"]}
if config.get("runtimes", {}).get("runsc") == wanted:
    sys.exit(1)  # already registered
config.setdefault("runtimes", {})["runsc"] = wanted
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps(config, indent=2) + "\n")
PY
}

start_dockerd() {
  echo "Starting dockerd"
  mkdir -p /var/log
  (setsid dockerd >/var/log/servelab-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/servelab-dockerd.log" >&2; exit 1; }
}

for w in "${want[@]}"; do
  if [ "$w" = runsc ] && register_runsc; then
    echo "Registered gVisor (runsc) with Docker"
    # dockerd reloads its runtimes on SIGHUP; running containers are not touched.
    if pid=$(pgrep -x dockerd); then kill -HUP "$pid"; sleep 1; fi
  fi
done

for w in "${want[@]}"; do
  if [ "$w" = runsc ] && ! docker info >/dev/null 2>&1; then
    start_dockerd
  fi
  if [ "$w" = runsc ] && ! docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q runsc; then
    echo "Docker does not list the runsc runtime; see /etc/docker/daemon.json" >&2
    exit 1
  fi
  if [ "$w" = docker ] && ! docker info >/dev/null 2>&1; then
    start_dockerd
  fi
done
