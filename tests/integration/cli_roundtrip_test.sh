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

# A librdkafka client (kcat) sees the pathway topics (docs/devbroker.md, "Clients").
metadata=$(timeout 30 kcat -b "$bootstrap" -L) || fail "kcat -L"
for t in inbound commands events rejections deadletter; do
  grep -q "topic \"pathway.$t.v1\" with 2 partitions" <<<"$metadata" || fail "kcat -L lacks pathway.$t.v1: $metadata"
done

"$engine" --bootstrap-servers "$bootstrap" --data-dir "$work/data" --ops-listen 127.0.0.1:0 \
  2>"$work/engine.log" &
engine_pid=$!
pids+=($engine_pid)

"$ctl" publish --bootstrap-servers "$bootstrap" --topic pathway.inbound.v1 \
  "$repo/scripts/demo/referrals.jsonl" 2>"$work/publish.log" || fail "publish"
printf 'not a protobuf envelope\n' >"$work/raw.txt"
"$ctl" publish --raw --bootstrap-servers "$bootstrap" --topic pathway.inbound.v1 "$work/raw.txt" \
  2>>"$work/publish.log" || fail "publish --raw"

"$ctl" tail --bootstrap-servers "$bootstrap" --topic pathway.events.v1 --max 8 --timeout 90 \
  >"$work/events.jsonl" 2>"$work/tail.log" || fail "expected 8 events"
"$ctl" tail --bootstrap-servers "$bootstrap" --topic pathway.rejections.v1 --max 2 --timeout 60 \
  >"$work/rejections.jsonl" 2>>"$work/tail.log" || fail "expected 2 rejections"
"$ctl" tail --bootstrap-servers "$bootstrap" --topic pathway.deadletter.v1 --max 1 --timeout 60 \
  >"$work/dead.jsonl" 2>>"$work/tail.log" || fail "expected 1 dead letter"

[[ $(grep -c '"referralReceived"' "$work/events.jsonl") == 4 ]] || fail "events: $(cat "$work/events.jsonl")"
# The referral published on 2 April keeps the day it was received, 10 March.
grep '"inboundEventId":"demo-0007"' "$work/events.jsonl" |
  grep -q '"receivedOn":{"year":2025,"month":3,"day":10}' || fail "demo-0007 lost its received date"
grep -q '"rule":"nhs_number.modulus11"' "$work/rejections.jsonl" || fail "no modulus 11 rejection"
grep -q '"rule":"date_of_birth.not_in_future"' "$work/rejections.jsonl" || fail "no future-DOB rejection"
grep -q '"deadLettered"' "$work/dead.jsonl" || fail "no dead letter"

# The operations endpoint: ready once assigned, metrics in Prometheus text format.
http_get() { # PATH -> status line and body on stdout (HTTP/1.0 closes the connection)
  exec 3<>"/dev/tcp/127.0.0.1/$ops_port" || return 1
  printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3
  timeout 10 cat <&3
  exec 3<&-
}
ops_port=$(sed -n 's/.*event=ops_listening .*port=\([0-9]*\).*/\1/p' "$work/engine.log" | head -1)
[[ -n $ops_port ]] || fail "no ops_listening line in the engine log"
http_get /health/live | head -1 | grep -q ' 200 ' || fail "/health/live not 200"
http_get /health/ready | head -1 | grep -q ' 200 ' || fail "/health/ready not 200 after processing"
http_get /metrics >"$work/metrics.txt" || fail "GET /metrics"
for metric in pathway_engine_inbound_messages_total pathway_engine_dead_letters_total \
  pathway_engine_command_processing_seconds_bucket pathway_engine_outbox_depth \
  pathway_engine_timers_due pathway_engine_consumer_lag_messages; do
  grep -q "^$metric" "$work/metrics.txt" || fail "/metrics lacks $metric: $(cat "$work/metrics.txt")"
done
http_get /nowhere | head -1 | grep -q ' 404 ' || fail "unknown path not 404"

# Graceful shutdown: SIGTERM, exit 0 within a bound.
kill -TERM "$engine_pid"
timeout 30 tail --pid="$engine_pid" -f /dev/null || fail "engine still running 30 s after SIGTERM"
wait "$engine_pid" || fail "engine exited non-zero"

# No personal data in the engine's logs.
for personal in 9434765919 6541003238 9990000018 Okafor Brennan Kowalczyk "SE1 7PB"; do
  grep -q "$personal" "$work/engine.log" && fail "personal data '$personal' in engine log"
done
echo "cli round trip: 4 referrals received, 2 rejections, 1 dead letter; 1 passed, 0 failed"
