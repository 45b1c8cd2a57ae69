#!/usr/bin/env bash
# Build (once) step-ca, smallstep's CA, from its Go module (github.com/smallstep/certificates) into
# ${ANCHORAGE_CACHE:-~/.cache/anchorage}/step-ca-<version>-<key12>/step-ca, keyed by the pin, the Go version and
# this recipe; the last stdout line is the binary's path. The peer of bench/ca.bench.ts.
set -euo pipefail
version="v0.30.2"
cache_root="${ANCHORAGE_CACHE:-${HOME}/.cache/anchorage}"
go_bin="$(command -v go || echo /usr/local/go/bin/go)"
[ -x "${go_bin}" ] || { echo "bench/stepca/build.sh: ERROR: no Go (PATH or /usr/local/go/bin/go)" >&2; exit 1; }
export GOCACHE="${cache_root}/gocache" GOMODCACHE="${cache_root}/gomod" GOWORK=off CGO_ENABLED=0 GOFLAGS="-modcacherw"
unset GOOS GOARCH GOEXPERIMENT || true
recipe="v1 go-install cgo=0 trimpath ldflags=-s,-w,main.Version"
key="$( { echo "${version} ${recipe}"; "${go_bin}" version; } | sha256sum | cut -c1-12)"
out="${cache_root}/step-ca-${version}-${key}"
if [ ! -x "${out}/step-ca" ]; then
  mkdir -p "${out}"
  exec 9>"${out}.lock"
  flock 9
  if [ ! -x "${out}/step-ca" ]; then
    start=$(date +%s)
    GOBIN="${out}/tmp" "${go_bin}" install -trimpath -ldflags "-s -w -X main.Version=${version#v}" \
      "github.com/smallstep/certificates/cmd/step-ca@${version}" >&2
    mv "${out}/tmp/step-ca" "${out}/step-ca"
    rmdir "${out}/tmp"
    echo "bench/stepca/build.sh: built ${out}/step-ca in $(( $(date +%s) - start ))s" >&2
  fi
fi
echo "${out}/step-ca"
