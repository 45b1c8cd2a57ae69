#!/usr/bin/env bash
# `scripts/image-prune.sh PATH/node_modules`: remove the tests and examples npm packages ship: every folder
# named test, tests or __tests__, a package's own example, examples, spec and specs folders, and *.test.* and
# *.spec.* files. Nothing loads them at run time; they hold private keys (ssh2's test fixtures) and test files
# that have no place in the image. Both image builds run it on the production tree (the Dockerfile's deps
# stage, scripts/image-rootfs.sh). bash and GNU find only: it runs in node:24-trixie-slim as well.
set -euo pipefail
[ $# -eq 1 ] && [ -d "$1" ] && [ "$(basename "$1")" = node_modules ] || { echo "usage: scripts/image-prune.sh PATH/node_modules" >&2; exit 2; }
find "$1" -regextype posix-extended \( \
  \( -type d \( -name test -o -name tests -o -name __tests__ \) \) -o \
  \( -type d -regex '(.*/)?node_modules/(@[^/]+/)?[^/@][^/]*/(examples?|specs?)' \) -o \
  \( -type f -regex '.*/[^/]+\.(test|spec)\.[cm]?[jt]sx?' \) \
  \) -prune -exec rm -rf {} +
