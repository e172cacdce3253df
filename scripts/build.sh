#!/usr/bin/env bash
# Configures and builds pathway.  usage: scripts/build.sh [release|asan|fuzz]
#   release -> build/       (Release: -O3, no debug info, asserts off; warnings as errors,
#                            so the tests run what a user's Release build compiles)
#   asan    -> build-asan/  (AddressSanitizer + UndefinedBehaviorSanitizer)
#   fuzz    -> build-fuzz/  (clang, libFuzzer + ASan + UBSan: only the targets in fuzz/
#                            and the libraries they link; docs/fuzzing.md)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-release}
case $kind in
  release) dir=$repo/build; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) dir=$repo/build-asan; flags=(-DPATHWAY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
  fuzz)
    bash "$repo/scripts/install-fuzz-deps.sh"
    export CC=clang CXX=clang++
    dir=$repo/build-fuzz; flags=(-DPATHWAY_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  *) echo "usage: scripts/build.sh [release|asan|fuzz]" >&2; exit 2 ;;
esac
jobs=${PATHWAY_BUILD_JOBS:-$(nproc)}
cmake -S "$repo" -B "$dir" -G Ninja "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$jobs"
