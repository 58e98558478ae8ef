#!/usr/bin/env bash
# Builds every way deploy/kubernetes can be applied (each overlay alone,
# and with every component) with `kubectl kustomize`, and validates each
# resource against the Kubernetes API schemas, offline
# (kubernetes-validate, which ships the schemas), strictly: an unknown
# field fails. The Prometheus Operator's kinds have no schema there; they
# are checked by tests/deploy.rs (fields) and tests/alerts.rs (promtool).
#
#   scripts/validate-manifests.sh [KUBERNETES_VERSION...]   # default: 1.29.0 1.33.0
#
# Needs kubectl (for kustomize) and the PyPI package kubernetes-validate.
# Writes the built manifests to target/manifests/.
set -euo pipefail
cd "$(dirname "$0")/.."

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(1.29.0 1.33.0)
out="target/manifests"
rm -rf "$out"
mkdir -p "$out"

components=(pod-names tolerate-all-taints prometheus-operator)
builds=()
for overlay in capture watch; do
  kubectl kustomize "deploy/kubernetes/overlays/$overlay" > "$out/$overlay.yaml"
  builds+=("$out/$overlay.yaml")
  # The overlay with every component that applies to it (pod names are
  # capture mode's only).
  dir="$out/$overlay-all"
  mkdir -p "$dir"
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources:"
    echo "- ../../../deploy/kubernetes/overlays/$overlay"
    echo "components:"
    for c in "${components[@]}"; do
      [ "$overlay/$c" = watch/pod-names ] && continue
      echo "- ../../../deploy/kubernetes/components/$c"
    done
  } > "$dir/kustomization.yaml"
  kubectl kustomize "$dir" > "$out/$overlay-all.yaml"
  builds+=("$out/$overlay-all.yaml")
done

status=0
for f in "${builds[@]}"; do
  # The operator's kinds (no schema here) are left out of this check.
  python3 - "$f" "$f.core" <<'PY'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
keep = [d for d in docs if "apiVersion: monitoring.coreos.com/" not in d]
open(sys.argv[2], "w").write("\n---\n".join(keep))
PY
  for v in "${versions[@]}"; do
    if ! kubernetes-validate --strict --quiet -k "$v" "$f.core"; then
      echo "validate-manifests: $f fails against Kubernetes $v" >&2
      status=1
    fi
  done
  echo "validate-manifests: $f ($(grep -c '^kind:' "$f") resources) valid against Kubernetes ${versions[*]}"
done
exit $status
