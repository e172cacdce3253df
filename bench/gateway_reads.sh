#!/usr/bin/env bash
# Timeline reads through the gateway (issue 14's target: 10,000 reads/s with p99 under
# 20 ms on this 2-core machine): devbroker, engine (with its query endpoint) and gateway
# as processes, then pathway-readload (bench/gateway/read_load.cc) from the same
# machine. Prints the load tool's JSON line. Everything shares the 2 cores: the
# figure is the whole stack's, load generator included (docs/performance.md).
#   usage: bench/gateway_reads.sh [--build DIR] [--children N] [--connections C] [--seconds S]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$repo/build
load_args=()
while (($#)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --children | --connections | --seconds) load_args+=("$1" "$2"); shift 2 ;;
    *) echo "usage: bench/gateway_reads.sh [--build DIR] [--children N] [--connections C] [--seconds S]" >&2; exit 2 ;;
  esac
done
cmake --build "$build" -j "${PATHWAY_BUILD_JOBS:-$(nproc)}" --target pathway-devbroker \
  pathway-engine pathway-gateway pathway-devtoken pathway-readload >/dev/null
bin=$build/services
work=$(mktemp -d)
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "gateway_reads: $*" >&2; tail -5 "$work"/*.log >&2; exit 1; }

mkfifo "$work/broker.out"
"$bin/devbroker/pathway-devbroker" --partitions 4 >"$work/broker.out" 2>"$work/broker.log" &
pids+=($!)
exec 3<"$work/broker.out"
read -r -t 30 -u 3 first || fail "devbroker did not start"
bootstrap=${first#bootstrap.servers=}
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/query-token")
"$bin/engine/pathway-engine" --bootstrap-servers "$bootstrap" --data-dir "$work/engine" \
  --ops-listen off --log-level warn --query-listen 127.0.0.1:0 \
  --query-token-file "$work/query-token" 2>"$work/engine.log" &
pids+=($!)
"$bin/gateway/pathway-devtoken" init --dir "$work/idp" >/dev/null
"$bin/gateway/pathway-devtoken" sign --dir "$work/idp" --sub bench-1 --role clinician \
  --agency RXX01 --hours 2 >"$work/token"
mkfifo "$work/gateway.out"
"$bin/gateway/pathway-gateway" --bootstrap-servers "$bootstrap" --listen 127.0.0.1:0 \
  --jwks-file "$work/idp/jwks.json" --issuer https://dev.pathway.invalid --audience pathway \
  --engine-token-file "$work/query-token" --rate-per-minute 100000000 --rate-burst 1000000 \
  --log-level warn >"$work/gateway.out" 2>"$work/gateway.log" &
pids+=($!)
exec 4<"$work/gateway.out"
read -r -t 60 -u 4 listening || fail "gateway did not start"
[[ $listening =~ ^listening\ on\ (127\.0\.0\.1:[0-9]+)$ ]] || fail "gateway said: $listening"
"$build/bench/gateway/pathway-readload" --base "http://${BASH_REMATCH[1]}" \
  --token-file "$work/token" "${load_args[@]}"
