#!/usr/bin/env bash
# Packs the kubectl plugin for krew, reproducibly (fixed order, owner and
# time, gzip without a name or date), and prints the archive's sha256, the
# value deploy/krew/racecap.yaml carries. Until a release publishes the
# archive at the manifest's uri, install it from the work tree:
#
#   scripts/krew-package.sh target/kubectl-racecap.tar.gz
#   kubectl krew install --manifest=deploy/krew/racecap.yaml \
#     --archive=target/kubectl-racecap.tar.gz
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/kubectl-racecap.tar.gz}"
mkdir -p "$(dirname "$out")"
tar --sort=name --mtime='2026-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner \
  --mode='u=rwX,go=rX' -C deploy -cf - kubectl-racecap | gzip -n -9 > "$out"
sha256sum "$out" | cut -d' ' -f1
