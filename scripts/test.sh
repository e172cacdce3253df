#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing,
# checks formatting, builds and runs every test (unit, embedded mock broker, real
# Apache Kafka; among the unit tests buf lint and buf breaking on proto/), then the
# web app's browser tests (label browser: Debian's chromium),
# then builds with ASan+UBSan and runs the unit and mock tests again,
# then builds the libFuzzer targets with clang and fuzzes each for a bounded time
# (replaying every saved crash first; docs/fuzzing.md).
#   usage: scripts/test.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

bash scripts/install-deps.sh
bash scripts/install-fuzz-deps.sh  # clang and libFuzzer, for the fuzz stage
# node and npm: buf (tools/buf, npm ci) lints and checks the public schema in the unit
# tests (proto.buf_lint, proto.buf_breaking); the browser stage needs them too.
bash scripts/install-web-deps.sh
# The real-Kafka tests need Java and the Kafka jars; fetched before the clock starts.
bash scripts/kafka.sh fetch

echo "== format check (clang-format, .clang-format)"
mapfile -t sources < <(git ls-files '*.h' '*.cc')
clang-format --dry-run --Werror "${sources[@]}"

echo "== release build (build/: CMAKE_BUILD_TYPE=Release, -O3, warnings as errors)"
bash scripts/build.sh release
echo "== tests: unit, mock broker, real Kafka"
ctest --test-dir build --output-on-failure -j 2 --timeout 600 -LE browser

echo "== browser tests: the web app in Debian's chromium (playwright-core, axe-core)"
bash scripts/install-web-deps.sh --browser
ctest --test-dir build --output-on-failure --timeout 900 -L browser

echo "== sanitizer build (ASan + UBSan)"
bash scripts/build.sh asan
echo "== tests under sanitizers: unit and mock broker"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  LSAN_OPTIONS=suppressions=$repo/tests/lsan.supp \
  ctest --test-dir build-asan --output-on-failure -j 2 --timeout 900 -LE 'kafka|browser'

fuzz_seconds=${PATHWAY_FUZZ_SECONDS:-30}
echo "== fuzz (libFuzzer, ${fuzz_seconds} s per target)"
fuzz_start=$SECONDS
bash fuzz/run.sh "$fuzz_seconds"
echo "== fuzz done in $((SECONDS - fuzz_start)) s (build, seeds, regressions, bounded runs)"
