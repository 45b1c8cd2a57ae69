#!/usr/bin/env bash
# Build (once) and cache zlint-batch: zlint v3 (go.mod pin) over many certificates in one process.
#
#   zlint="$(bash test/zlint/build.sh | tail -n1)"
#   ls certs/*.pem | "${zlint}"          # one JSON line per file
#   "${zlint}" -list                     # every certificate lint zlint registers
#
# Cached in ${ANCHORAGE_CACHE:-~/.cache/anchorage}/zlint-<key12>/zlint-batch, <key12> from go.mod, go.sum,
# main.go and the Go version; GOMODCACHE/GOCACHE shared with test/k8s/build.sh. The last stdout line is the
# binary's path; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../support/go-env.sh
source "${here}/../support/go-env.sh"
key="$(
  {
    for f in go.mod go.sum main.go; do printf '%s ' "${f}"; sha256sum <"${here}/${f}"; done
    (cd "${here}" && go env GOVERSION GOOS GOARCH)
  } | sha256sum | cut -c1-12
)"
out="${cache_root}/zlint-${key}"
bin="${out}/zlint-batch"
if [[ -x "${bin}" ]]; then echo "${bin}"; exit 0; fi
mkdir -p "${out}"
exec 9>"${out}.lock"
command -v flock >/dev/null 2>&1 && flock 9
if [[ -x "${bin}" ]]; then echo "${bin}"; exit 0; fi
echo "zlint/build.sh: building ${bin}" >&2
(cd "${here}" && go build -p 2 -trimpath -o "${bin}.tmp" .) >&2
mv -f "${bin}.tmp" "${bin}"
echo "${bin}"
