#!/usr/bin/env bash
# Build (once) the cel-go oracle used by test/ca-cel.test.ts and print the binary's path (last stdout line).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../support/go-build.sh" "$(dirname "${BASH_SOURCE[0]}")" ca-cel-oracle
