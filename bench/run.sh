#!/usr/bin/env bash
# The standard performance set of issue 13, in under 10 minutes on 2 cores: builds
# what it needs (Release), runs each benchmark once and prints every target with the
# figure measured beside it. Figures are single runs on whatever else the machine is
# doing: compare runs as ratios taken in one go (docs/performance.md).
#   usage: bench/run.sh [--full] [--build DIR]
#     --full   also the 100,000-children engine run on real Kafka and 1,000,000
#              children in state (each several minutes to tens of minutes)
# Needs Java and the Kafka jars for the real-Kafka runs: fetched by scripts/kafka.sh.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
full=0
build=$repo/build
while (($#)); do
  case $1 in
    --full) full=1; shift ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: bench/run.sh [--full] [--build DIR]" >&2; exit 2 ;;
  esac
done
cd "$repo"
bash scripts/install-deps.sh
bash scripts/kafka.sh fetch >/dev/null
# Release unless the build directory was configured already (scripts/build.sh release).
type=(-DCMAKE_BUILD_TYPE=Release)
[[ -f $build/CMakeCache.txt ]] && type=()
cmake -S "$repo" -B "$build" -G Ninja "${type[@]}" >/dev/null
cmake --build "$build" -j "${PATHWAY_BUILD_JOBS:-$(nproc)}" --target pathway_micro_bench \
  pathway-loadgen pathway-engine pathway-devbroker pathwayctl pathway-statefill >/dev/null
out=$(mktemp -d)
echo "bench: results in $out" >&2
lg=$build/bench/loadgen/pathway-loadgen

# The first number after "KEY": in a JSON line (the first match: top level when the
# key is unique there).
num() { grep -o "\"$2\":[-0-9.]*" <<<"$1" | head -1 | cut -d: -f2; }
rows=()
row() { rows+=("$(printf '%-58s | %-16s | %-22s | %s' "$1" "$2" "$3" "$4")"); }
verdict() {  # measured target cmp(ge|le) -> met / missed by
  awk -v m="$1" -v t="$2" -v c="$3" 'BEGIN {
    if (m == "") { print "not measured"; exit }
    ok = (c == "ge") ? (m >= t) : (m <= t)
    if (ok) print "met"; else if (c == "ge") printf "missed (%.0f%% of it)\n", 100 * m / t;
    else printf "missed (%.1fx it)\n", m / t }'
}

echo "== decide alone (micro-benchmark, one core)" >&2
"$build/bench/micro/pathway_micro_bench" --benchmark_filter='^BM_DecideEhcHistory$' \
  --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_format=json >"$out/micro.json" 2>/dev/null
decide=$(grep -A20 '"BM_DecideEhcHistory_median"' "$out/micro.json" | grep -o '"items_per_second": [0-9.e+]*' |
  head -1 | awk '{printf "%.0f", $2}')
row "decide alone: commands/s on one core" ">= 200,000" "$decide" "$(verdict "$decide" 200000 ge)"

echo "== engine and raw pipe, 2,000 children x 13 EHC commands, embedded broker" >&2
compare=$("$lg" --scenario ehc --children 2000 --publish-first --broker mock --compare \
  --engine-clock stream 2>"$out/compare.log")
echo "$compare" >"$out/compare.json"
engine=$(num "$compare" commands_per_s_after_first_result)
ratio=$(grep -o '"engine_vs_raw_pipe":[0-9.]*' <<<"$compare" | cut -d: -f2)
row "engine, 2,000 children (mock): commands/s" ">= 25,000" "$engine" "$(verdict "$engine" 25000 ge)"
row "engine / raw pipe, same run (mock)" ">= 0.5" "$ratio" "$(verdict "$ratio" 0.5 ge)"
row "engine peak RSS, 2,000 children (MB)" "(reported)" "$(num "$compare" engine_peak_rss_mb)" ""

echo "== latency at 1,000 commands/s, real Kafka" >&2
# --compare: the raw pipe at the same rate first, the floor this machine's Kafka sets.
latency=$("$lg" --scenario mixed --children 2000 --rate 1000 --broker kafka --compare \
  --engine-clock stream 2>"$out/latency.log")
echo "$latency" >"$out/latency.json"
engine_latency=${latency%%\"raw_pipe\":*}
raw_latency=${latency#*\"raw_pipe\":}
p99=$(num "$engine_latency" p99)
row "end-to-end latency p99 at 1,000/s (ms, real Kafka)" "<= 10" "$p99" "$(verdict "$p99" 10 le)"
row "end-to-end latency p50 at 1,000/s (ms, real Kafka)" "(reported)" "$(num "$engine_latency" p50)" ""
row "raw pipe latency p50 / p99 at 1,000/s (ms, same run)" "(the floor)" \
  "$(num "$raw_latency" p50) / $(num "$raw_latency" p99)" ""

children=100000
((full)) && children=1000000
echo "== $children children in state: restart to ready and RSS" >&2
# On real Kafka, as in production: the mock's group coordinator holds a new group's
# first join for about 3 s whatever the engine does (bench/scale.sh).
scale=$(bash bench/scale.sh --children "$children" --build "$build" --broker kafka \
  2>"$out/scale.log")
echo "$scale" >"$out/scale.json"
ready=$(num "$scale" restart_to_ready_ms)
rss=$(num "$scale" peak_rss_mb)
row "restart to ready, $children children in state (ms, real Kafka)" "<= 5,000 (1M)" "$ready" "$(verdict "$ready" 5000 le)"
row "engine peak RSS, $children children in state (MB)" "<= 1,024 (1M)" "$rss" "$(verdict "$rss" 1024 le)"

if ((full)); then
  echo "== engine, 100,000 children x 13 EHC commands, real Kafka" >&2
  big=$("$lg" --scenario ehc --children 100000 --publish-first --broker kafka --compare \
    --engine-clock stream --timeout 3600 2>"$out/big.log")
  echo "$big" >"$out/big.json"
  e=$(num "$big" commands_per_s_after_first_result)
  r=$(grep -o '"engine_vs_raw_pipe":[0-9.]*' <<<"$big" | cut -d: -f2)
  row "engine, 100,000 children (real Kafka): commands/s" ">= 25,000" "$e" "$(verdict "$e" 25000 ge)"
  row "engine / raw pipe, same run (real Kafka)" ">= 0.5" "$r" "$(verdict "$r" 0.5 ge)"
else
  row "engine, 100,000 children (real Kafka)" ">= 25,000" "-" "run with --full"
fi

printf '\n%-58s | %-16s | %-22s | %s\n' "target (issue 13)" "target" "measured" "verdict"
printf '%s\n' "$(printf -- '-%.0s' {1..120})"
printf '%s\n' "${rows[@]}"
echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw JSON: $out"
