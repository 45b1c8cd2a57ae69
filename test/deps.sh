#!/usr/bin/env bash
# Installs the real peers the tests use as oracles (openssl, Java keytool) when the machine lacks them.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v keytool >/dev/null || need+=(default-jre-headless)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v certbot >/dev/null || need+=(certbot)
# Debian's public roots: the bundles controller's default CA set (test/bundles*.test.ts).
[ -d /usr/share/ca-certificates/mozilla ] || need+=(ca-certificates)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test dependencies: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
