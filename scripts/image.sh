#!/usr/bin/env bash
# `npm run image`: build the container image from the Dockerfile at the repository's root with the first
# container builder that works here: docker (with a reachable daemon), podman, or buildah. Without one it
# says so in one line and exits 1: nothing is downloaded in its place.
#   ANCHORAGE_IMAGE          the tag (default anchorage:<package.json version>)
#   ANCHORAGE_IMAGE_BUILDER  use only this builder (docker, podman or buildah)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "${root}/package.json")"
tag="${ANCHORAGE_IMAGE:-anchorage:${version}}"
builders=(docker podman buildah)
[[ -n "${ANCHORAGE_IMAGE_BUILDER:-}" ]] && builders=("${ANCHORAGE_IMAGE_BUILDER}")
why=()
for b in "${builders[@]}"; do
  case "${b}" in docker | podman | buildah) ;; *) why+=("${b}: not a builder this script knows (docker, podman, buildah)"); continue ;; esac
  if ! command -v "${b}" >/dev/null 2>&1; then why+=("${b}: not installed"); continue; fi
  if [[ "${b}" == docker ]] && ! docker info >/dev/null 2>&1; then why+=("docker: installed, but no daemon answers"); continue; fi
  echo "npm run image: building ${tag} with ${b}" >&2
  if [[ "${b}" == buildah ]]; then
    buildah bud --layers -t "${tag}" -f "${root}/Dockerfile" "${root}"
  else
    "${b}" build -t "${tag}" -f "${root}/Dockerfile" "${root}"
  fi
  echo "npm run image: built ${tag} (SBOM inside at /opt/anchorage/sbom.cdx.json)" >&2
  exit 0
done
joined="$(IFS=';'; echo "${why[*]}")"
echo "npm run image: no container builder here (${joined//;/; }): install docker with a running daemon, podman or buildah, or build the Dockerfile elsewhere" >&2
exit 1
