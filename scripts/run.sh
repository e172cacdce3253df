#!/usr/bin/env bash
# Runs pathway on this machine: Kafka, the engine, the gateway with the web app
# (http://127.0.0.1:8080/), and a demo publisher of realistic referrals (valid, invalid,
# duplicate, undecodable). Installs what is missing and builds first (the web app with npm).
#
#   usage: scripts/run.sh [--kafka mock|real] [--exit-after-demo] [--no-build]
#
#   --kafka mock      (default) the embedded Kafka, pathway-devbroker: starts in a second,
#                     keeps nothing; serves librdkafka-based clients only (kcat,
#                     confluent-kafka for Python, Go, .NET), not Apache Kafka's Java client
#                     (docs/devbroker.md, "Clients")
#   --kafka real      a real Apache Kafka (one KRaft node, scripts/kafka.sh; Java 17 and the
#                     Kafka jars from Maven Central are installed on first use), on the first
#                     free port pair from 29092 ($PATHWAY_RUN_KAFKA_PORT), clear of the
#                     tests' clusters from 19092; the pathway topics are created as
#                     deploy/README.md says (compacted where services/topics.h says so).
#                     Any Kafka client can use it, the Java console tools included.
#   --exit-after-demo stop everything once the demo has been shown, instead of waiting
#   --no-build        install and build nothing: use the binaries already built in
#                     $PATHWAY_BUILD_DIR (default build/) and web/dist if it is there
#                     (tests/integration/run_demo_test.sh runs the demo so)
#
# Options may come in any order. Stays in the foreground until Ctrl-C (or exits after the
# demo with --exit-after-demo), then stops every process it started, Kafka included.
# State lives under .run/ ($PATHWAY_RUN_DIR, emptied at start); the gateway listens on 8080
# ($PATHWAY_GATEWAY_PORT; any free port if it is taken).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "$0" >&2; exit "${1:-2}"; }
exit_after_demo=false kafka=mock build=true
while (($# > 0)); do
  case $1 in
    --exit-after-demo) exit_after_demo=true; shift ;;
    --no-build) build=false; shift ;;
    --kafka) kafka=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
    --kafka=*) kafka=${1#--kafka=}; shift ;;
    -h | --help) usage 0 ;;
    *) echo "run.sh: unknown option '$1'" >&2; usage ;;
  esac
done
[[ $kafka == mock || $kafka == real ]] || { echo "run.sh: --kafka takes mock or real" >&2; usage; }

if $build; then
  bash scripts/install-deps.sh
  bash scripts/install-web-deps.sh
  bash scripts/build.sh release >/dev/null
  # The web app (docs/gateway.md): the exact versions of web/package-lock.json, then web/dist/.
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
  bin=$repo/build/services
else
  bin=${PATHWAY_BUILD_DIR:-$repo/build}/services
  [[ -x $bin/engine/pathway-engine ]] || { echo "run.sh: no build in ${bin%/services} (--no-build)" >&2; exit 1; }
fi
web_root=()
if [[ -d $repo/web/dist ]]; then web_root=(--web-root "$repo/web/dist"); fi

run=${PATHWAY_RUN_DIR:-$repo/.run}
# A real Kafka left running by a run that was killed: stop it before its files go.
if [[ -f $run/kafka/cluster.env ]]; then bash scripts/kafka.sh stop --dir "$run/kafka" || true; fi
rm -rf "$run"
mkdir -p "$run"
run=$(cd "$run" && pwd)
pids=()
kafka_dir=""
stop_all() {  # newest first: the gateway and the engine drain while the broker is still up
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill -TERM "$pid" 2>/dev/null || true
    timeout 30 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
  # The real Kafka last (kafka.sh stops its JVM by the pid it recorded, SIGKILL after 30 s).
  if [[ -n $kafka_dir ]]; then bash scripts/kafka.sh stop --dir "$kafka_dir" 2>>"$run/kafka.log" || true; fi
}
trap stop_all EXIT
trap 'exit 0' INT TERM

if [[ $kafka == real ]]; then
  kafka_dir=$run/kafka
  echo "Starting Apache Kafka (scripts/kafka.sh; the first start fetches it; log: $run/kafka.log)"
  line=$(bash scripts/kafka.sh start --brokers 1 --dir "$kafka_dir" \
    --first-port "${PATHWAY_RUN_KAFKA_PORT:-29092}" 2>"$run/kafka.log") \
    || { echo "Kafka did not start; see $run/kafka.log" >&2; exit 1; }
  bootstrap=${line#bootstrap.servers=}
  # The engine creates no topics (deploy/README.md): every pathway topic of
  # services/topics.h, compacted where IsCompacted() says so, 8 partitions as on the mock.
  mapfile -t all_topics < <(sed -n 's/^inline constexpr std::string_view k[A-Za-z]* = "\(pathway\.[^"]*\)";$/\1/p' services/topics.h)
  compacted_names=$(sed -n '/IsCompacted/,/^}/p' services/topics.h | grep -o 'k[A-Z][A-Za-z]*' | sort -u)
  plain=() compacted=()
  for t in "${all_topics[@]}"; do
    name=$(sed -n "s/^inline constexpr std::string_view \(k[A-Za-z]*\) = \"$t\";$/\1/p" services/topics.h)
    if grep -qxF "$name" <<<"$compacted_names"; then compacted+=("$t"); else plain+=("$t"); fi
  done
  ((${#plain[@]} >= 5 && ${#compacted[@]} >= 1)) \
    || { echo "run.sh: cannot read the topics of services/topics.h" >&2; exit 1; }
  bash scripts/kafka.sh create-topics --dir "$kafka_dir" --partitions 8 "${plain[@]}" 2>>"$run/kafka.log"
  bash scripts/kafka.sh create-topics --dir "$kafka_dir" --partitions 8 \
    --config cleanup.policy=compact "${compacted[@]}" 2>>"$run/kafka.log"
  kafka_label="Kafka (Apache Kafka, scripts/kafka.sh; data and log under $kafka_dir)"
else
  mkfifo "$run/devbroker.out"
  "$bin/devbroker/pathway-devbroker" >"$run/devbroker.out" 2>"$run/devbroker.log" &
  pids+=($!)
  exec 3<"$run/devbroker.out"
  read -r -t 30 -u 3 line || { echo "pathway-devbroker did not start; see $run/devbroker.log" >&2; exit 1; }
  bootstrap=${line#bootstrap.servers=}
  kafka_label="Kafka (embedded pathway-devbroker: librdkafka clients only, docs/devbroker.md)"
fi

# The engine serves the gateway's reads on a loopback port, with a token only the two
# share (docs/gateway.md, "Reads").
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$run/query-token")
"$bin/engine/pathway-engine" --bootstrap-servers "$bootstrap" --data-dir "$run/engine" \
  --statutory-sharing config/statutory_sharing.json --partners config/partners.json \
  --query-listen 127.0.0.1:0 --query-token-file "$run/query-token" 2>"$run/engine.log" &
pids+=($!)

# The gateway (docs/gateway.md) with a development identity provider: its JWKS, a
# token for each role and one partner system's API key, all under .run/ only.
devtoken=$bin/gateway/pathway-devtoken
"$devtoken" init --dir "$run/idp" >/dev/null
partner_secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '# key id, SHA-256 of the secret, agency, system\ndemo-partner %s 209 demo-council-system\n' \
  "$(printf %s "$partner_secret" | sha256sum | cut -d' ' -f1)" >"$run/api-keys.txt"
start_gateway() {  # LISTEN -> sets gateway_url, or leaves it empty (not in a subshell: pids)
  mkfifo "$run/gateway.out.$1"
  "$bin/gateway/pathway-gateway" --bootstrap-servers "$bootstrap" --listen "127.0.0.1:$1" \
    --jwks-file "$run/idp/jwks.json" --issuer https://dev.pathway.invalid --audience pathway \
    --api-keys-file "$run/api-keys.txt" "${web_root[@]}" \
    --dev-sign-ins "$run/dev-sign-ins.txt" --insecure-cookies \
    --engine-token-file "$run/query-token" >"$run/gateway.out.$1" 2>>"$run/gateway.log" &
  pids+=($!)
  local said=""
  exec 4<"$run/gateway.out.$1"
  read -r -t 60 -u 4 said || true
  gateway_url=""
  [[ $said =~ ^listening\ on\ (.*)$ ]] && gateway_url="http://${BASH_REMATCH[1]}"
  return 0
}
start_gateway "${PATHWAY_GATEWAY_PORT:-8080}"
[[ -n $gateway_url ]] || start_gateway 0  # 8080 taken: any free port
[[ -n $gateway_url ]] || { echo "pathway-gateway did not start; see $run/gateway.log" >&2; exit 1; }
: >"$run/dev-sign-ins.txt"
for who in "clinician staff-clin-1 RXX01 nd-team" "caseworker staff-case-1 209 send-team" \
           "team_manager staff-lead-1 209 send-team" "operations staff-ops-1 209 ops" \
           "auditor staff-audit-1 209 audit"; do
  read -r role sub agency team <<<"$who"
  printf '%s %s %s\n' "$role" "$sub" \
    "$("$devtoken" sign --dir "$run/idp" --sub "$sub" --role "$role" --agency "$agency" --team "$team")" \
    >>"$run/dev-sign-ins.txt"
done
printf 'partner_system demo-council-system X-API-Key: demo-partner.%s\n' "$partner_secret" \
  >>"$run/dev-sign-ins.txt"
chmod 600 "$run/dev-sign-ins.txt" "$run/api-keys.txt"

ctl=$bin/pathwayctl/pathwayctl
"$ctl" publish --bootstrap-servers "$bootstrap" --topic pathway.inbound.v1 scripts/demo/referrals.jsonl
printf 'this line is not a protobuf Envelope\n' >"$run/undecodable.txt"
"$ctl" publish --raw --bootstrap-servers "$bootstrap" --topic pathway.inbound.v1 "$run/undecodable.txt"

echo
echo "== pathway.events.v1 (what happened)"
"$ctl" tail --bootstrap-servers "$bootstrap" --topic pathway.events.v1 --max 8 --timeout 60 |
  tee "$run/events.jsonl"
echo
echo "== a referral published late keeps the day it was received (demo-0007)"
late=$(grep '"referralReceived"' "$run/events.jsonl" | grep '"inboundEventId":"demo-0007"' || true)
if [[ -n $late ]]; then
  published=$(sed -n 's/.*"occurredAt":"\([^"]*\)".*/\1/p' <<<"$late")
  read -r year month day < <(sed -n \
    's/.*"receivedOn":{"year":\([0-9]*\),"month":\([0-9]*\),"day":\([0-9]*\)}.*/\1 \2 \3/p' <<<"$late")
  printf 'ReferralReceived.receivedOn %04d-%02d-%02d, although published at %s\n' \
    "$year" "$month" "$day" "$published"
else
  echo "(not among the events shown)"
fi
echo
echo "== pathway.rejections.v1 (invalid input, with the field and the rule)"
"$ctl" tail --bootstrap-servers "$bootstrap" --topic pathway.rejections.v1 --max 2 --timeout 30
echo
echo "== pathway.deadletter.v1 (bytes that could not be decoded)"
"$ctl" tail --bootstrap-servers "$bootstrap" --topic pathway.deadletter.v1 --max 1 --timeout 30

echo
echo "== engine log ($run/engine.log): repeated event ids ignored"
grep 'event=duplicate_ignored' "$run/engine.log" || echo "(none yet)"

echo
echo "== the statutory clocks: one child's history across five pathways (pathwayctl simulate)"
"$ctl" simulate --events tests/workflow/histories/multi_pathway_child.jsonl --as-of 2025-07-31
echo
echo "== tell it once: each fact asked for once, one family answer serving three pathways, consent deciding who sees it, every view audited"
"$ctl" simulate --events scripts/demo/tell_it_once.jsonl --as-of 2025-12-31

echo
echo "== the gateway: a clinician refers a child over HTTP and waits for the engine's answer"
clinician_token=$(awk '$1 == "clinician" {print $3}' "$run/dev-sign-ins.txt")
# Dated three weeks ago, so the demo child's 13-week clock is running whatever today is.
day() { date -u -d "$1" +'{"year": %Y, "month": %-m, "day": %-d}'; }
demo_nhs=4010232137
sed "s/\"receivedOn\": {[^}]*}/\"receivedOn\": $(day '21 days ago')/" scripts/demo/http_referral.json \
  >"$run/http_referral.json"
post() {  # COMMAND BODY-FILE IDEMPOTENCY-KEY: as the clinician, waiting for the engine
  curl -sS --max-time 30 -H "Authorization: Bearer $clinician_token" \
    -H 'Content-Type: application/json' -H 'Prefer: wait=20' -H "Idempotency-Key: $3" \
    "$gateway_url/v1/commands/$1" --data-binary @"$2" || echo "(the gateway did not answer)"
}
answer=$(post referral_submitted "$run/http_referral.json" demo-http-1)
echo "${answer:0:600} ..."
printf '{"subject": {"nhsNumber": "%s"}, "ndReferralAccepted": {"referralId": "HTTP-2025-0001",
  "referredOn": %s, "acceptedOn": %s, "assessment": "ND_ASSESSMENT_TYPE_AUTISM",
  "route": "ND_ROUTE_STANDARD"}}\n' "$demo_nhs" "$(day '21 days ago')" "$(day '14 days ago')" \
  >"$run/nd_accepted.json"
echo "-- and accepts it onto the neurodevelopmental pathway (its deadlines start)"
answer=$(post nd_referral_accepted "$run/nd_accepted.json" demo-http-2)
echo "${answer:0:300} ..."
echo
echo "== reads: the clinician finds the child by NHS number (in the body) and reads its timeline"
child_id=""
for _ in $(seq 50); do  # until the gateway knows which engine serves the child (bounded)
  found=$(curl -sS --max-time 10 -H "Authorization: Bearer $clinician_token" \
    -H 'Content-Type: application/json' "$gateway_url/v1/children/search" \
    --data-binary "{\"nhsNumber\":\"$demo_nhs\"}" || true)
  child_id=$(sed -n 's/.*"childId":"\([0-9a-f]*\)".*/\1/p' <<<"$found")
  [[ -n $child_id ]] && break
  sleep 0.2
done
if [[ -n $child_id ]]; then
  echo "child id (a pseudonym): $child_id"
  answer=$(curl -sS --max-time 10 -H "Authorization: Bearer $clinician_token" \
    "$gateway_url/v1/children/$child_id/timeline?events=3" || true)
  echo "${answer:0:900} ..."
  echo "-- and the clinician's team's waiting list, longest wait first (GET /v1/caseload)"
  answer=$(curl -sS --max-time 10 -H "Authorization: Bearer $clinician_token" \
    "$gateway_url/v1/caseload?list=waiting&scope=team&sort=waited" || true)
  echo "${answer:0:700} ..."
else
  echo "(not found yet: ${found:-no answer})"
fi

echo
echo "== operations: a re-drive dry run (pathwayctl redrive, docs/operations.md): what would change"
echo "   had the GP referral system's messages of today never come; audited, and nothing is changed"
"$ctl" redrive --data-dir "$run/engine" --all --dry-run --exclude-source gp-referrals \
  --from "$(TZ=Europe/London date +%F)" --statutory-sharing config/statutory_sharing.json \
  --operator demo-ops --reason "demo: a partner's bad day" --bootstrap-servers "$bootstrap" \
  2>"$run/redrive.log" | head -40 || echo "(the dry run failed: see $run/redrive.log)"

ops_port=$(sed -n 's/.*event=ops_listening .*port=\([0-9]*\).*/\1/p' "$run/engine.log" | head -1)
ops_url=${ops_port:+http://127.0.0.1:$ops_port}
if [[ $kafka == real ]]; then
  java_watch="  scripts/kafka.sh tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server $bootstrap \\
      --topic pathway.events.v1 --from-beginning   (Kafka's Java client: this broker serves any client)"
else
  java_watch="  (Kafka's Java clients need the real Kafka: scripts/run.sh --kafka real; docs/devbroker.md)"
fi
web_note=""
((${#web_root[@]} > 0)) || web_note="   (not built: web/dist is missing; run without --no-build)"
cat <<MSG

pathway is running.
  $kafka_label
                     bootstrap.servers=$bootstrap
  engine state:      $run/engine   (logs: $run/engine.log)
  engine health:     ${ops_url:-(port 9464 busy: see the log)}/health/ready
  engine metrics:    ${ops_url:-(port 9464 busy: see the log)}/metrics

  web app:            $gateway_url/   (sign in as one of the development users below)$web_note
  a demo child:       sign in as the clinician, "Find a child" with NHS number $demo_nhs
                      (made up for the demo), see its deadlines and their rules, record its first
                      appointment (referral ID HTTP-2025-0001) and watch the timeline;
                      "Waiting list" shows it on the clinician's team's list with the weeks waited
  gateway (HTTP API): $gateway_url   (OpenAPI: $gateway_url/openapi.json; docs/gateway.md)
  development users (the web app's sign-in buttons): $(awk '$1 != "partner_system" {printf "%s%s (%s)", sep, $1, $2; sep=", "}' "$run/dev-sign-ins.txt")
  development sign-ins: $run/dev-sign-ins.txt  (a bearer token per role:
      clinician, caseworker, team_manager, operations, auditor; and a partner
      system's API key). For example:
    curl -H "Authorization: Bearer \$(awk '\$1=="clinician"{print \$3}' $run/dev-sign-ins.txt)" \\
         -H 'Content-Type: application/json' -H 'Prefer: wait=10' \\
         $gateway_url/v1/commands/referral_submitted --data-binary @scripts/demo/http_referral.json

Watch the topics:
  $ctl tail --bootstrap-servers $bootstrap --topic pathway.events.v1
  kcat -b $bootstrap -L
$java_watch
Operations (docs/operations.md; each audited on pathway.audit.v1):
  echo $demo_nhs | $ctl inspect --data-dir $run/engine --nhs-number-file - \\
      --operator you --reason why --bootstrap-servers $bootstrap
  $ctl rebuild --data-dir $run/engine --all --statutory-sharing config/statutory_sharing.json \\
      --operator you --reason why --bootstrap-servers $bootstrap
  or one child over HTTP as the operations role (/v1/operations/inspect, check, redrive):
  curl -H "Authorization: Bearer \$(awk '\$1=="operations"{print \$3}' $run/dev-sign-ins.txt)" \\
       -H 'Content-Type: application/json' $gateway_url/v1/operations/inspect \\
       --data '{"nhsNumber": "$demo_nhs", "reason": "why"}'
Publish your own referrals (JSON lines of pathway.v1.Envelope):
  $ctl publish --bootstrap-servers $bootstrap --topic pathway.inbound.v1 FILE.jsonl
MSG

if $exit_after_demo; then exit 0; fi
echo "Press Ctrl-C to stop."
wait
