#!/usr/bin/env bash
# `npm run image`: build the container image.
#   docker   the Dockerfile at the repository's root, when a docker daemon answers (pulls node:24-trixie-slim)
#   scratch  no daemon, no registry: buildah commits the distroless filesystem scripts/image-rootfs.sh stages
#            (Node 24 from the `node` npm package, the libraries it links from this machine's Debian, the packed
#            app and its production dependencies) FROM scratch, in a throwaway vfs store, and writes it as an
#            OCI image layout, ANCHORAGE_IMAGE_OCI (default .tmp/image/oci), tagged with the image's tag
#   podman, buildah   the Dockerfile with that builder (only when asked for: they pull node:24-trixie-slim)
# By default docker, then scratch. Without a usable builder it says so in one line and exits 1: nothing is
# downloaded in its place.
#   ANCHORAGE_IMAGE          the image name (default anchorage:<package.json version>)
#   ANCHORAGE_IMAGE_BUILDER  use only this builder (docker, scratch, podman or buildah)
#   ANCHORAGE_IMAGE_OCI      where scratch writes the OCI layout
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "${root}/package.json")"
tag="${ANCHORAGE_IMAGE:-anchorage:${version}}"
builders=(docker scratch)
[[ -n "${ANCHORAGE_IMAGE_BUILDER:-}" ]] && builders=("${ANCHORAGE_IMAGE_BUILDER}")
why=()

# The distroless image: buildah FROM scratch, config as the Dockerfile's last stage, into an OCI layout.
scratch() {
  local oci="${ANCHORAGE_IMAGE_OCI:-${root}/.tmp/image/oci}" ref="${tag##*:}"
  [[ "${tag}" == *:* ]] || ref=latest
  mkdir -p "$(dirname "${oci}")"
  local work
  work="$(mktemp -d "$(dirname "${oci}")/.image-build.XXXXXX")"
  local b=(buildah --root "${work}/storage" --runroot "${work}/run" --storage-driver vfs)
  # shellcheck disable=SC2064
  trap "${b[*]} rm --all >/dev/null 2>&1 || true; rm -rf '${work}'" EXIT
  bash "${root}/scripts/image-rootfs.sh" "${work}/stage"
  local c
  c="$("${b[@]}" from --quiet scratch)"
  "${b[@]}" copy --quiet "${c}" "${work}/stage/rootfs/" / >/dev/null
  "${b[@]}" config \
    --env NODE_ENV=production --env NODE_COMPILE_CACHE=/tmp/node-compile-cache \
    --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label org.opencontainers.image.title=anchorage \
    --label "org.opencontainers.image.description=Kubernetes PKI and trust: generate, discover, verify, monitor and distribute certificates." \
    --label org.opencontainers.image.licenses=Apache-2.0 \
    --label "org.opencontainers.image.version=${version}" \
    --label dev.anchorage.sbom=/opt/anchorage/sbom.cdx.json \
    --label "dev.anchorage.node=$(cat "${work}/stage/node-version")" \
    --created-by 'scripts/image.sh: FROM scratch, the files of scripts/image-rootfs.sh' \
    --user 65532:65532 --workingdir /tmp \
    --entrypoint '["node", "/opt/anchorage/bin/anchorage.js"]' --cmd --help \
    --os linux --arch "${arch}" "${c}"
  rm -rf "${oci}"
  "${b[@]}" commit --quiet --timestamp 0 --format oci --disable-compression=false "${c}" "oci:${oci}:${ref}" >/dev/null
  echo "npm run image: built ${tag} as an OCI image layout in ${oci} (reference ${ref}; SBOM inside at /opt/anchorage/sbom.cdx.json)" >&2
}

for b in "${builders[@]}"; do
  case "${b}" in docker | podman | buildah | scratch) ;; *) why+=("${b}: not a builder this script knows (docker, scratch, podman, buildah)"); continue ;; esac
  cmd="${b}"
  [[ "${b}" == scratch ]] && cmd=buildah
  if ! command -v "${cmd}" >/dev/null 2>&1; then why+=("${b}: ${cmd} not installed"); continue; fi
  if [[ "${b}" == docker ]] && ! docker info >/dev/null 2>&1; then why+=("docker: installed, but no daemon answers"); continue; fi
  if [[ "${b}" == scratch ]]; then
    case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) why+=("scratch: $(uname -m) is neither x86_64 nor aarch64"); continue ;; esac
    echo "npm run image: building ${tag} FROM scratch with buildah (no daemon, no registry)" >&2
    scratch
    exit 0
  fi
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
echo "npm run image: no container builder here (${joined//;/; }): install docker with a running daemon or buildah, or build the Dockerfile elsewhere" >&2
exit 1
