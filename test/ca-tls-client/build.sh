#!/usr/bin/env bash
# Build (once) the Go TLS client used by test/ca-serve-reload.test.ts and print the binary's path (last stdout line).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../support/go-build.sh" "$(dirname "${BASH_SOURCE[0]}")" ca-tls-client
