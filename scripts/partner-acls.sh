#!/usr/bin/env bash
# partner-acls.sh - the Kafka ACLs that keep each partner to its own outcomes
# (deploy/README.md, "Partners and ACLs").
#
# Usage:
#   scripts/partner-acls.sh [--registry FILE] [--engine-principal P]
#   scripts/partner-acls.sh --apply --bootstrap B --command-config FILE
#                           [--registry FILE] [--engine-principal P]
#
#   Reads the partner registry (default config/partners.json: pathway.config.v1.PartnerRegistry
#   in protobuf's JSON mapping), checks the fields it uses and prints the layout, one ACL
#   binding a line, as arguments of Kafka's kafka-acls.sh (lines starting with # explain):
#     for each partner, principal P and id ID:
#       Write, Describe  on topic pathway.inbound.v1          (literal)  it sends messages
#       Read, Describe   on topic pathway.outcomes.v1.ID      (literal)  it reads its outcomes
#       Read             on group ID.                         (prefixed) its consumer groups
#                                                                        are named ID.<anything>
#     for the engine principal (--engine-principal, default User:pathway-engine):
#       Write, Describe, Create on topic pathway.outcomes.v1. (prefixed) it sends outcomes, and
#                                                                        creates a missing topic
#   Nothing else: no partner can read pathway.events.v1, the rejections, dead letters, audit,
#   commands or changelog (they hold every partner's children), another partner's outcomes
#   or pathway.outcomes.v1._unaddressed, or write to any outcome topic. The engine's other
#   grants (its own topics and groups) are listed in deploy/README.md, not applied here.
#
#   --apply       Add the bindings (idempotent: existing ones stay) with Kafka's AclCommand
#                 (org.apache.kafka.tools.AclCommand, the class bin/kafka-acls.sh runs) from
#                 the jars scripts/kafka.sh fetches, one run per principal and resource.
#                 --command-config is the admin's client properties (security.protocol,
#                 sasl.*), e.g. DIR/admin.properties of `scripts/kafka.sh start --sasl-users`.
#                 Removes nothing: when a partner leaves, remove its ACLs by hand
#                 (kafka-acls.sh --remove --principal P ...).
# Exit status: 0 done, 1 an invalid registry or a failed AclCommand, 2 a usage error.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
ACL_COMMAND=org.apache.kafka.tools.AclCommand  # Kafka 4.x (kafka.admin.AclCommand before)

REGISTRY="$REPO_ROOT/config/partners.json"
ENGINE_PRINCIPAL="User:pathway-engine"
APPLY="" BOOTSTRAP="" COMMAND_CONFIG=""

log() { printf 'partner-acls.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit "${1:-2}"; }

# Prints the bindings of the registry in $1, one a line, tab-separated:
#   PRINCIPAL OPERATION RESOURCE-TYPE(topic|group) NAME PATTERN(literal|prefixed)
# Fails with a message naming the partner and the field if the registry is not valid.
bindings() {
  python3 - "$1" "$ENGINE_PRINCIPAL" <<'PY'
import json
import re
import sys

path, engine = sys.argv[1], sys.argv[2]
INBOUND = "pathway.inbound.v1"
OUTCOMES_PREFIX = "pathway.outcomes.v1."
ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
PRINCIPAL = re.compile(r"User:[^\s,]+")  # one principal, no spaces (AclCommand's syntax)
FIELDS = {"id", "name", "agencies", "principal"}  # pathway.config.v1.Partner


def fail(message):
    sys.exit(f"partner-acls.sh: error: {path}: {message}")


try:
    with open(path, encoding="utf-8") as f:
        registry = json.load(f)
except (OSError, ValueError) as e:
    fail(f"not a partner registry in JSON: {e}")
if not isinstance(registry, dict) or set(registry) - {"partners"}:
    fail('expected {"partners": [...]} and nothing else')
partners = registry.get("partners", [])
if not isinstance(partners, list):
    fail('"partners" must be a list')
if not PRINCIPAL.fullmatch(engine):
    sys.exit(f'partner-acls.sh: error: --engine-principal "{engine}" is not "User:<name>"')

ids, principals, out = {}, {}, []
for i, p in enumerate(partners):
    if not isinstance(p, dict):
        fail(f"partners[{i}] is not an object")
    pid = p.get("id")
    where = f'partners[{i}] ("{pid}")' if isinstance(pid, str) and pid else f"partners[{i}]"
    unknown = sorted(set(p) - FIELDS)
    if unknown:
        fail(f"{where}: unknown field(s) {', '.join(unknown)} (a misspelt field is not ignored)")
    if not isinstance(pid, str) or not ID.fullmatch(pid):
        fail(f"{where}.id: 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit "
             "(it names the partner's outcome topic and consumer groups)")
    if pid in ids:
        fail(f"{where}.id: duplicate (also partners[{ids[pid]}])")
    ids[pid] = i
    principal = p.get("principal")
    if not isinstance(principal, str) or not PRINCIPAL.fullmatch(principal):
        fail(f'{where}.principal: its Kafka principal, "User:<name>", for the ACLs')
    if principal in principals:
        fail(f"{where}.principal: {principal} is also partners[{principals[principal]}]'s: "
             "each would read the other's outcomes")
    if principal == engine:
        fail(f"{where}.principal: {principal} is the engine's (--engine-principal)")
    principals[principal] = i
    out += [
        (principal, "Write", "topic", INBOUND, "literal"),
        (principal, "Describe", "topic", INBOUND, "literal"),
        (principal, "Read", "topic", OUTCOMES_PREFIX + pid, "literal"),
        (principal, "Describe", "topic", OUTCOMES_PREFIX + pid, "literal"),
        (principal, "Read", "group", pid + ".", "prefixed"),
    ]
out += [(engine, op, "topic", OUTCOMES_PREFIX, "prefixed") for op in ("Write", "Describe", "Create")]
for row in out:
    print("\t".join(row))
PY
}

print_layout() {
  local principal op type name pattern
  echo "# ACLs for the partners of $REGISTRY (scripts/partner-acls.sh; deploy/README.md)."
  echo "# Each line: arguments of kafka-acls.sh --bootstrap-server B --command-config ADMIN"
  while IFS=$'\t' read -r principal op type name pattern; do
    printf -- '--add --allow-principal %s --operation %s --%s %s --resource-pattern-type %s\n' \
      "$principal" "$op" "$type" "$name" "$pattern"
  done <<<"$1"
}

# One AclCommand run per principal and resource: the bindings come grouped that way.
apply_layout() {
  local principal op type name pattern key="" prev="" ops=() runs=0
  local rows=$1$'\n'  # a last empty row flushes the last group
  while IFS=$'\t' read -r principal op type name pattern; do
    key="$principal $type $name $pattern"
    if [[ -n $prev && $key != "$prev" ]]; then
      run_acl_command "${ops[@]}"
      runs=$(( runs + 1 ))
      ops=()
    fi
    [[ -n $principal ]] || break
    if (( ${#ops[@]} == 0 )); then
      ops=(--add --allow-principal "$principal" "--$type" "$name" --resource-pattern-type "$pattern")
    fi
    ops+=(--operation "$op")
    prev=$key
  done <<<"$rows"
  log "applied $(wc -l <<<"$1") bindings in $runs AclCommand runs to $BOOTSTRAP"
}

run_acl_command() {
  log "kafka-acls $*"
  # Bounded: an unreachable or refusing cluster must not hang a deployment script.
  timeout 120 bash "$SCRIPT_DIR/kafka.sh" tool "$ACL_COMMAND" --bootstrap-server "$BOOTSTRAP" \
    --command-config "$COMMAND_CONFIG" "$@" >&2 \
    || die "AclCommand failed (exit $?) for: $*"
}

main() {
  while (( $# > 0 )); do
    case $1 in
      --registry) REGISTRY=${2:?--registry needs a value}; shift 2 ;;
      --engine-principal) ENGINE_PRINCIPAL=${2:?--engine-principal needs a value}; shift 2 ;;
      --apply) APPLY=1; shift ;;
      --bootstrap) BOOTSTRAP=${2:?--bootstrap needs a value}; shift 2 ;;
      --command-config) COMMAND_CONFIG=${2:?--command-config needs a value}; shift 2 ;;
      -h | --help) usage 0 ;;
      *) log "unknown argument $1 (see --help)"; exit 2 ;;
    esac
  done
  if [[ -n $APPLY ]]; then
    [[ -n $BOOTSTRAP ]] || { log "--apply needs --bootstrap"; exit 2; }
    [[ -n $COMMAND_CONFIG ]] || { log "--apply needs --command-config"; exit 2; }
    [[ -r $COMMAND_CONFIG ]] || die "cannot read --command-config $COMMAND_CONFIG"
  elif [[ -n $BOOTSTRAP || -n $COMMAND_CONFIG ]]; then
    log "--bootstrap and --command-config go with --apply"
    exit 2
  fi
  local rows
  rows=$(bindings "$REGISTRY") || exit 1
  if [[ -n $APPLY ]]; then
    apply_layout "$rows"
  else
    print_layout "$rows"
  fi
}

main "$@"
