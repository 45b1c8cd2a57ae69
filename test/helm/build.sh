#!/usr/bin/env bash
# Build (once) and cache the helm CLI (helm.sh/helm/v3, pinned in go.mod) for test/helm.test.ts and
# scripts/manifests.sh. Debian has no helm package, so it comes from its Go module, as test/k8s builds
# Kubernetes:
#
#   helm="$(test/helm/build.sh | tail -n1)"   # last stdout line = the helm binary
#   "$helm" version
#
#   ${ANCHORAGE_CACHE:-~/.cache/anchorage}/
#     gomod/ gocache/            shared with test/k8s/build.sh
#     helm-<version>-<key12>/
#       bin/helm
#       DONE                     written last; its presence means bin/helm is complete
#
# <key12> = first 12 hex chars of sha256(go.mod, go.sum, go version, GOOS/GOARCH, recipe). A cache hit
# costs a few hashes. Progress goes to stderr. Needs only Go and the module proxy.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "helm/build.sh: ERROR: $*" >&2; exit 1; }
log() { echo "helm/build.sh: $*" >&2; }

# shellcheck source=../support/go-env.sh
source "${here}/../support/go-env.sh"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found"

helm_version="$(sed -n 's/^require helm\.sh\/helm\/v3 \(v[^ ]*\).*/\1/p' "${here}/go.mod")"
helm_version="${helm_version%%$'\n'*}"
[[ "${helm_version}" =~ ^v3\.[0-9]+\.[0-9]+$ ]] || die "cannot read the helm.sh/helm/v3 pin from ${here}/go.mod"
recipe="v1 cgo=0 trimpath ldflags=-s,-w,version,k8s-version"

go_version="$(cd "${here}" && go env GOVERSION GOOS GOARCH | tr '\n' ' ')" || die "'go env' failed"
key="$(
  {
    for f in go.mod go.sum; do
      [[ -f "${here}/${f}" ]] || die "missing ${here}/${f}"
      printf '%s ' "${f}"; sha256sum <"${here}/${f}"
    done
    echo "${go_version}"
    echo "${recipe}"
  } | sha256sum | cut -c1-12
)"
out="${cache_root}/helm-${helm_version}-${key}"

if [[ -f "${out}/DONE" ]]; then
  log "cache hit: ${out}"
  echo "${out}/bin/helm"
  exit 0
fi

mkdir -p "${out}/bin"
exec 9>"${out}.lock"
if command -v flock >/dev/null 2>&1; then
  flock -n 9 || { log "another build holds ${out}.lock; waiting"; flock 9; }
fi
if [[ -f "${out}/DONE" ]]; then
  log "cache hit: ${out}"
  echo "${out}/bin/helm"
  exit 0
fi

trap 'rc=$?; if ((rc != 0)); then echo "helm/build.sh: ERROR: build FAILED (exit ${rc}); ${out} has no DONE stamp and will be rebuilt" >&2; fi' EXIT
log "building helm ${helm_version} into ${out}/bin (GOMODCACHE=${GOMODCACHE})"
t0=$(date +%s)
(cd "${here}" && go mod download) || die "go mod download failed in ${here} (is the module proxy reachable?)"
# What helm's Makefile stamps: its version, and the Kubernetes version its lint and template assume
# (client-go v0.X.Y -> 1.X).
client_go="$(cd "${here}" && go list -m -f '{{.Version}}' k8s.io/client-go)" || die "cannot resolve k8s.io/client-go"
[[ "${client_go}" =~ ^v0\.([0-9]+)\. ]] || die "unexpected k8s.io/client-go version ${client_go}"
k8s_minor="${BASH_REMATCH[1]}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${helm_version} -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${k8s_minor}"
done
rm -f "${out}/bin/helm.tmp"
(cd "${here}" && go build -p 2 -trimpath -ldflags "${ldflags}" -o "${out}/bin/helm.tmp" helm.sh/helm/v3/cmd/helm) \
  || die "go build helm.sh/helm/v3/cmd/helm failed (see the compiler output above)"
v="$("${out}/bin/helm.tmp" version --short 2>&1 || true)"
[[ "${v}" == "${helm_version}"* ]] || die "helm version --short reports '${v}', not ${helm_version}"
mv -f "${out}/bin/helm.tmp" "${out}/bin/helm"
t1=$(date +%s)
echo "helm ${helm_version} go ${go_version} key ${key} $((t1 - t0))s" >"${out}/build.log"
date -u +%Y-%m-%dT%H:%M:%SZ >"${out}/DONE"
log "done in $((t1 - t0))s: ${out}/bin/helm"
echo "${out}/bin/helm"
