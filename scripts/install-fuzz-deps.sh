#!/usr/bin/env bash
# Installs what the libFuzzer build needs beyond scripts/install-deps.sh, from Debian 12
# packages: clang 14 and its runtime libraries (libFuzzer, ASan, UBSan live in
# libclang-rt-14-dev). Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail
exec bash "$(dirname "$0")/install-deps.sh" clang libclang-rt-14-dev
