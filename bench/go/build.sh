#!/usr/bin/env bash
# Build (once) the Go peers of the benchmarks into ${ANCHORAGE_CACHE:-~/.cache/anchorage}/bench-peer-<key12>/peer,
# keyed by the sources and the Go version; the last stdout line is the binary's path. Standard library only.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../test/support/go-env.sh
source "${here}/../../test/support/go-env.sh"
go_bin=go
key="$( { cat "${here}/go.mod" "${here}"/*.go; "${go_bin}" version; } | sha256sum | cut -c1-12)"
out="${cache_root}/bench-peer-${key}"
if [ ! -x "${out}/peer" ]; then
  mkdir -p "${out}"
  (cd "${here}" && "${go_bin}" build -trimpath -o "${out}/peer.tmp" .)
  mv "${out}/peer.tmp" "${out}/peer"
  echo "bench/go/build.sh: built ${out}/peer" >&2
fi
echo "${out}/peer"
