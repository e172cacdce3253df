#!/usr/bin/env bash
# Installs what the libFuzzer build needs beyond scripts/install-deps.sh, from Debian 12
# packages: clang 14 and its runtime libraries (libFuzzer, ASan, UBSan live in
# libclang-rt-14-dev). Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(clang libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) != 0 ]]; then sudo="sudo"; fi
echo "install-fuzz-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
