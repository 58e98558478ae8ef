#!/usr/bin/env bash
# Builds a static racecap with `live` and `ebpf` (capture and watch): one
# executable that needs neither libpcap.so nor glibc's shared objects on
# the node it is copied to. The eBPF side adds nothing to link (aya is pure
# Rust; the programs are compiled by clang into the binary).
#
#   scripts/static-build.sh            # → target/static/racecap
#
# Why this route: Debian's libpcap.a is built with D-Bus (and RDMA,
# Bluetooth, libnl) support, so linking it with `+crt-static` pulls in
# libdbus, whose static form Debian does not ship; the link fails. This
# script builds the same libpcap release from Debian's source package,
# configured without those capture back-ends (racecap captures on network
# interfaces only), and links racecap statically against it with glibc's
# static libraries (`-C target-feature=+crt-static`, a static-pie).
#
# Needs (as root, or with the packages already there): a deb-src entry for
# the machine's Debian release (derived here from its own sources, in a
# private apt state, so the system's apt configuration is not touched),
# dpkg-dev, flex, bison, gcc, make, clang, libbpf-dev, and a Rust toolchain.
#
# Caveat of static glibc: name lookups through NSS are not available, so
# give BPF filters addresses, not host names (`host 10.0.0.2`).
set -euo pipefail
cd "$(dirname "$0")/.."

work="${RACECAP_STATIC_WORK:-target/static}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
target="x86_64-unknown-linux-gnu"

need=()
for tool in dpkg-source flex bison gcc make clang; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
# bpf_helpers.h for the eBPF programs.
dpkg -s libbpf-dev >/dev/null 2>&1 || need+=(libbpf-dev)
if [ ${#need[@]} -gt 0 ]; then
  pkgs=()
  for t in "${need[@]}"; do
    case "$t" in
      dpkg-source) pkgs+=(dpkg-dev) ;;
      *) pkgs+=("$t") ;;
    esac
  done
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
fi

# The libpcap the Debian release ships, as source.
apt_dir="$work/apt"
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial"
: > "$apt_dir/sources.list"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  # deb822: the same archives, for source packages.
  sed -E 's/^Types:.*/Types: deb-src/' "$f" > "$apt_dir/sources.list.d/$(basename "$f")"
done
if [ -f /etc/apt/sources.list ]; then
  sed -nE 's/^deb (.*)/deb-src \1/p' /etc/apt/sources.list > "$apt_dir/sources.list"
fi
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists")
src="$work/libpcap-src"
if [ ! -f "$src/configure" ]; then
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" source --download-only libpcap)
  dsc="$(ls "$work"/libpcap_*.dsc | head -1)"
  rm -rf "$src"
  dpkg-source -x "$dsc" "$src" >/dev/null
fi
version="$(sed -n 's/^Version: \([0-9.]*\).*/\1/p' "$(ls "$work"/libpcap_*.dsc | head -1)")"

# libpcap without the back-ends that need other libraries.
lib="$work/lib"
if [ ! -f "$lib/libpcap.a" ]; then
  (cd "$src" &&
    ./configure --disable-shared --enable-static --with-pcap=linux \
      --disable-dbus --disable-rdma --disable-bluetooth --disable-usb \
      --disable-netmap --disable-remote --without-libnl \
      CFLAGS="-O2 -fPIE" >"$work/configure.log" &&
    make -j"$(nproc)" libpcap.a >"$work/make.log")
  mkdir -p "$lib"
  cp "$src/libpcap.a" "$lib/"
fi

# racecap against it. With only libpcap.a in LIBPCAP_LIBDIR the pcap
# crate's `-l pcap` resolves to the static library.
LIBPCAP_LIBDIR="$lib" LIBPCAP_VER="$version" \
  RUSTFLAGS="-C target-feature=+crt-static" \
  CARGO_TARGET_DIR="$work/cargo" \
  cargo build --release --locked --features live,ebpf --target "$target"
cp "$work/cargo/$target/release/racecap" "$work/racecap"
if ldd "$work/racecap" 2>&1 | grep -q '=>'; then
  echo "static-build: $work/racecap still needs shared libraries:" >&2
  ldd "$work/racecap" >&2
  exit 1
fi
echo "static-build: $work/racecap (libpcap $version, static)"
