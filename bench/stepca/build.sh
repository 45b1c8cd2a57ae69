#!/usr/bin/env bash
# Build (once) step-ca, smallstep's CA, from its Go module (github.com/smallstep/certificates) into
# ${ANCHORAGE_CACHE:-~/.cache/anchorage}/step-ca-<version>-<key12>/step-ca, keyed by the pin, the Go version and
# this recipe; the last stdout line is the binary's path. The peer of bench/ca.bench.ts.
set -euo pipefail
version="v0.30.2"
# shellcheck source=../../test/support/go-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../test/support/go-env.sh"
export GOFLAGS="-modcacherw" # `go install pkg@version` takes no -mod flag
go_bin=go
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
