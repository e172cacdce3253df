#!/usr/bin/env bash
# The partner examples of docs/partners.md ("Try it"), run as the page says, against a
# broker they can reach and a pathway-engine given the partner registry
# (--partners config/partners.json): each submits a referral with three mistakes and
# must get one outcome naming all three, then the corrected referral and an outcome
# listing its events, then a repeat and a duplicate outcome naming the first.
#
#   partner_example_test.sh python DEVBROKER ENGINE   pathway-devbroker      (mock)
#   partner_example_test.sh java ENGINE               the real Kafka of
#                                                     PATHWAY_TEST_KAFKA_BOOTSTRAP
#                                                     (Apache Kafka's Java client
#                                                     cannot use the devbroker)  (kafka)
#
# The page's commands run through tests/partners/docs_commands_test.sh (generate the
# code, compile, run the example with BOOTSTRAP set). Every wait is bounded; only the
# processes started here are stopped, by their pids.
set -euo pipefail
lang=${1:?usage: partner_example_test.sh python DEVBROKER ENGINE | java ENGINE}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {  # newest first, each gone before the next: the engine drains while its broker is up
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || continue
    timeout 30 tail --pid="${pids[i]}" -f /dev/null 2>/dev/null || kill -KILL "${pids[i]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [[ -n ${KEEP_WORK:-} ]] || rm -rf "$work"  # KEEP_WORK=1: keep the logs to look at
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -30 "$f"; }; done >&2
  exit 1
}

case $lang in
  python)
    devbroker=${2:?DEVBROKER} engine=${3:?ENGINE}
    # As scripts/run.sh starts it: the engine creates the partners' outcome topics.
    mkfifo "$work/broker.out"
    "$devbroker" >"$work/broker.out" 2>"$work/broker.log" &
    pids+=($!)
    exec 3<"$work/broker.out"
    read -r -t 30 -u 3 first || fail "pathway-devbroker printed nothing within 30 s"
    bootstrap=${first#bootstrap.servers=}
    blocks=(codegen-python try-python)
    group_flags=()
    ;;
  java)
    engine=${2:?ENGINE}
    bootstrap=${PATHWAY_TEST_KAFKA_BOOTSTRAP:?set by the integration.kafka fixture}
    kafka_dir=${PATHWAY_TEST_KAFKA_DIR:?set by the integration.kafka fixture}
    # Created as operations would (deploy/README.md), replicated like the other pathway
    # topics of the test cluster, rather than with the brokers' defaults by the engine.
    bash "$repo/scripts/kafka.sh" create-topics --dir "$kafka_dir" --partitions 4 \
      pathway.outcomes.v1.icb pathway.outcomes.v1._unaddressed 2>"$work/topics.log" \
      || fail "kafka.sh create-topics"
    blocks=(codegen-java examples-java try-java)
    # A consumer group of its own: not the offsets another test's engine left behind.
    group_flags=(--group-prefix "partner-example-$RANDOM$RANDOM")
    ;;
  *) fail "unknown language '$lang'" ;;
esac

"$engine" --bootstrap-servers "$bootstrap" --data-dir "$work/engine" --ops-listen 127.0.0.1:0 \
  --partners "$repo/config/partners.json" "${group_flags[@]}" 2>"$work/engine.log" &
pids+=($!)

started=$SECONDS
rc=0
BOOTSTRAP=$bootstrap timeout -k 10 420 bash "$repo/tests/partners/docs_commands_test.sh" "${blocks[@]}" \
  >"$work/example.log" 2>&1 || rc=$?
cat "$work/example.log"
((rc == 0)) || fail "the $lang example (docs/partners.md) failed: exit $rc"
kill -0 "${pids[-1]}" 2>/dev/null || fail "the engine exited"
# Personal data stays out of logs: the example never prints the child's NHS number, and
# the engine's log names no 999 test number either.
if grep -Eq '(^|[^0-9])999[0-9]{7}([^0-9]|$)' "$work/example.log" "$work/engine.log"; then
  fail "an NHS number of the 999 range appears in a log"
fi
# The engine stops cleanly on SIGTERM (bounded), like every pathway process.
engine_pid=${pids[-1]}
kill -TERM "$engine_pid"
timeout 60 tail --pid="$engine_pid" -f /dev/null || fail "the engine still runs 60 s after SIGTERM"
echo "PASS: the $lang partner example in $((SECONDS - started)) s"
