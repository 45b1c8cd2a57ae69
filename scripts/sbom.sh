#!/usr/bin/env bash
# `npm run sbom [-- FILE]`: the CycloneDX SBOM of the npm packages the image ships (production dependencies,
# from package-lock.json: the exact versions and integrity hashes `npm ci` installs), default
# .tmp/anchorage.cdx.json. The Dockerfile writes the same document into the image.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-${root}/.tmp/anchorage.cdx.json}"
mkdir -p "$(dirname "${out}")"
tmp="$(mktemp "${out}.XXXXXX")"
trap 'rm -f "${tmp}"' EXIT
(cd "${root}" && npm sbom --package-lock-only --omit dev --sbom-format cyclonedx --sbom-type application) >"${tmp}"
mv -f "${tmp}" "${out}"
trap - EXIT
echo "wrote ${out}" >&2
