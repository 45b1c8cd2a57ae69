#!/usr/bin/env bash
# Build (once) the Go oracle used by the trust tests and print the binary's path (last stdout line).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../support/go-build.sh" "$(dirname "${BASH_SOURCE[0]}")" go-oracle
