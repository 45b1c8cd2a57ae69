#!/usr/bin/env bash
# Build (once) and cache the upstream Kubernetes + etcd binaries used by Anchorage's e2e tests.
#
#   bin_dir="$(test/k8s/build.sh | tail -n1)"
#   "${bin_dir}/kube-apiserver" --version
#
# Output layout (see README.md):
#   ${ANCHORAGE_CACHE:-~/.cache/anchorage}/
#     gomod/                     GOMODCACHE (shared by every pin)
#     gocache/                   GOCACHE    (shared by every pin)
#     k8s-<version>-<key12>/
#       bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl,kubeadm,etcd}
#       DONE                     written last; its presence means the bin dir is complete
#       build.log                timings of the build that produced it
#
# <key12> = first 12 hex chars of sha256(go.mod/go.sum of both modules, go version, GOOS/GOARCH,
# build recipe). A cache hit costs a few hashes and prints the bin dir (well under a second).
# The last stdout line is always the bin dir; all progress goes to stderr.
# Needs only Go and the module proxy. Exit status is non-zero if anything fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "build.sh: ERROR: $*" >&2; exit 1; }
log() { echo "build.sh: $*" >&2; }

# Go on PATH, cache_root and the shared module/build caches (needs Go >= the 'go' line of go.mod).
# shellcheck source=../support/go-env.sh
source "${here}/../support/go-env.sh"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found"

# --- pins and cache key -----------------------------------------------------------------------------
# sed prints every match and the first line is kept in bash: no `| head` that could cut sed off (SIGPIPE).
k8s_version="$(sed -n 's/^require k8s\.io\/kubernetes \(v[^ ]*\).*/\1/p; s/^[[:space:]]k8s\.io\/kubernetes \(v[^ ]*\).*/\1/p' "${here}/go.mod")"
k8s_version="${k8s_version%%$'\n'*}"
etcd_version="$(sed -n 's/^require go\.etcd\.io\/etcd\/server\/v3 \(v[^ ]*\).*/\1/p; s/^[[:space:]]go\.etcd\.io\/etcd\/server\/v3 \(v[^ ]*\).*/\1/p' "${here}/etcd/go.mod")"
etcd_version="${etcd_version%%$'\n'*}"
[[ "${k8s_version}" =~ ^v1\.([0-9]+)\.[0-9]+ ]] || die "cannot read the k8s.io/kubernetes pin from ${here}/go.mod"
k8s_minor="${BASH_REMATCH[1]}"
[[ -n "${etcd_version}" ]] || die "cannot read the go.etcd.io/etcd/server/v3 pin from ${here}/etcd/go.mod"

# Same tags and ldflags as upstream's hack/lib/golang.sh for release (non-debug) builds. The version
# variables are what `make` would stamp from git; buildDate is the release's publication time.
k8s_tags="selinux,notest,grpcnotrace"
recipe="v1 cgo=0 trimpath k8s-tags=${k8s_tags} k8s-ldflags=-s,-w,version-vars etcd-ldflags=-s,-w"

go_version="$(cd "${here}" && go env GOVERSION GOOS GOARCH | tr '\n' ' ')" || die "'go env' failed"
key="$(
  {
    for f in go.mod go.sum etcd/go.mod etcd/go.sum; do
      [[ -f "${here}/${f}" ]] || die "missing ${here}/${f}"
      printf '%s ' "${f}"; sha256sum <"${here}/${f}"
    done
    echo "${go_version}"
    echo "${recipe}"
  } | sha256sum | cut -c1-12
)"
out="${cache_root}/k8s-${k8s_version}-${key}"
bin="${out}/bin"

if [[ -f "${out}/DONE" ]]; then
  log "cache hit: ${out}"
  echo "${bin}"
  exit 0
fi

# --- cold path ----------------------------------------------------------------------------------------
mkdir -p "${cache_root}" "${bin}"
exec 9>"${out}.lock"
if command -v flock >/dev/null 2>&1; then
  flock -n 9 || { log "another build.sh holds ${out}.lock; waiting"; flock 9; }
fi
if [[ -f "${out}/DONE" ]]; then   # built by whoever held the lock
  log "cache hit: ${out}"
  echo "${bin}"
  exit 0
fi

build_log="${out}/build.log"
: >"${build_log}"
log "building Kubernetes ${k8s_version} + etcd ${etcd_version} into ${bin}"
log "GOMODCACHE=${GOMODCACHE} GOCACHE=${GOCACHE} (${go_version% })"
echo "k8s ${k8s_version} etcd ${etcd_version} go ${go_version} key ${key} recipe ${recipe}" >>"${build_log}"

current=""
trap 'rc=$?; if ((rc != 0)); then echo "build.sh: ERROR: build FAILED${current:+ at step: ${current}} (exit ${rc}); ${bin} is incomplete (no DONE stamp) and will be rebuilt on the next run" >&2; fi' EXIT

# Release metadata for the version stamp.
current="downloading modules"
k8s_time="$(cd "${here}" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)" \
  || die "cannot resolve k8s.io/kubernetes ${k8s_version} (is the module proxy reachable?)"
(cd "${here}" && go mod download) || die "go mod download failed in ${here}"
(cd "${here}/etcd" && go mod download) || die "go mod download failed in ${here}/etcd"

k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X ${pkg}.gitVersion=${k8s_version}"
  k8s_ldflags+=" -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${k8s_minor}"
  k8s_ldflags+=" -X ${pkg}.gitTreeState=archive"
  k8s_ldflags+=" -X ${pkg}.buildDate=${k8s_time}"
done

build_one() { # <module dir> <output name> <package> <go build flags...>
  local dir="$1" name="$2" pkg="$3" start end
  shift 3
  current="go build ${name}"
  start=$(date +%s)
  log "go build ${pkg} -> ${bin}/${name}"
  rm -f "${bin}/${name}" "${bin}/${name}.tmp"
  (cd "${dir}" && go build -p 2 -trimpath "$@" -o "${bin}/${name}.tmp" "${pkg}") \
    || die "go build ${pkg} failed (see the compiler output above)"
  mv -f "${bin}/${name}.tmp" "${bin}/${name}"
  end=$(date +%s)
  log "  ${name}: $((end - start))s"
  echo "${name} $((end - start))s" >>"${build_log}"
}

t0=$(date +%s)
# Sequential on purpose: each `go build` already uses -p 2, and kube-apiserver alone needs minutes.
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl kubeadm; do
  build_one "${here}" "${cmd}" "k8s.io/kubernetes/cmd/${cmd}" -tags "${k8s_tags}" -ldflags "${k8s_ldflags}"
done
build_one "${here}/etcd" etcd go.etcd.io/etcd/server/v3 -ldflags "-s -w"

# Smoke test before declaring the cache entry valid.
current="smoke test"
# Capture each binary's output first, then match: `producer | grep -q` under pipefail races (grep exits
# at its first match, the producer's next write gets SIGPIPE and the pipeline fails).
version_of() { "$@" 2>&1 || true; }
for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
  v="$(version_of "${bin}/${cmd}" --version)"
  [[ "${v}" == *"${k8s_version}"* ]] || die "${cmd} --version does not report ${k8s_version}: ${v}"
done
v="$(version_of "${bin}/kubectl" version --client)"
[[ "${v}" == *"${k8s_version}"* ]] || die "kubectl version --client does not report ${k8s_version}: ${v}"
v="$(version_of "${bin}/kubeadm" version -o short)"
[[ "${v}" == "${k8s_version}" ]] || die "kubeadm version -o short does not report ${k8s_version}: ${v}"
v="$(version_of "${bin}/etcd" --version)"
[[ "${v}" == *"etcd Version: ${etcd_version#v}"* ]] || die "etcd --version does not report ${etcd_version}: ${v}"

t1=$(date +%s)
echo "total $((t1 - t0))s" >>"${build_log}"
date -u +%Y-%m-%dT%H:%M:%SZ >"${out}/DONE"
current=""
log "done in $((t1 - t0))s: ${bin}"
echo "${bin}"
