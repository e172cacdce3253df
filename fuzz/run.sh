#!/usr/bin/env bash
# Builds the libFuzzer targets (scripts/build.sh fuzz -> build-fuzz/), replays every
# saved crash in fuzz/regressions/<target>/, then fuzzes each target for a bounded time
# from seeds made from the test histories. Any crash, leak, timeout or sanitizer report
# fails the script; the input is saved under build-fuzz/artifacts/<target>/.
#   usage: fuzz/run.sh [SECONDS_PER_TARGET]     (default 30; docs/fuzzing.md)
#   env:   PATHWAY_FUZZ_NO_BUILD=1 uses build-fuzz/ as it is
#          PATHWAY_FUZZ_CORPUS=DIR keeps each target's corpus in DIR/<target> across runs
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
seconds=${1:-30}
targets=(intake_fuzz json_fuzz decide_fuzz)
build=$repo/build-fuzz

if [[ ${PATHWAY_FUZZ_NO_BUILD:-0} != 1 ]]; then
  bash scripts/build.sh fuzz
fi

# Seeds: regenerated each run from the histories (small, nothing committed).
seeds=$build/seeds
rm -rf "$seeds"
"$build/fuzz/fuzz_make_seeds" "$seeds" tests/workflow/histories/*.jsonl scripts/demo/*.jsonl

corpus_root=${PATHWAY_FUZZ_CORPUS:-$build/corpus}
artifacts=$build/artifacts
logs=$build/logs
mkdir -p "$artifacts" "$logs"
# A crash aborts (ASan/UBSan findings too); leaks are checked at the end of each input.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
common=(-timeout=5 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1)

failed=0
report() {  # target, log, what
  echo "fuzz: $1 FAILED ($3); log $2, inputs under $artifacts/$1/" >&2
  grep -E "ERROR: |SUMMARY: |invariant broken|runtime error|Test unit written" "$2" | head -20 >&2 || true
  failed=1
}

for t in "${targets[@]}"; do
  bin=$build/fuzz/$t
  mkdir -p "$artifacts/$t" "$corpus_root/$t"
  # 1. Every input that once crashed must now pass (file arguments: each run once).
  regressions=$repo/fuzz/regressions/$t
  mapfile -t saved < <(find "$regressions" -type f 2>/dev/null | sort)
  if ((${#saved[@]} > 0)); then
    if ! "$bin" "${common[@]}" "${saved[@]}" >"$logs/$t.regressions.log" 2>&1; then
      report "$t" "$logs/$t.regressions.log" "a saved regression input crashes again"
      continue
    fi
  fi
  # 2. A bounded run over the seeds (and the regressions, as extra corpus).
  extra=()
  [[ -d $regressions ]] && extra+=("$regressions")
  dict=()
  [[ $t == json_fuzz ]] && dict=(-dict="$seeds/json.dict")
  start=$SECONDS
  if ! "$bin" "${common[@]}" "${dict[@]}" -max_total_time="$seconds" -artifact_prefix="$artifacts/$t/" \
    "$corpus_root/$t" "$seeds/$t" "${extra[@]}" >"$logs/$t.log" 2>&1; then
    report "$t" "$logs/$t.log" "crash found"
    continue
  fi
  runs=$(grep -oE "stat::number_of_executed_units: [0-9]+" "$logs/$t.log" | grep -oE "[0-9]+$" || echo "?")
  cov=$(grep -oE "cov: [0-9]+" "$logs/$t.log" | tail -1 || true)
  echo "fuzz: $t ok: ${#saved[@]} regressions replayed, $runs runs in $((SECONDS - start)) s, $cov"
done
exit $failed
