#!/usr/bin/env bash
# Build (once) a small Go program of the test suite and print the binary's path (last stdout line):
#   test/support/go-build.sh <folder> <name>
# Every test-only Go program (test/go-oracle, test/merkle-oracle, test/ca-cel-oracle, test/ca-tls-client)
# is built by this one script through its folder's build.sh. Same Go and module/build caches as
# test/k8s/build.sh; the cache key hashes the folder's go.mod, go.sum and *.go, this script and the Go
# version, so editing the program or upgrading Go rebuilds it.
set -euo pipefail
dir="$(cd "$1" && pwd)"
name="$2"
# shellcheck source=go-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-env.sh"
go_version="$(cd "${dir}" && go env GOVERSION GOOS GOARCH | tr '\n' ' ')"
key="$( {
  for f in "${dir}"/go.mod "${dir}"/go.sum "${dir}"/*.go "${BASH_SOURCE[0]}"; do
    [[ -f "${f}" ]] || continue
    printf '%s ' "$(basename "${f}")"
    sha256sum <"${f}"
  done
  echo "${go_version}"
} | sha256sum | cut -c1-12)"
out="${cache_root}/${name}-${key}"
if [[ ! -x "${out}/${name}" ]]; then
  mkdir -p "${out}"
  # One build at a time (test files ask in parallel); whoever waited finds it built.
  exec 9>"${out}.lock"
  command -v flock >/dev/null 2>&1 && flock 9
fi
if [[ ! -x "${out}/${name}" ]]; then
  tmp="$(mktemp "${out}/${name}.XXXXXX")"
  (cd "${dir}" && go build -trimpath -o "${tmp}" .)
  chmod 0755 "${tmp}"
  mv -f "${tmp}" "${out}/${name}"
fi
echo "${out}/${name}"
