#!/usr/bin/env bash
# Build (once) the Go peers of the benchmarks into ${ANCHORAGE_CACHE:-~/.cache/anchorage}/bench-peer-<key12>/peer,
# keyed by the sources and the Go version; the last stdout line is the binary's path. Standard library only.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${ANCHORAGE_CACHE:-${HOME}/.cache/anchorage}"
go_bin="$(command -v go || echo /usr/local/go/bin/go)"
[ -x "${go_bin}" ] || { echo "bench/go/build.sh: ERROR: no Go (PATH or /usr/local/go/bin/go)" >&2; exit 1; }
export GOCACHE="${cache_root}/gocache" GOMODCACHE="${cache_root}/gomod" GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=mod
unset GOOS GOARCH GOBIN GOEXPERIMENT || true
key="$( { cat "${here}/go.mod" "${here}"/*.go; "${go_bin}" version; } | sha256sum | cut -c1-12)"
out="${cache_root}/bench-peer-${key}"
if [ ! -x "${out}/peer" ]; then
  mkdir -p "${out}"
  (cd "${here}" && "${go_bin}" build -trimpath -o "${out}/peer.tmp" .)
  mv "${out}/peer.tmp" "${out}/peer"
  echo "bench/go/build.sh: built ${out}/peer" >&2
fi
echo "${out}/peer"
