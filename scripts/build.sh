#!/usr/bin/env bash
# Configures and builds pathway.  usage: scripts/build.sh [release|asan]
#   release -> build/       (RelWithDebInfo, warnings as errors)
#   asan    -> build-asan/  (AddressSanitizer + UndefinedBehaviorSanitizer)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-release}
case $kind in
  release) dir=$repo/build; flags=() ;;
  asan) dir=$repo/build-asan; flags=(-DPATHWAY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
  *) echo "usage: scripts/build.sh [release|asan]" >&2; exit 2 ;;
esac
jobs=${PATHWAY_BUILD_JOBS:-$(nproc)}
cmake -S "$repo" -B "$dir" -G Ninja "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$jobs"
