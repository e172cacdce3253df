#!/usr/bin/env bash
# The partner ACL layout (scripts/partner-acls.sh; deploy/README.md, "Partners and ACLs")
# on a real Kafka that authenticates (SASL/PLAIN) and denies what no ACL allows
# (StandardAuthorizer, allow.everyone.if.no.acl.found=false): each partner reads its own
# outcomes and nothing else, and cannot forge any.
#
#   partner_acls_test.sh SCRATCH-DIR
#
# SCRATCH-DIR (its name must start with partner-acls-test; it is emptied) gets a 1-node
# cluster of its own from scripts/kafka.sh start --sasl-users, on the first free ports from
# 19392, clear of the shared test cluster (which has no ACLs). With the registry of two
# partners in partners_two.json (alpha, beta), it prints the layout and compares it with
# the one below, applies it with --apply as admin, creates the topics as admin, then
# partner_acls_check.py (confluent-kafka, scripts/install-py-tools.sh) checks what each
# principal can do. Every step is bounded; the cluster is stopped on every exit, and the
# scratch directory kept only when the test fails (its logs).
set -euo pipefail
scratch=${1:?usage: partner_acls_test.sh SCRATCH-DIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kafka_sh=$repo/scripts/kafka.sh
registry=$here/partners_two.json
[[ $(basename "$scratch") == partner-acls-test* ]] \
  || { echo "FAIL: refusing to empty $scratch (name must start with partner-acls-test)" >&2; exit 1; }
dir=$scratch/cluster
# A small broker: it may run beside the shared 3-node cluster on 2 cores.
export PATHWAY_KAFKA_JVM_OPTS=${PATHWAY_KAFKA_JVM_OPTS:--Xms64m -Xmx256m -XX:TieredStopAtLevel=1}
export PATHWAY_KAFKA_START_TIMEOUT=${PATHWAY_KAFKA_START_TIMEOUT:-120}

passed=""
cleanup() {
  bash "$kafka_sh" stop --dir "$dir" >/dev/null 2>&1 || true
  if [[ -n $passed ]]; then
    rm -rf "$scratch"
  else
    echo "logs kept in $scratch" >&2
  fi
}
fail() {
  echo "FAIL: $*" >&2
  [[ -f $dir/node1/server.log ]] && { echo "--- last lines of $dir/node1/server.log"; tail -n 20 "$dir/node1/server.log"; } >&2
  exit 1
}

# What needs downloading comes first, before there is a cluster to leave behind.
tools=$(bash "$repo/scripts/install-py-tools.sh") || fail "cannot install confluent-kafka (scripts/install-py-tools.sh)"
bash "$kafka_sh" fetch || fail "scripts/kafka.sh fetch"

# The printed layout, as a reviewer reads it.
expected=$(cat <<'EOF'
--add --allow-principal User:alpha --operation Write --topic pathway.inbound.v1 --resource-pattern-type literal
--add --allow-principal User:alpha --operation Describe --topic pathway.inbound.v1 --resource-pattern-type literal
--add --allow-principal User:alpha --operation Read --topic pathway.outcomes.v1.alpha --resource-pattern-type literal
--add --allow-principal User:alpha --operation Describe --topic pathway.outcomes.v1.alpha --resource-pattern-type literal
--add --allow-principal User:alpha --operation Read --group alpha. --resource-pattern-type prefixed
--add --allow-principal User:beta --operation Write --topic pathway.inbound.v1 --resource-pattern-type literal
--add --allow-principal User:beta --operation Describe --topic pathway.inbound.v1 --resource-pattern-type literal
--add --allow-principal User:beta --operation Read --topic pathway.outcomes.v1.beta --resource-pattern-type literal
--add --allow-principal User:beta --operation Describe --topic pathway.outcomes.v1.beta --resource-pattern-type literal
--add --allow-principal User:beta --operation Read --group beta. --resource-pattern-type prefixed
--add --allow-principal User:pathway-engine --operation Write --topic pathway.outcomes.v1. --resource-pattern-type prefixed
--add --allow-principal User:pathway-engine --operation Describe --topic pathway.outcomes.v1. --resource-pattern-type prefixed
--add --allow-principal User:pathway-engine --operation Create --topic pathway.outcomes.v1. --resource-pattern-type prefixed
EOF
)
printed=$(bash "$repo/scripts/partner-acls.sh" --registry "$registry") || fail "partner-acls.sh could not print the layout"
diff <(echo "$expected") <(grep -v '^#' <<<"$printed") >&2 \
  || fail "partner-acls.sh printed another layout (diff above: < expected, > printed)"
echo "ok: partner-acls.sh prints the layout"

bash "$kafka_sh" stop --dir "$dir" >/dev/null 2>&1 || true  # a leftover of a killed run
rm -rf "$scratch"
mkdir -p "$scratch"
trap cleanup EXIT
# The users; admin is a super user (kafka.sh), the others have only what the ACLs grant.
users=$scratch/users
(
  umask 077
  for user in admin pathway-engine alpha beta; do
    echo "$user:$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
  done >"$users"
)
bootstrap=$(bash "$kafka_sh" start --dir "$dir" --first-port 19392 --sasl-users "$users") \
  || fail "scripts/kafka.sh start --sasl-users"
bootstrap=${bootstrap#bootstrap.servers=}
echo "ok: a SASL/PLAIN cluster with ACLs at $bootstrap"

timeout 120 bash "$repo/scripts/partner-acls.sh" --apply --registry "$registry" \
  --bootstrap "$bootstrap" --command-config "$dir/admin.properties" \
  || fail "partner-acls.sh --apply"
echo "ok: the layout applied"
# One partition each, so a topic's end offset is one number (partner_acls_check.py).
timeout 90 bash "$kafka_sh" create-topics --dir "$dir" --partitions 1 pathway.inbound.v1 \
  pathway.events.v1 pathway.outcomes.v1.alpha pathway.outcomes.v1.beta \
  pathway.outcomes.v1._unaddressed 2> >(grep -v '^WARNING: Due to limitations in metric names' >&2) \
  || fail "creating the topics as admin"
echo "ok: topics created as admin"

timeout 150 "$tools/python" "$here/partner_acls_check.py" "$bootstrap" "$users" \
  || fail "partner_acls_check.py (above: the first check that did not hold)"
passed=1
echo "PASS: partner ACLs"
