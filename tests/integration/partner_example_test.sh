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
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    timeout 30 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
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
# The partner outcome topics the examples read (icb) and the one for unregistered
# senders: created here in case the broker does not have them yet.
outcome_topics=(pathway.outcomes.v1.icb pathway.outcomes.v1._unaddressed)

case $lang in
  python)
    devbroker=${2:?DEVBROKER} engine=${3:?ENGINE}
    topic_flags=()
    for t in "${outcome_topics[@]}"; do topic_flags+=(--topic "$t"); done
    mkfifo "$work/broker.out"
    "$devbroker" "${topic_flags[@]}" >"$work/broker.out" 2>"$work/broker.log" &
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
    # As the other pathway topics of the test cluster (replicated, min.insync.replicas).
    bash "$repo/scripts/kafka.sh" create-topics --dir "$kafka_dir" --partitions 4 \
      "${outcome_topics[@]}" 2>"$work/topics.log" || fail "kafka.sh create-topics"
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
echo "PASS: the $lang partner example in $((SECONDS - started)) s"
