# Sourced (never run) by every script that builds Go for the tests and the benchmarks: test/k8s/build.sh,
# test/k8s/update-pins.sh, test/helm/build.sh, test/zlint/build.sh, test/support/go-build.sh,
# bench/go/build.sh and bench/stepca/build.sh. Sets cache_root, puts Go on PATH when a non-login shell
# lacks it (the machine installs it in /usr/local/go), and shares one module cache and one build cache
# between them all; builds are static (CGO_ENABLED=0) for this machine (GOOS/GOARCH unset). A caller may
# change a variable after sourcing (step-ca's `go install pkg@version` takes no -mod flag).
# Every caller runs with these already; said again so this file holds to test/ci.test.ts's rule.
set -euo pipefail
cache_root="${ANCHORAGE_CACHE:-${HOME:?neither ANCHORAGE_CACHE nor HOME is set}/.cache/anchorage}"
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then PATH="/usr/local/go/bin:${PATH}"; fi
command -v go >/dev/null 2>&1 || { echo "${0##*/}: go is not on PATH (nor in /usr/local/go/bin)" >&2; exit 1; }
export PATH
export GOMODCACHE="${cache_root}/gomod"
export GOCACHE="${cache_root}/gocache"
export GOFLAGS="-mod=mod -modcacherw" # -modcacherw: the cache root can be removed with rm -rf
export GOWORK=off
export CGO_ENABLED=0
unset GOOS GOARCH GOBIN GOEXPERIMENT || true
