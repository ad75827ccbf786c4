#!/usr/bin/env bash
# Make the base image functions/Dockerfile starts FROM available to `docker build`.
#
#   tools/image/base-image.sh STATE_DIR
#
# The real image when it can be pulled (a machine with internet); otherwise a local stand-in built to its contract
# (tools/image/lambda-python-standin/), tagged with the real name for the duration of `make image-test` only:
# STATE_DIR/base-image.tagged records that the tag must be removed afterwards (tools/image/image-test.sh does).
# The stand-in is rebuilt only when its recipe changes (a hash of its files is part of its tag).
# DOCKER_HOST must reach an engine whose builds have network (the API proxy's socket).
set -euo pipefail
cd "$(dirname "$0")/../.."

state_dir=${1:?usage: base-image.sh STATE_DIR}
base_image=$(sed -n 's/^FROM[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' functions/Dockerfile | head -n 1)
standin_dir=tools/image/lambda-python-standin
standin_label=lakepipe.stand-in-for
standin_repository=lakepipe-local/lambda-python-standin
suite=trixie  # the Debian suite whose python3 is 3.13, the image's Python
packages=python3,python3-venv,ca-certificates
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
host_ca_bundle=/etc/ssl/certs/ca-certificates.crt
rie=$(.venv/bin/python -c 'import pathlib, platform, samcli; arch = {"aarch64": "arm64"}.get(platform.machine(), platform.machine()); print(pathlib.Path(samcli.__file__).parent / "local" / "rapid" / f"aws-lambda-rie-{arch}")')
mkdir -p "$state_dir"

standin_of() { docker image inspect --format "{{ index .Config.Labels \"$standin_label\" }}" "$1" 2>/dev/null || true; }

if docker image inspect "$base_image" >/dev/null 2>&1 && [[ -z $(standin_of "$base_image") ]]; then
  echo "base image: $base_image (real, already pulled)"
  exit 0
fi
if [[ -n $(standin_of "$base_image") ]]; then
  docker image rm "$base_image" >/dev/null  # a stand-in tag left by an interrupted run: try the real one first
fi
started=$SECONDS
if timeout 300 docker pull --quiet "$base_image" >"$state_dir/pull.log" 2>&1; then
  echo "base image: $base_image (real, pulled in $((SECONDS - started)) s)"
  exit 0
fi
echo "base image: cannot pull $base_image ($(tail -n 1 "$state_dir/pull.log")); using the local stand-in"

recipe=$( (cd "$standin_dir" && sha256sum Dockerfile lambda-entrypoint.sh bootstrap bootstrap.py requirements.txt) ;
  sha256sum "$rie" "$host_ca_bundle" | cut -d' ' -f1; echo "$suite $packages")
recipe_hash=$(sha256sum <<<"$recipe" | cut -c1-12)
standin_image=$standin_repository:3.13-$recipe_hash
if docker image inspect "$standin_image" >/dev/null 2>&1; then
  echo "base image: stand-in $standin_image already built"
else
  [[ $(id -u) -eq 0 ]] || { echo "base image: building the stand-in needs root (debootstrap)" >&2; exit 1; }
  command -v debootstrap >/dev/null || {
    echo "base image: installing debootstrap from Debian"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  # The root filesystem is kept as its own image, keyed by suite and packages: a change to the stand-in's
  # files rebuilds only the layers above it, not the debootstrap.
  rootfs_image=lakepipe-local/debian-rootfs:$suite-$(sha256sum <<<"$suite $packages" | cut -c1-12)
  if ! docker image inspect "$rootfs_image" >/dev/null 2>&1; then
    rootfs=$state_dir/rootfs-$suite
    rm -rf "$rootfs"
    step=$SECONDS
    debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
      >"$state_dir/debootstrap.log" 2>&1 || { tail -n 20 "$state_dir/debootstrap.log" >&2; exit 1; }
    echo "base image: debootstrap $suite in $((SECONDS - step)) s"
    # Downloaded packages, package lists and documentation: not part of what the image needs.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    step=$SECONDS
    tar -C "$rootfs" --numeric-owner -c . | docker import - "$rootfs_image" >/dev/null
    rm -rf "$rootfs"
    echo "base image: root filesystem imported in $((SECONDS - step)) s"
  fi
  step=$SECONDS
  context=$state_dir/standin-context
  rm -rf "$context" && mkdir -p "$context"
  cp "$standin_dir"/{Dockerfile,lambda-entrypoint.sh,bootstrap,bootstrap.py,requirements.txt} "$context/"
  cp "$rie" "$context/aws-lambda-rie" && chmod 755 "$context/aws-lambda-rie"
  cp "$host_ca_bundle" "$context/ca-certificates.crt"
  docker build --quiet --build-arg "ROOTFS=$rootfs_image" --label "$standin_label=$base_image" \
    --label "lakepipe.recipe=$recipe_hash" -t "$standin_image" "$context" >/dev/null
  rm -rf "$context"
  echo "base image: stand-in built in $((SECONDS - step)) s"
fi
# Earlier recipes' stand-ins are of no further use (one still a parent of a built image stays).
for tag in $(docker image ls "$standin_repository" --format '{{.Tag}}'); do
  [[ $tag == "${standin_image##*:}" ]] || docker image rm "$standin_repository:$tag" >/dev/null 2>&1 || true
done
docker tag "$standin_image" "$base_image"
echo "$base_image" >"$state_dir/base-image.tagged"
echo "base image: $base_image -> $standin_image (stand-in, until the end of this run)"
