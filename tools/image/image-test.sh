#!/usr/bin/env bash
# make image-test: the user's workflow on the image, from nothing but this clone and the package registries.
#
#   1. a Docker engine (the running one, or docker.io from Debian started without bridge or iptables)
#   2. a Docker API proxy that puts builds and containers on the host's network (loopback listeners only)
#   3. the base image: the real public.ecr.aws/lambda/python:3.13 when it can be pulled, else the local stand-in
#   4. sam build (functions/Dockerfile unchanged; one image for both functions)
#   5. tests/image: sam local invoke of each function with its events/ file and a generated env file against a
#      local stack on 127.0.0.1, assertions on responses and on what landed; each function run as Lambda runs it
#      and its X-Ray trace checked; a broken handler caught.
# It stops what it started (the proxy, dockerd) and removes the stand-in's borrowed tag; each step is timed.
set -euo pipefail
cd "$(dirname "$0")/../.."

state=build/image
bin=.venv/bin
mkdir -p "$state"
timings=$state/timings.txt
: >"$timings"
proxy_pid=

step() {
  local name=$1 started=$SECONDS
  shift
  "$@"
  echo "image-test: $name took $((SECONDS - started)) s" | tee -a "$timings"
}

# The engine the proxy forwards to: the one DOCKER_HOST names (a unix socket), or the default socket.
engine_host=${DOCKER_HOST:-unix:///var/run/docker.sock}
[[ $engine_host == unix://* ]] || { echo "image-test: DOCKER_HOST must be a unix:// socket" >&2; exit 1; }

cleanup() {
  local status=$?
  export DOCKER_HOST=$engine_host
  if [[ -n $proxy_pid ]]; then
    kill "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
  fi
  if [[ -f $state/base-image.tagged ]]; then
    docker image rm "$(cat "$state/base-image.tagged")" >/dev/null 2>&1 || true
    rm -f "$state/base-image.tagged"
  fi
  tools/image/docker-engine.sh stop "$state" || true
  exit "$status"
}
trap cleanup EXIT

total=$SECONDS
step "docker engine" tools/image/docker-engine.sh start "$state"

$bin/python -m lakepipe_cli.docker_api_proxy --listen "$state/docker.sock" --upstream "${engine_host#unix://}" \
  2>"$state/proxy.log" &
proxy_pid=$!
for _ in $(seq 1 50); do [[ -S $state/docker.sock ]] && break; sleep 0.1; done
[[ -S $state/docker.sock ]] || { echo "image-test: the Docker API proxy did not start" >&2; cat "$state/proxy.log" >&2; exit 1; }
export DOCKER_HOST="unix://$PWD/$state/docker.sock"
export LAKEPIPE_DOCKER_HOST=$DOCKER_HOST

step "base image" tools/image/base-image.sh "$state"

case $(uname -m) in aarch64 | arm64) architecture=arm64 ;; *) architecture=x86_64 ;; esac
step "sam build ($architecture)" $bin/sam build --build-dir "$state/sam" --cache-dir "$state/sam-cache" \
  --parameter-overrides "Architecture=$architecture"

step "invocations (tests/image)" env LAKEPIPE_BUILT_TEMPLATE="$state/sam/template.yaml" \
  $bin/pytest tests/image -q -p no:cacheprovider --durations=0 -o addopts="-ra --strict-markers"
echo "image-test: passed in $((SECONDS - total)) s" | tee -a "$timings"
