#!/usr/bin/env bash
# Build (once) the cel-go oracle used by test/ca-cel.test.ts and print the binary's path (last stdout line).
# Same Go and module/build caches as test/k8s/build.sh; the cache key hashes this folder's sources
# and the Go version, so editing the oracle or upgrading Go rebuilds it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${ANCHORAGE_CACHE:-${HOME}/.cache/anchorage}"
# Go as the machine ships it, even when PATH lacks it (as test/k8s/build.sh does).
command -v go >/dev/null 2>&1 || { [[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:${PATH}"; }
command -v go >/dev/null 2>&1 || { echo "ca-cel-oracle/build.sh: go is not on PATH (nor in /usr/local/go/bin)" >&2; exit 1; }
export GOMODCACHE="${cache_root}/gomod" GOCACHE="${cache_root}/gocache" GOFLAGS="-mod=mod -modcacherw" GOWORK=off CGO_ENABLED=0
unset GOOS GOARCH GOBIN GOEXPERIMENT || true
go_version="$(cd "${here}" && go env GOVERSION GOOS GOARCH | tr '\n' ' ')"
key="$( { for f in go.mod go.sum main.go build.sh; do printf '%s ' "${f}"; sha256sum <"${here}/${f}"; done; echo "${go_version}"; } | sha256sum | cut -c1-12)"
out="${cache_root}/ca-cel-oracle-${key}"
if [[ ! -x "${out}/ca-cel-oracle" ]]; then
  mkdir -p "${out}"
  # One build at a time (test files ask in parallel); whoever waited finds it built.
  exec 9>"${out}.lock"
  command -v flock >/dev/null 2>&1 && flock 9
fi
if [[ ! -x "${out}/ca-cel-oracle" ]]; then
  tmp="$(mktemp "${out}/ca-cel-oracle.XXXXXX")"
  (cd "${here}" && go build -trimpath -o "${tmp}" .)
  chmod 0755 "${tmp}"
  mv -f "${tmp}" "${out}/ca-cel-oracle"
fi
echo "${out}/ca-cel-oracle"
