#!/usr/bin/env bash
# Runs the image scripts/image.sh built (racecap:VERSION), as a container
# when the machine can run one, else from the image's root filesystem:
#
#   1. `--version` prints the crate's version;
#   2. `analyze -` of a fixture on standard input gives the same JSON
#      report as the executable the image was built from;
#   3. `capture` on loopback, in a network namespace of its own, for 1 s,
#      ends with a `"type":"report"` line (JSON Lines).
#
# With podman: `podman run --rm -i`. Where
# podman cannot start containers (this project's build machines: crun
# fails to set rlimits and refuses cgroup v1/v2 hybrid hierarchies, see
# deploy/README.md), the same three checks run on the image's own files:
# `buildah mount` of a working container, then `chroot` into it (an
# image with nothing but /racecap: a missing library or file would fail
# here as in a pod), /proc and /sys mounted for the capture as a runtime
# would.
#
#   scripts/image-test.sh           # exit 0 when all three pass
set -euo pipefail
cd "$(dirname "$0")/.."

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
image="racecap:$version"
fixture="post-races.backend.pcap"
built="${RACECAP_STATIC_WORK:-target/static}/racecap"
[ -x "$built" ] || { echo "image-test: $built is missing: run scripts/image.sh first" >&2; exit 2; }
buildah images --noheading "$image" >/dev/null 2>&1 ||
  { echo "image-test: no image $image: run scripts/image.sh first" >&2; exit 2; }

expected="$("$built" analyze - --format json < "fixtures/lab/$fixture")"
ns="r25-img$$"
ctr=""
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  if [ -n "$ctr" ]; then
    buildah umount "$ctr" >/dev/null 2>&1 || true
    buildah rm "$ctr" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# How: a container, or the image's files.
if command -v podman >/dev/null 2>&1 &&
  err="$(timeout 60 podman run --rm --network none "$image" --version 2>&1)"; then
  echo "image-test: running $image with podman"
  run() { timeout 60 podman run --rm -i --network none "$image" "$@"; }
  live() { timeout 60 podman run --rm --network none --cap-drop ALL --cap-add NET_RAW "$image" "$@"; }
else
  echo "image-test: podman cannot run a container here (${err:-podman not installed}); checking the image's files with buildah mount + chroot"
  ctr="$(buildah from "$image")"
  root="$(buildah mount "$ctr")"
  # Only the working container's layer gets these two mount points.
  mkdir -p "$root/proc" "$root/sys"
  run() { timeout 60 chroot "$root" /racecap "$@"; }
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  live() {
    timeout 60 ip netns exec "$ns" unshare -m sh -c \
      'mount -t proc proc "$0/proc" && mount -t sysfs sysfs "$0/sys" && exec chroot "$0" /racecap "$@"' \
      "$root" "$@"
  }
fi

got="$(run --version)"
[ "$got" = "racecap $version" ] || { echo "image-test: --version printed '$got'" >&2; exit 1; }
echo "image-test: --version: $got"

got="$(run analyze - --format json < "fixtures/lab/$fixture")"
if [ "$got" != "$expected" ]; then
  echo "image-test: analyze in the image differs from the executable it was built from" >&2
  diff <(echo "$expected") <(echo "$got") | head -20 >&2
  exit 1
fi
echo "image-test: analyze $fixture: the same report ($(echo "$got" | wc -c) bytes)"

last="$(live capture -i lo --duration 1s --format jsonl 2>/dev/null | tail -1)"
case "$last" in
  '{"type":"report",'*) echo "image-test: capture -i lo ended with its report line" ;;
  *) echo "image-test: capture did not end with a report line: ${last:0:200}" >&2; exit 1 ;;
esac
echo "image-test: $image passed"
