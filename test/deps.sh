#!/usr/bin/env bash
# Installs the real peers the tests use as oracles (openssl, Java keytool) and the nodes' OpenSSH servers
# (test/support/sshd.ts: sshd in network namespaces) when the machine lacks them.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v keytool >/dev/null || need+=(default-jre-headless)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v certbot >/dev/null || need+=(certbot)
command -v lego >/dev/null || need+=(lego) # an ACME client with tls-alpn-01 (test/ca-acme.test.ts)
# Debian's public roots: the bundles controller's default CA set (test/bundles*.test.ts).
[ -d /usr/share/ca-certificates/mozilla ] || need+=(ca-certificates)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v ip >/dev/null || need+=(iproute2)
command -v sudo >/dev/null || need+=(sudo) # nodes logged into as a user who becomes root (test/nodes.test.ts)
command -v unshare >/dev/null || need+=(util-linux)
command -v promtool >/dev/null || need+=(prometheus) # promtool and a real Prometheus (test/serve-prometheus.test.ts)
command -v chromium >/dev/null || need+=(chromium) # Debian's Chromium: playwright-core drives the dashboard (test/ui*.test.ts)
command -v tmux >/dev/null || need+=(tmux) # a real terminal for the TUI (test/tui*.test.ts)
[ -x /usr/bin/time ] || need+=(time) # GNU time: peak RSS of a child (test/streaming.test.ts)
# The container image without a daemon or a registry: buildah commits it FROM scratch, runc runs it (test/image.test.ts).
command -v buildah >/dev/null || need+=(buildah)
command -v runc >/dev/null || need+=(runc)
command -v tinyproxy >/dev/null || need+=(tinyproxy) # an HTTP CONNECT proxy for kubeconfig proxy-url (test/kube-proxy.test.ts)
# SoftHSM's PKCS#11 token and OpenSC's pkcs11-tool, which reads it independently (test/ca-pkcs11.test.ts).
compgen -G '/usr/lib/*softhsm/libsofthsm2.so' >/dev/null || compgen -G '/usr/lib/*/softhsm/libsofthsm2.so' >/dev/null || need+=(softhsm2)
command -v pkcs11-tool >/dev/null || need+=(opensc)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test dependencies: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${need[@]}" >/dev/null
fi
# pkcs11js (optionalDependency, a native addon) is built by npm with the machine's C++ compiler: when npm ran
# before a compiler was there, it is built now (PKCS#11 key stores, docs/ca.md).
if [ -f node_modules/pkcs11js/package.json ] && [ ! -f node_modules/pkcs11js/build/Release/pkcs11.node ]; then
  command -v g++ >/dev/null && command -v make >/dev/null || {
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq g++ make python3 >/dev/null
  }
  npm rebuild pkcs11js >/dev/null
fi
