#!/usr/bin/env bash
# The shell round trip of issue 2: pathway-devbroker, pathway-engine and pathwayctl
# as separate processes. Publishes the demo referrals and checks what comes out.
# Every wait is bounded (read -t, tail --timeout, wait with a deadline).
set -euo pipefail
devbroker=$1 engine=$2 ctl=$3
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log; do echo "--- $f"; tail -20 "$f"; done >&2; exit 1; }

mkfifo "$work/broker.out"
"$devbroker" --partitions 2 >"$work/broker.out" 2>"$work/broker.log" &
pids+=($!)
exec 3<"$work/broker.out"
read -r -t 30 -u 3 first || fail "devbroker printed nothing within 30 s"
[[ $first =~ ^bootstrap\.servers=127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+)*$ ]] || fail "first line: $first"
bootstrap=${first#bootstrap.servers=}

# Any Kafka client sees the pathway topics (kcat uses librdkafka's metadata request).
metadata=$(timeout 30 kcat -b "$bootstrap" -L) || fail "kcat -L"
for t in inbound commands events rejections deadletter; do
  grep -q "topic \"pathway.$t.v1\" with 2 partitions" <<<"$metadata" || fail "kcat -L lacks pathway.$t.v1: $metadata"
done

"$engine" --bootstrap-servers "$bootstrap" --data-dir "$work/data" 2>"$work/engine.log" &
engine_pid=$!
pids+=($engine_pid)

"$ctl" publish --bootstrap-servers "$bootstrap" --topic pathway.inbound.v1 \
  "$repo/scripts/demo/referrals.jsonl" 2>"$work/publish.log" || fail "publish"
printf 'not a protobuf envelope\n' >"$work/raw.txt"
"$ctl" publish --raw --bootstrap-servers "$bootstrap" --topic pathway.inbound.v1 "$work/raw.txt" \
  2>>"$work/publish.log" || fail "publish --raw"

"$ctl" tail --bootstrap-servers "$bootstrap" --topic pathway.events.v1 --max 6 --timeout 90 \
  >"$work/events.jsonl" 2>"$work/tail.log" || fail "expected 6 events"
"$ctl" tail --bootstrap-servers "$bootstrap" --topic pathway.rejections.v1 --max 2 --timeout 60 \
  >"$work/rejections.jsonl" 2>>"$work/tail.log" || fail "expected 2 rejections"
"$ctl" tail --bootstrap-servers "$bootstrap" --topic pathway.deadletter.v1 --max 1 --timeout 60 \
  >"$work/dead.jsonl" 2>>"$work/tail.log" || fail "expected 1 dead letter"

[[ $(grep -c '"referralReceived"' "$work/events.jsonl") == 3 ]] || fail "events: $(cat "$work/events.jsonl")"
grep -q '"rule":"nhs_number.modulus11"' "$work/rejections.jsonl" || fail "no modulus 11 rejection"
grep -q '"rule":"date_of_birth.not_in_future"' "$work/rejections.jsonl" || fail "no future-DOB rejection"
grep -q '"deadLettered"' "$work/dead.jsonl" || fail "no dead letter"

# Graceful shutdown: SIGTERM, exit 0 within a bound.
kill -TERM "$engine_pid"
timeout 30 tail --pid="$engine_pid" -f /dev/null || fail "engine still running 30 s after SIGTERM"
wait "$engine_pid" || fail "engine exited non-zero"

# No personal data in the engine's logs.
for personal in 9434765919 6541003238 Okafor Brennan "SE1 7PB"; do
  grep -q "$personal" "$work/engine.log" && fail "personal data '$personal' in engine log"
done
echo "cli round trip: 3 events, 2 rejections, 1 dead letter; 1 passed, 0 failed"
