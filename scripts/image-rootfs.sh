#!/usr/bin/env bash
# `scripts/image-rootfs.sh DIR`: the root filesystem of the distroless image that `npm run image` commits
# `FROM scratch` when no docker daemon answers (scripts/image.sh), staged in DIR/rootfs without a registry:
#   /usr/local/bin/node       Node 24: the official Linux binary the `node` npm package (a devDependency) installs
#   /lib/x86_64-linux-gnu/…   only the shared libraries that binary needs (ldd), from this machine's Debian, and
#   /var/lib/dpkg/status      their Debian packages' stanzas (so scanners and `anchorage` see what the image holds)
#   /usr/share/ca-certificates/mozilla, /etc/ssl/certs/ca-certificates.crt   Debian's public roots (the bundles
#                             controller's default CA set, as in the Dockerfile's image)
#   /etc/passwd, /etc/group   root and the non-root user `nonroot` (65532:65532) the image runs as
#   /opt/anchorage            the npm package exactly as `npm pack` makes it (compiled dist/, bin/, web/dist,
#                             deploy/, docs/), its production dependencies (`npm ci --omit dev` from the
#                             lockfile, without their tests: scripts/image-prune.sh) and sbom.cdx.json
#                             (scripts/sbom.sh)
# The same files as the Dockerfile's last stage, but for Debian's /bin, /usr/bin (no shell, no apt, no dpkg) and
# node's headers. Every file is owned by root; the package is built in a copy of the sources (what .dockerignore
# lets into the Dockerfile's context), so the checkout's dist/ and web/dist are left alone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -eq 1 ]] || { echo "usage: scripts/image-rootfs.sh DIR" >&2; exit 2; }
out="$1"
mkdir -p "${out}"
out="$(cd "${out}" && pwd)"
fs="${out}/rootfs"
rm -rf "${fs}" "${out}/src" "${out}/pack"
mkdir -p "${fs}" "${out}/src" "${out}/pack"

node_bin="$(readlink -f "${root}/node_modules/node/bin/node" 2>/dev/null || true)"
[[ -x "${node_bin}" ]] || { echo "image-rootfs: no Node binary at node_modules/node/bin/node (run npm ci first)" >&2; exit 1; }
node_version="$("${node_bin}" --version)"
[[ "${node_version}" == v24.* ]] || { echo "image-rootfs: node_modules/node is ${node_version}, not Node 24" >&2; exit 1; }

# 1. The npm package, packed from a copy of the sources: .dockerignore's list, with the checkout's node_modules.
(cd "${root}" && tar -cf - --exclude='*.test.ts' --exclude=web/dist --exclude=web/node_modules \
  package.json package-lock.json tsconfig.json tsconfig.build.json bin src web deploy docs LICENSE README.md \
  scripts/build-cli.ts) | tar -C "${out}/src" -xf -
ln -s "${root}/node_modules" "${out}/src/node_modules"
(cd "${out}/src" && PATH="${root}/node_modules/.bin:${PATH}" npm pack --silent --pack-destination "${out}/pack" >/dev/null)
app="${fs}/opt/anchorage"
mkdir -p "${app}"
tar -C "${app}" -xzf "${out}"/pack/anchorage-*.tgz --strip-components=1 --no-same-owner
# 2. Its production dependencies, from the lockfile (as the Dockerfile's second stage), and their SBOM.
cp "${root}/package-lock.json" "${app}/"
(cd "${app}" && npm ci --omit dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null)
rm -f "${app}/package-lock.json"
bash "${root}/scripts/image-prune.sh" "${app}/node_modules" # the packages' own tests and examples (ssh2's test keys)
bash "${root}/scripts/sbom.sh" "${app}/sbom.cdx.json" 2>/dev/null

# 3. Node and the shared libraries it links (ldd's resolved paths, kept at those paths; the loader at its own).
install -D -m 0755 "${node_bin}" "${fs}/usr/local/bin/node"
libs=()
while read -r lib; do libs+=("${lib}"); done < <(ldd "${node_bin}" | sed -n 's/^[[:space:]]*\([^ ]*\) => \(\/[^ ]*\) .*/\2/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
for lib in "${libs[@]}"; do install -D -m 0755 "$(readlink -f "${lib}")" "${fs}${lib}"; done
# Their Debian packages' dpkg stanzas (and ca-certificates'), as distroless images carry them.
pkgs=(ca-certificates)
for lib in "${libs[@]}"; do
  p="$(dpkg -S "$(readlink -f "${lib}")" 2>/dev/null || dpkg -S "${lib}" 2>/dev/null || true)"
  [[ -n "${p}" ]] && pkgs+=("${p%%:*}")
done
mkdir -p "${fs}/var/lib/dpkg"
for p in $(printf '%s\n' "${pkgs[@]}" | sort -u); do
  dpkg-query -s "${p}" | grep -v '^Conffiles:\|^ /' # a stanza without its conffiles' list
  echo
done >"${fs}/var/lib/dpkg/status"
install -D -m 0644 /etc/os-release "${fs}/etc/os-release"

# 4. Debian's public roots: one file per CA (what src/bundles/defaults.ts reads) and the concatenation OpenSSL reads.
[[ -d /usr/share/ca-certificates/mozilla ]] || { echo "image-rootfs: /usr/share/ca-certificates/mozilla missing (Debian's ca-certificates package)" >&2; exit 1; }
mkdir -p "${fs}/usr/share/ca-certificates" "${fs}/etc/ssl/certs"
cp -a /usr/share/ca-certificates/mozilla "${fs}/usr/share/ca-certificates/"
cat /usr/share/ca-certificates/mozilla/*.crt >"${fs}/etc/ssl/certs/ca-certificates.crt"

# 5. Users, name resolution, a world-writable /tmp (a read-only root gets an emptyDir there).
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"${fs}/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"${fs}/etc/group"
printf 'hosts: files dns\n' >"${fs}/etc/nsswitch.conf"
mkdir -p "${fs}/tmp" "${fs}/home/nonroot" "${fs}/root" "${fs}/proc" "${fs}/dev" "${fs}/sys"
chmod 1777 "${fs}/tmp"
chmod 0700 "${fs}/root"
chown 65532:65532 "${fs}/home/nonroot"
chmod -R u+w,go-w "${fs}/opt" "${fs}/usr" "${fs}/etc"
chown -R 0:0 "${fs}/opt" "${fs}/usr" "${fs}/etc" "${fs}/lib" "${fs}/lib64" "${fs}/var"
rm -rf "${out}/src" "${out}/pack"
echo "${node_version}" >"${out}/node-version"
