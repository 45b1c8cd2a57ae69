#!/usr/bin/env bash
# `npm run sbom [-- FILE]`: the CycloneDX SBOM of the npm packages the image ships, default
# .tmp/anchorage.cdx.json; the Dockerfile runs it too and puts the result in the image.
# The packages are exactly what `npm ci --omit dev` installs: the lockfile's entries that npm does not flag
# dev. `npm sbom --omit dev --package-lock-only` misses some of them (react: a dependency that is also a
# devDependency's peer), so the SBOM is made from a copy of package.json and package-lock.json whose root
# declares no devDependencies, with the exact versions and integrity hashes of the lockfile.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-${root}/.tmp/anchorage.cdx.json}"
case "${out}" in /*) ;; *) out="${PWD}/${out}" ;; esac
mkdir -p "$(dirname "${out}")"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
node -e '
const fs = require("node:fs");
const [root, work] = process.argv.slice(1);
const pkg = JSON.parse(fs.readFileSync(`${root}/package.json`, "utf8"));
const lock = JSON.parse(fs.readFileSync(`${root}/package-lock.json`, "utf8"));
delete pkg.devDependencies;
delete lock.packages[""].devDependencies;
fs.writeFileSync(`${work}/package.json`, JSON.stringify(pkg, null, 2));
fs.writeFileSync(`${work}/package-lock.json`, JSON.stringify(lock, null, 2));
' "${root}" "${work}"
(cd "${work}" && npm sbom --package-lock-only --sbom-format cyclonedx --sbom-type application) >"${work}/sbom.json"
mv -f "${work}/sbom.json" "${out}"
echo "wrote ${out}" >&2
