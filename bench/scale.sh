#!/usr/bin/env bash
# "1,000,000 children in state" (issue 13): fills an engine data directory with C
# children's state (pathway-statefill: the EHC history's first K commands each,
# decided by the engine's own functions), starts the embedded broker and
# pathway-engine on it, and measures
#   - restart to ready: from starting the process to /health/ready answering 200,
#   - the engine's RSS when ready, and its peak RSS after it processed N more commands
#     for children drawn from the whole population (each a read of a case on disk).
# Prints one JSON line. The engine runs on a fixed clock (the day after the last
# filled command) so the filled deadlines are not all due at once.
# --broker mock (default) runs the embedded broker, whose group coordinator holds a new
# group's first join for about 3 s (librdkafka's mock emulates Kafka's default
# group.initial.rebalance.delay.ms and cannot be told otherwise); --broker kafka runs
# a 1-node Apache Kafka (scripts/kafka.sh, that delay 0 as production sets it).
#   usage: bench/scale.sh [--children C] [--commands K] [--touch N] [--build DIR]
#                         [--broker mock|kafka] [--keep DIR (reuse a filled data directory)]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
children=200000
commands=3
touch=20000
build=$repo/build
keep=""
broker=mock
while (($#)); do
  case $1 in
    --children) children=$2; shift 2 ;;
    --commands) commands=$2; shift 2 ;;
    --touch) touch=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --broker) broker=$2; shift 2 ;;
    *) echo "usage: bench/scale.sh [--children C] [--commands K] [--touch N] [--build DIR] [--broker mock|kafka] [--keep DIR]" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d)
data=${keep:-$work/data}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ $broker == kafka ]] && bash "$repo/scripts/kafka.sh" stop --dir "$work/kafka" >/dev/null 2>&1 || true
  [[ -n ${PATHWAY_SCALE_KEEP_LOGS:-} ]] && cp "$work"/*.log /tmp/ 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT

log() { echo "scale: $*" >&2; }
if [[ -z $keep || ! -d $keep/state ]]; then
  log "filling $children children ($commands commands each) into $data"
  fill=$("$build/bench/scale/pathway-statefill" --data-dir "$data" --children "$children" \
    --commands "$commands" --touch-file "$data/touch.jsonl" --touch "$touch")
else
  fill='{"reused":true}'
fi
log "fill: $fill"
state_bytes=$(du -sb "$data/state" | cut -f1)

if [[ $broker == kafka ]]; then
  line=$(bash "$repo/scripts/kafka.sh" start --dir "$work/kafka" 2>"$work/broker.log")
  bootstrap=${line#bootstrap.servers=}
  # services/topics.h; compaction does not matter for a restart.
  bash "$repo/scripts/kafka.sh" create-topics --dir "$work/kafka" --partitions 8 \
    pathway.inbound.v1 pathway.commands.v1 pathway.events.v1 pathway.rejections.v1 \
    pathway.deadletter.v1 pathway.audit.v1 pathway.engine.cases.changelog \
    pathway.engine.members.v1 >>"$work/broker.log" 2>&1
else
  mkfifo "$work/broker.out"
  "$build/services/devbroker/pathway-devbroker" --partitions 8 >"$work/broker.out" 2>"$work/broker.log" &
  pids+=($!)
  exec 3<"$work/broker.out"
  read -r -t 30 -u 3 line || { echo "scale: pathway-devbroker did not start" >&2; exit 1; }
  bootstrap=${line#bootstrap.servers=}
fi

port=$((20000 + RANDOM % 20000))
get() {  # GET path -> status line and body on stdout (no curl needed)
  exec 5<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$1" >&5
  cat <&5
  exec 5<&-
}
now_ms() { date +%s%3N; }
start=$(now_ms)
"$build/services/engine/pathway-engine" --bootstrap-servers "$bootstrap" --data-dir "$data" \
  --ops-listen "127.0.0.1:$port" --fixed-clock 2025-02-11T12:00:00Z --log-level warn \
  2>"$work/engine.log" &
engine=$!
pids+=("$engine")
ready_ms=""
for _ in $(seq 1 1200); do  # bounded: 120 s
  if get /health/ready 2>/dev/null | head -1 | grep -q " 200"; then ready_ms=$(($(now_ms) - start)); break; fi
  kill -0 "$engine" 2>/dev/null || { echo "scale: the engine exited; see below" >&2; tail "$work/engine.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n $ready_ms ]] || { echo "scale: the engine was not ready within 120 s" >&2; exit 1; }
rss_kb() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$engine/status"; }
ready_rss=$(rss_kb VmRSS)
log "ready in ${ready_ms} ms, RSS $((ready_rss / 1024)) MiB"

metric() { get /metrics 2>/dev/null | awk -v m="$1" '$1 == m {print $2}' | head -1; }
touched=0
touch_s=null
if [[ -s $data/touch.jsonl ]]; then
  sent=$(wc -l <"$data/touch.jsonl")
  t0=$(now_ms)
  "$build/services/pathwayctl/pathwayctl" publish --bootstrap-servers "$bootstrap" \
    --topic pathway.inbound.v1 "$data/touch.jsonl" >/dev/null 2>"$work/publish.log"
  for _ in $(seq 1 3000); do  # bounded: 300 s
    touched=$(metric pathway_engine_commands_total); touched=${touched%.*}
    ((${touched:-0} >= sent)) && break
    sleep 0.1
  done
  touch_s=$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN {printf "%.1f", ms / 1000}')
  log "processed ${touched:-0} of $sent commands on the full store in ${touch_s} s"
fi
peak_rss=$(rss_kb VmHWM)
kill -TERM "$engine"
wait "$engine" 2>/dev/null || true
printf '{"children":%s,"state_bytes":%s,"restart_to_ready_ms":%s,"ready_rss_mb":%s,"commands_on_full_store":%s,"seconds":%s,"peak_rss_mb":%s,"fill":%s}\n' \
  "$children" "$state_bytes" "$ready_ms" "$((ready_rss / 1024))" "${touched:-0}" "$touch_s" \
  "$((peak_rss / 1024))" "$fill"
