#!/usr/bin/env bash
# Make sure a Docker engine answers, and stop it afterwards only if this script started it.
#
#   tools/image/docker-engine.sh start STATE_DIR   reuse a running engine; else install docker.io (Debian) if
#                                                  dockerd is missing and start dockerd, recording its pid
#   tools/image/docker-engine.sh stop STATE_DIR    stop the dockerd recorded by `start`, if any
#
# The engine it starts has no bridge and no iptables rules (--bridge=none --iptables=false): containers get the
# loopback interface only, unless they share the host's network (tools/image/docker_api_proxy.py arranges that).
set -euo pipefail

action=${1:?usage: docker-engine.sh start|stop STATE_DIR}
state_dir=${2:?usage: docker-engine.sh start|stop STATE_DIR}
pid_file=$state_dir/dockerd.pid
log_file=$state_dir/dockerd.log
socket=/var/run/docker.sock

engine_answers() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "docker-engine: '$*' needs root and there is no sudo; start a Docker engine yourself" >&2; return 1
  fi
}

start() {
  mkdir -p "$state_dir"
  if engine_answers; then
    echo "docker-engine: reusing the running engine ($(docker version --format '{{.Server.Version}}'))"
    return
  fi
  if ! command -v dockerd >/dev/null; then
    command -v apt-get >/dev/null || { echo "docker-engine: no Docker engine and no apt-get to install one" >&2; exit 1; }
    echo "docker-engine: installing docker.io from Debian"
    local started=$SECONDS
    as_root apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
    echo "docker-engine: installed in $((SECONDS - started)) s"
  fi
  if [[ -S $socket ]] && ! docker info >/dev/null 2>&1; then
    echo "docker-engine: $socket exists but no engine answers on it" >&2
  fi
  local started=$SECONDS
  as_root sh -c "dockerd --iptables=false --bridge=none --ip-masq=false --host unix://$socket >'$log_file' 2>&1 & echo \$! >'$pid_file'"
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      echo "docker-engine: started dockerd (pid $(cat "$pid_file")) in $((SECONDS - started)) s"
      return
    fi
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "docker-engine: dockerd did not come up; its log:" >&2
  tail -n 30 "$log_file" >&2 || true
  exit 1
}

stop() {
  [[ -f $pid_file ]] || return 0
  local pid
  pid=$(cat "$pid_file")
  rm -f "$pid_file"
  kill -0 "$pid" 2>/dev/null || return 0
  as_root kill -TERM "$pid"
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || { echo "docker-engine: stopped the dockerd it started (pid $pid)"; return 0; }
    sleep 0.5
  done
  echo "docker-engine: dockerd (pid $pid) still running after 20 s" >&2
}

case $action in
  start) start ;;
  stop) stop ;;
  *) echo "usage: docker-engine.sh start|stop STATE_DIR" >&2; exit 2 ;;
esac
