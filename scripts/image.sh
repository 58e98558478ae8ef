#!/usr/bin/env bash
# Builds the racecap image without a container daemon: the static `live`
# executable (scripts/static-build.sh) in a FROM-scratch image, built by
# buildah, named racecap:VERSION (VERSION from Cargo.toml) in the local
# container storage. Prints the image id.
#
#   scripts/image.sh                 # build
#   scripts/image.sh --save FILE     # … and write it as an OCI archive, to
#                                    # push it to your registry from anywhere:
#                                    # skopeo copy oci-archive:FILE docker://…
#
# Needs buildah (Debian package), and what static-build.sh needs; as root
# it installs buildah when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

save=""
if [ "${1:-}" = "--save" ]; then
  save="${2:?--save FILE}"
fi
if ! command -v buildah >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah
fi

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
image="racecap:$version"
scripts/static-build.sh >&2
work="${RACECAP_STATIC_WORK:-target/static}"

# A context of one file: the executable.
ctx="target/image-context"
rm -rf "$ctx"
mkdir -p "$ctx"
cp "$work/racecap" "$ctx/racecap"
# Fixed timestamps, so the same executable gives the same layer.
buildah build --quiet --timestamp 0 --build-arg "VERSION=$version" \
  -f Containerfile -t "$image" "$ctx" >&2
if [ -n "$save" ]; then
  rm -f "$save"
  buildah push --quiet "$image" "oci-archive:$save:$image" >&2
fi
buildah images --noheading --format '{{.ID}}' "$image"
