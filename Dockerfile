# syntax=docker/dockerfile:1
# The Anchorage image: `npm run image` (scripts/image.sh) builds it with docker, podman or buildah. Without a
# daemon or a registry, `npm run image` builds the same files FROM scratch instead (scripts/image-rootfs.sh).
# Stage 1 builds the npm package exactly as it is published (`npm pack`: compiled dist/, bin/, web/dist,
# deploy/, docs/) and the CycloneDX SBOM of its production dependencies; stage 2 installs that package's
# production dependencies from the lockfile, without the tests and examples they ship (scripts/image-prune.sh:
# ssh2's test fixtures are private keys); the last stage is Node 24 slim with only those files, run as a
# numeric non-root user (what Kubernetes' runAsNonRoot can check).
ARG NODE_IMAGE=node:24-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Every dependency, dev ones included (TypeScript, Vite), without install scripts but for `prepare`'s web build,
# which runs below with prepack.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm pack --pack-destination /out \
 && bash scripts/sbom.sh /out/sbom.cdx.json

FROM ${NODE_IMAGE} AS deps
WORKDIR /opt/anchorage
COPY --from=build /out/anchorage-*.tgz /tmp/
COPY package-lock.json ./
COPY scripts/image-prune.sh /tmp/
RUN tar -xzf /tmp/anchorage-*.tgz --strip-components=1 \
 && npm ci --omit dev --no-audit --no-fund --ignore-scripts \
 && bash /tmp/image-prune.sh node_modules \
 && npm cache clean --force \
 && rm -f package-lock.json

FROM ${NODE_IMAGE}
# Debian's public roots: the bundles controller's default CA set (/usr/share/ca-certificates/mozilla).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx /usr/local/lib/node_modules/corepack /usr/local/bin/corepack /opt/yarn* /usr/local/bin/yarn /usr/local/bin/yarnpkg
COPY --from=deps /opt/anchorage /opt/anchorage
COPY --from=build /out/sbom.cdx.json /opt/anchorage/sbom.cdx.json
ENV NODE_ENV=production NODE_COMPILE_CACHE=/tmp/node-compile-cache
LABEL org.opencontainers.image.title="anchorage" \
      org.opencontainers.image.description="Kubernetes PKI and trust: generate, discover, verify, monitor and distribute certificates." \
      org.opencontainers.image.licenses="Apache-2.0" \
      dev.anchorage.sbom="/opt/anchorage/sbom.cdx.json"
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["node", "/opt/anchorage/bin/anchorage.js"]
CMD ["--help"]
