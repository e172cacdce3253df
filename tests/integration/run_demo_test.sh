#!/usr/bin/env bash
# scripts/run.sh --kafka KAFKA --exit-after-demo, as the README tells a developer to run
# it, on the binaries of BUILD-DIR (--no-build: nothing is installed or rebuilt). Checks
# that the demo shows what it promises on that broker and that, once it has exited, no
# process it started is left (the engine, the gateway, pathway-devbroker or Kafka's JVM).
#
#   run_demo_test.sh BUILD-DIR mock|real
#
# With real, scripts/kafka.sh starts one Kafka node on the first free ports from 29092
# (never the tests' clusters from 19092) under the test's own directory. Bounded: run.sh
# gets SIGTERM after 300 s (it then stops what it started), SIGKILL 60 s later.
set -euo pipefail
build=${1:?usage: run_demo_test.sh BUILD-DIR mock|real} kafka=${2:?mock or real}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
run=$work/run
run_pid=""
cleanup() {
  if [[ -n $run_pid ]]; then kill -KILL "$run_pid" 2>/dev/null || true; fi
  # Only if run.sh could not stop it itself (it was killed): never leave a JVM behind.
  if [[ -f $run/kafka/cluster.env ]]; then bash "$repo/scripts/kafka.sh" stop --dir "$run/kafka" 2>/dev/null || true; fi
  [[ -n ${KEEP_WORK:-} ]] || rm -rf "$work"  # KEEP_WORK=1: keep the logs to look at
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- run.sh output (last 60 lines)" >&2
  tail -60 "$work/run.out" >&2 || true
  for f in "$run"/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -20 "$f"; }; done >&2
  exit 1
}

started=$SECONDS
PATHWAY_BUILD_DIR=$build PATHWAY_RUN_DIR=$run PATHWAY_GATEWAY_PORT=0 \
  bash "$repo/scripts/run.sh" --exit-after-demo --kafka "$kafka" --no-build \
  </dev/null >"$work/run.out" 2>&1 &
run_pid=$!
deadline=$((SECONDS + 300))
while kill -0 "$run_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
if kill -0 "$run_pid" 2>/dev/null; then
  kill -TERM "$run_pid" 2>/dev/null || true
  deadline=$((SECONDS + 60))
  while kill -0 "$run_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
  fail "run.sh did not finish the demo within 300 s"
fi
rc=0
wait "$run_pid" || rc=$?
run_pid=""
((rc == 0)) || fail "run.sh exited $rc"
echo "run.sh --kafka $kafka --exit-after-demo: $((SECONDS - started)) s"

out=$work/run.out
expect() {  # WHAT PATTERN: a fixed string the demo's output must hold
  grep -qF -- "$2" "$out" || fail "the demo did not show $1 ('$2')"
}
if [[ $kafka == real ]]; then
  expect "the real Kafka" "Kafka (Apache Kafka, scripts/kafka.sh"
  expect "the Java console consumer line" "org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server 127.0.0.1:"
else
  expect "the embedded Kafka" "Kafka (embedded pathway-devbroker"
fi
expect "the bootstrap servers" "bootstrap.servers=127.0.0.1:"
expect "referrals received" '"referralReceived"'
expect "a late referral keeping its day" "ReferralReceived.receivedOn 2025-03-10, although published at"
expect "a modulus 11 rejection" '"rule":"nhs_number.modulus11"'
expect "a dead letter" '"deadLettered"'
expect "a repeated event id ignored" "event=duplicate_ignored"
expect "the gateway accepting a referral" '"status":"accepted"'
expect "the child found by NHS number" "child id (a pseudonym): "
expect "the re-drive dry run" "redrive (dry run): "
expect "the summary" "pathway is running."

# Nothing it started is left: each of its processes names the run's directory on its
# command line (Kafka's server.properties, the engine's data directory) or holds a file
# there open (the logs its stderr goes to: pathway-devbroker, the gateway).
left=()
for proc in /proc/[0-9]*; do
  pid=${proc#/proc/}
  [[ $pid != "$$" && $pid != "$BASHPID" ]] || continue
  cmd=$(tr '\0' ' ' 2>/dev/null <"$proc/cmdline") || continue
  holds=$(find "$proc/fd" -mindepth 1 -maxdepth 1 -lname "$run/*" -print -quit 2>/dev/null) || true
  if [[ $cmd == *"$run/"* || -n $holds ]]; then left+=("$pid (${cmd:0:100})"); fi
done
((${#left[@]} == 0)) || fail "still running after run.sh exited: ${left[*]}"
echo "PASS: run.sh --kafka $kafka"
