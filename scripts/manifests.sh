#!/usr/bin/env bash
# `npm run manifests`: deploy/manifests/ for kubectl users, rendered from the chart (deploy/helm/anchorage)
# in namespace anchorage, one file per part; and the chart's copy of the CRDs refreshed from deploy/crds.
#   --check   change nothing; exit 1 naming what is out of date (test/helm.test.ts runs this)
# helm comes from test/helm/build.sh (built once from its Go module, then cached), or $HELM.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chart="${root}/deploy/helm/anchorage"
dest="${root}/deploy/manifests"
check=0
[[ "${1:-}" == --check ]] && check=1
helm="${HELM:-}"
if [[ -z "${helm}" ]]; then helm="$(bash "${root}/test/helm/build.sh" | tail -n1)"; fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
mkdir -p "${work}/manifests" "${work}/crds"
cp "${root}"/deploy/crds/*.yaml "${work}/crds/"

render() { # <file> <helm --set flags...>
  local f="$1"
  shift
  {
    echo "# Rendered from deploy/helm/anchorage by scripts/manifests.sh (npm run manifests): do not edit."
    "${helm}" template anchorage "${chart}" --namespace anchorage "$@"
  } >"${work}/manifests/${f}"
}
off=(--set controller.enabled=false --set crds.install=false)
cat >"${work}/manifests/namespace.yaml" <<'YAML'
# Written by scripts/manifests.sh (npm run manifests): do not edit.
# Every Anchorage pod meets the restricted Pod Security Standard: the namespace enforces it.
apiVersion: v1
kind: Namespace
metadata:
  name: anchorage
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: restricted
YAML
render crds.yaml --set controller.enabled=false
render controller.yaml --set crds.install=false
render webhook.yaml "${off[@]}" --set webhook.enabled=true
render ca-signer.yaml "${off[@]}" --set caSigner.enabled=true --set caSigner.publishNamespace=anchorage
render server.yaml "${off[@]}" --set server.enabled=true --set server.auth.existingSecret=anchorage-server-tokens

stale=()
for f in "${work}"/crds/*.yaml; do
  cmp -s "${f}" "${chart}/files/crds/$(basename "${f}")" || stale+=("deploy/helm/anchorage/files/crds/$(basename "${f}")")
done
for f in "${chart}"/files/crds/*.yaml; do [[ -f "${work}/crds/$(basename "${f}")" ]] || stale+=("deploy/helm/anchorage/files/crds/$(basename "${f}") (not in deploy/crds)"); done
for f in "${work}"/manifests/*.yaml; do
  cmp -s "${f}" "${dest}/$(basename "${f}")" || stale+=("deploy/manifests/$(basename "${f}")")
done
for f in "${dest}"/*.yaml; do [[ -e "${f}" && ! -f "${work}/manifests/$(basename "${f}")" ]] && stale+=("deploy/manifests/$(basename "${f}") (no longer rendered)"); done

if ((check)); then
  if ((${#stale[@]})); then
    echo "out of date (run npm run manifests): ${stale[*]}" >&2
    exit 1
  fi
  echo "deploy/manifests and the chart's CRDs are up to date" >&2
  exit 0
fi
rm -f "${chart}"/files/crds/*.yaml
cp "${work}"/crds/*.yaml "${chart}/files/crds/"
mkdir -p "${dest}"
rm -f "${dest}"/*.yaml
cp "${work}"/manifests/*.yaml "${dest}/"
echo "wrote deploy/manifests/ (${#stale[@]} file(s) changed)" >&2
