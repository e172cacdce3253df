#!/usr/bin/env bash
# The gateway over the public path (issue 14): pathway-devbroker, pathway-engine and
# pathway-gateway as separate processes, driven with curl as a partner system or a
# clinician would. Every wait is bounded (curl --max-time, loops with a count).
set -euo pipefail
devbroker=$1 engine=$2 gateway=$3 devtoken=$4 pathwayctl=$5
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
bootstrap=${first#bootstrap.servers=}

# Reads: the engine serves the gateway's queries with a shared service token.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/query-token"
chmod 600 "$work/query-token"
"$engine" --bootstrap-servers "$bootstrap" --data-dir "$work/data" --ops-listen 127.0.0.1:0 \
  --query-listen 127.0.0.1:0 --query-token-file "$work/query-token" 2>"$work/engine.log" &
pids+=($!)

"$devtoken" init --dir "$work/idp" >/dev/null || fail "devtoken init"
secret=partner-secret-0123456789
printf '# id sha256(secret) agency system\nmosaic-1 %s 209 mosaic\n' \
  "$(printf %s "$secret" | sha256sum | cut -d' ' -f1)" >"$work/api-keys.txt"
mkfifo "$work/gateway.out"
"$gateway" --bootstrap-servers "$bootstrap" --listen 127.0.0.1:0 --jwks-file "$work/idp/jwks.json" \
  --issuer https://dev.pathway.invalid --audience pathway --api-keys-file "$work/api-keys.txt" \
  --engine-token-file "$work/query-token" >"$work/gateway.out" 2>"$work/gateway.log" &
gateway_pid=$!
pids+=($gateway_pid)
exec 4<"$work/gateway.out"
read -r -t 60 -u 4 listening || fail "the gateway did not start within 60 s"
[[ $listening =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]] || fail "gateway said: $listening"
base="http://127.0.0.1:${BASH_REMATCH[1]}"

clinician=$("$devtoken" sign --dir "$work/idp" --sub staff-1 --role clinician --agency RXX01 --team nd-team)
auditor=$("$devtoken" sign --dir "$work/idp" --sub staff-9 --role auditor --agency RXX01)
stranger=$("$devtoken" sign --dir "$work/idp" --sub staff-5 --role caseworker --agency LA999)
operations=$("$devtoken" sign --dir "$work/idp" --sub staff-7 --role operations --agency 209)

# call METHOD PATH [BODY] [extra curl args...] -> "$work/status", "$work/headers", "$work/body"
call() {
  local method=$1 path=$2 body=${3:-}
  shift 3 || shift $#
  curl -sS --max-time 30 -X "$method" -o "$work/body" -D "$work/headers" -w '%{http_code}' \
    -H 'Content-Type: application/json' ${body:+--data-binary "$body"} "$@" "$base$path" \
    >"$work/status" || fail "curl $method $path"
}
status() { cat "$work/status"; }
body() { cat "$work/body"; }

referral='{"referralSubmitted":{"referralId":"GW-1","child":{"nhsNumber":"9434765919","givenName":"Ada","familyName":"Example","dateOfBirth":{"year":2018,"month":2,"day":3}},"referrer":{"agency":"RXX01","role":"GP"},"reason":"REFERRAL_REASON_ATTENTION","receivedOn":{"year":2025,"month":3,"day":10}}}'

# Unsigned requests are refused; the probes and the document are open.
call POST /v1/commands/referral_submitted "$referral"
[[ $(status) == 401 ]] || fail "unsigned: $(status) $(body)"
grep -qi '^www-authenticate: Bearer' "$work/headers" || fail "no WWW-Authenticate"
call GET /health/ready ""
[[ $(status) == 200 ]] || fail "ready: $(status)"
call GET /openapi.json ""
[[ $(status) == 200 ]] && grep -q '"/v1/commands/nd_first_appointment_attended"' "$work/body" ||
  fail "openapi: $(status)"

# A clinician's referral, waiting for the engine: accepted with the events it caused.
call POST /v1/commands/referral_submitted "$referral" -H "Authorization: Bearer $clinician" \
  -H 'Prefer: wait=20' -H 'Idempotency-Key: referral-GW-1'
[[ $(status) == 200 ]] || fail "referral: $(status) $(body)"
grep -q '"status":"accepted"' "$work/body" && grep -q '"referralReceived"' "$work/body" ||
  fail "referral outcome: $(body)"
event_id=$(grep -o '"eventId":"[0-9a-f]*"' "$work/body" | head -1 | cut -d'"' -f4)

# The same Idempotency-Key again: the first answer, nothing new published.
call POST /v1/commands/referral_submitted "$referral" -H "Authorization: Bearer $clinician" \
  -H 'Idempotency-Key: referral-GW-1'
[[ $(status) == 200 ]] && grep -qi '^idempotent-replayed: true' "$work/headers" ||
  fail "replay: $(status) $(cat "$work/headers")"
grep -q "\"eventId\":\"$event_id\"" "$work/body" || fail "replay has another event id"

# Its outcome at its location.
call GET "/v1/outcomes/$event_id" "" -H "Authorization: Bearer $clinician"
[[ $(status) == 200 ]] && grep -q '"status":"accepted"' "$work/body" || fail "outcome: $(body)"

# Reads: the referring clinician finds the child by NHS number (in the body) and reads
# its timeline from the engine that owns it. The gateway learns the owner from the
# engine's announcement, so the first search may find no engine yet (503): bounded.
for _ in $(seq 100); do
  call POST /v1/children/search '{"nhsNumber":"9434765919"}' -H "Authorization: Bearer $clinician"
  [[ $(status) == 503 ]] || break
  sleep 0.2
done
[[ $(status) == 200 ]] || fail "search: $(status) $(body)"
child=$(grep -o '"childId":"[0-9a-f]*"' "$work/body" | cut -d'"' -f4)
[[ ${#child} == 64 ]] || fail "search answer: $(body)"
call GET "/v1/children/$child/timeline" "" -H "Authorization: Bearer $clinician"
[[ $(status) == 200 ]] || fail "timeline: $(status) $(body)"
grep -q '"accessBasis":"involved"' "$work/body" && grep -q '"reference":"GW-1"' "$work/body" &&
  grep -q '"kind":"referral_received"' "$work/body" || fail "timeline content: $(body)"
! grep -q '9434765919\|Ada' "$work/body" || fail "identifiers in the timeline"
# The shared record for the clinician's agency and a purpose: audited, nothing withheld
# shown.
call GET "/v1/children/$child/record?purpose=neurodevelopmental" "" -H "Authorization: Bearer $clinician"
[[ $(status) == 200 ]] && grep -q '"agency":"RXX01"' "$work/body" &&
  grep -q '"purpose":"neurodevelopmental"' "$work/body" || fail "record: $(status) $(body)"
call GET "/v1/children/$child/record" "" -H "Authorization: Bearer $clinician"
[[ $(status) == 400 ]] && grep -q '"rule":"query.purpose"' "$work/body" || fail "record without a purpose: $(status)"
# Another agency: not told the child exists, refused the timeline; an auditor reads none.
call POST /v1/children/search '{"nhsNumber":"9434765919"}' -H "Authorization: Bearer $stranger"
[[ $(status) == 404 ]] || fail "stranger's search: $(status) $(body)"
call GET "/v1/children/$child/timeline" "" -H "Authorization: Bearer $stranger"
[[ $(status) == 403 ]] && grep -q '"rule":"timeline.not_involved"' "$work/body" ||
  fail "stranger's timeline: $(status) $(body)"
call GET "/v1/children/$child/timeline" "" -H "Authorization: Bearer $auditor"
[[ $(status) == 403 ]] || fail "auditor's timeline: $(status)"

# The clinician's service accepts the child onto the neurodevelopmental pathway (the
# referral dated 2025-03-10): the child is on its team's waiting list with the weeks
# waited since then and the first appointment's deadline with its rule.
accepted='{"subject":{"nhsNumber":"9434765919"},"ndReferralAccepted":{"referralId":"GW-1","referredOn":{"year":2025,"month":3,"day":10},"acceptedOn":{"year":2025,"month":3,"day":17},"assessment":"ND_ASSESSMENT_TYPE_AUTISM","route":"ND_ROUTE_STANDARD"}}'
call POST /v1/commands/nd_referral_accepted "$accepted" -H "Authorization: Bearer $clinician" \
  -H 'Prefer: wait=20'
[[ $(status) == 200 ]] && grep -q '"status":"accepted"' "$work/body" || fail "accepted: $(status) $(body)"
call GET "/v1/caseload?list=waiting&scope=team&sort=waited" "" -H "Authorization: Bearer $clinician"
[[ $(status) == 200 ]] || fail "caseload: $(status) $(body)"
grep -q "\"childId\":\"$child\"" "$work/body" && grep -q '"weeksWaited":[1-9]' "$work/body" &&
  grep -q '"name":"first_appointment"' "$work/body" && grep -q '"rule":"NICE' "$work/body" &&
  grep -q '"team":"nd-team"' "$work/body" || fail "caseload content: $(body)"
! grep -q '9434765919\|Ada' "$work/body" || fail "identifiers in the caseload"
call GET "/v1/caseload" "" -H "Authorization: Bearer $stranger"
[[ $(status) == 200 ]] && ! grep -q "$child" "$work/body" || fail "stranger's caseload: $(status) $(body)"
call GET "/v1/caseload" "" -H "Authorization: Bearer $auditor"
[[ $(status) == 403 ]] || fail "auditor's caseload: $(status)"
call GET "/v1/caseload?sort=alphabetical" "" -H "Authorization: Bearer $clinician"
[[ $(status) == 400 ]] && grep -q '"rule":"query.sort"' "$work/body" || fail "bad sort: $(status)"

# A mistake the gateway finds at once, and one only the engine can find (the case).
bad=${referral/9434765919/9434765910}
call POST /v1/commands/referral_submitted "$bad" -H "Authorization: Bearer $clinician"
[[ $(status) == 422 ]] && grep -q '"rule":"nhs_number.modulus11"' "$work/body" || fail "modulus 11: $(body)"
grep -qi '^content-type: application/problem+json' "$work/headers" || fail "not a problem document"
nd='{"subject":{"nhsNumber":"9434765919"},"ndFirstAppointmentAttended":{"referralId":"ND-404","attendedOn":{"year":2025,"month":5,"day":1}}}'
call POST /v1/commands/nd_first_appointment_attended "$nd" -H "Authorization: Bearer $clinician" \
  -H 'Prefer: wait=20'
[[ $(status) == 422 ]] && grep -q '"rule":"pathway.unknown_reference"' "$work/body" ||
  fail "engine rejection: $(status) $(body)"

# Roles: an auditor may send nothing; a partner system signs in with its API key.
call POST /v1/commands/nd_first_appointment_attended "$nd" -H "Authorization: Bearer $auditor"
[[ $(status) == 403 ]] || fail "auditor: $(status)"
call POST /v1/commands/referral_submitted "${referral/GW-1/GW-2}" -H "X-API-Key: mosaic-1.$secret" \
  -H 'Prefer: wait=20'
[[ $(status) == 200 ]] || fail "partner: $(status) $(body)"
call POST /v1/commands/referral_submitted "$referral" -H "X-API-Key: mosaic-1.wrong"
[[ $(status) == 401 ]] || fail "wrong key: $(status)"

# Hostile input: an oversized body and malformed JSON are refused; the gateway lives on.
head -c 2000000 /dev/zero | tr '\0' 'x' >"$work/big.json"
code=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $clinician" \
  -H 'Content-Type: application/json' --data-binary @"$work/big.json" \
  "$base/v1/commands/referral_submitted" || true)
[[ $code == 413 ]] || fail "oversized: $code"
call POST /v1/commands/referral_submitted '{"referralSubmitted":' -H "Authorization: Bearer $clinician"
[[ $(status) == 400 ]] || fail "malformed: $(status)"
call GET /health/live ""
[[ $(status) == 200 ]] || fail "gateway died"

# Dead letters: a message that is not an Envelope, published as a partner might, is
# dead-lettered by the engine and shown to operations (never its content); other roles
# are refused. The gateway reads pathway.deadletter.v1 as it comes: bounded wait.
printf 'not an Envelope: Ada 9434765919\n' >"$work/undecodable.txt"
"$pathwayctl" publish --raw --bootstrap-servers "$bootstrap" --topic pathway.inbound.v1 \
  "$work/undecodable.txt" >/dev/null 2>"$work/pathwayctl.log" || fail "pathwayctl publish --raw"
for _ in $(seq 150); do
  call GET "/v1/deadletters?limit=10" "" -H "Authorization: Bearer $operations"
  [[ $(status) == 200 ]] || fail "dead letters: $(status) $(body)"
  grep -q '"reason":"value does not decode as a pathway.v1.Envelope"' "$work/body" && break
  sleep 0.2
done
grep -q '"reason":"value does not decode as a pathway.v1.Envelope"' "$work/body" ||
  fail "the undecodable message is not among the dead letters: $(body)"
grep -q '"original":{"topic":"pathway.inbound.v1","partition":[0-9]*,"offset":[0-9]*,"sizeBytes":31}' \
  "$work/body" || fail "dead letter's original: $(body)"
! grep -q 'Ada\|9434765919\|Envelope:' "$work/body" || fail "the original's content in the answer"
call GET "/v1/deadletters?limit=0" "" -H "Authorization: Bearer $operations"
[[ $(status) == 400 ]] && grep -q '"rule":"query.limit"' "$work/body" || fail "limit=0: $(status)"
call GET /v1/deadletters "" -H "Authorization: Bearer $clinician"
[[ $(status) == 403 ]] && grep -q '"rule":"authorisation.role"' "$work/body" ||
  fail "clinician's dead letters: $(status) $(body)"
call GET /v1/deadletters "" -H "X-API-Key: mosaic-1.$secret"
[[ $(status) == 403 ]] || fail "partner's dead letters: $(status)"

# The dead-letter actions over HTTP (docs/operations.md, "Dead letters"): the operations
# role opens a dead letter's original with its reason and closes it; an engine instance
# runs each action and records it on pathway.audit.v1. The undecodable message cannot
# re-enter, so it is discarded; one from a newer schema (an Envelope holding only an
# unknown field, 999) is resubmitted, once. dead_place REASON: the place of the first
# dead letter the list gives with a reason starting so (an extended regular expression;
# "" if none yet).
dead_place() {
  call GET "/v1/deadletters?limit=50" "" -H "Authorization: Bearer $operations"
  grep -oE '\{"partition":[0-9]+,"offset":[0-9]+,("deadLetteredAt":"[^"]*",)?"reason":"'"$1" \
    "$work/body" | head -1 | sed -E 's/^\{"partition":([0-9]+),"offset":([0-9]+),.*/\1\/\2/' ||
    true
}
undecodable=$(dead_place 'value does not decode')
[[ -n $undecodable ]] || fail "no place for the undecodable dead letter: $(body)"
call POST /v1/operations/deadletters/show \
  '{"deadLetter":"'"$undecodable"'","reason":"INC-2 what did the partner send"}' \
  -H "Authorization: Bearer $operations"
[[ $(status) == 200 ]] && grep -q '"source":"original"' "$work/body" &&
  grep -q '"hex":"6e6f7420616e20456e76656c6f70653a' "$work/body" &&
  grep -q '"operation_id":"' "$work/body" || fail "dead letter shown over HTTP: $(status) $(body)"
call POST /v1/operations/deadletters/show '{"deadLetter":"'"$undecodable"'","reason":"curious"}' \
  -H "Authorization: Bearer $clinician"
[[ $(status) == 403 ]] || fail "a clinician opened a dead letter: $(status)"
call POST /v1/operations/deadletters/resubmit \
  '{"deadLetter":"'"$undecodable"'","reason":"INC-2 try again"}' -H "Authorization: Bearer $operations"
[[ $(status) == 422 ]] && grep -q '"rule":"deadletter.refused"' "$work/body" ||
  fail "an undecodable original resubmitted: $(status) $(body)"
call POST /v1/operations/deadletters/discard '{"deadLetter":"'"$undecodable"'"}' \
  -H "Authorization: Bearer $operations"
[[ $(status) == 400 ]] && grep -q '"rule":"operation.reason"' "$work/body" ||
  fail "discard without a reason: $(status) $(body)"
call POST /v1/operations/deadletters/discard \
  '{"deadLetter":"'"$undecodable"'","reason":"INC-2 the partner sends it again"}' \
  -H "Authorization: Bearer $operations"
[[ $(status) == 200 ]] && grep -q '"disposition":"discarded"' "$work/body" ||
  fail "dead letter discarded over HTTP: $(status) $(body)"

printf '\xb8\x3e\x01\n' >"$work/newer-schema.bin"
"$pathwayctl" publish --raw --bootstrap-servers "$bootstrap" --topic pathway.inbound.v1 \
  "$work/newer-schema.bin" >/dev/null 2>"$work/pathwayctl.log" || fail "pathwayctl publish --raw"
newer=""
for _ in $(seq 150); do
  newer=$(dead_place 'unknown payload \(field 999\)')
  [[ -n $newer ]] && break
  sleep 0.2
done
[[ -n $newer ]] || fail "the newer schema's message is not among the dead letters: $(body)"
call POST /v1/operations/deadletters/show '{"deadLetter":"'"$newer"'","reason":"INC-3 which field"}' \
  -H "Authorization: Bearer $operations"
[[ $(status) == 200 ]] && grep -q '"unknown_fields":\[999\]' "$work/body" ||
  fail "newer schema's dead letter shown: $(status) $(body)"
for attempt in 1 2; do
  call POST /v1/operations/deadletters/resubmit \
    '{"deadLetter":"'"$newer"'","reason":"INC-3 the engine knows the field now"}' \
    -H "Authorization: Bearer $operations"
  if ((attempt == 1)); then
    [[ $(status) == 200 ]] && grep -q '"disposition":"resubmitted"' "$work/body" ||
      fail "dead letter resubmitted over HTTP: $(status) $(body)"
  else
    [[ $(status) == 409 ]] && grep -q '"rule":"deadletter.closed"' "$work/body" ||
      fail "dead letter resubmitted twice: $(status) $(body)"
  fi
done

# An erasure request (docs/operations.md, "An erasure request"), as the runbook sends it:
# the operations role asks for a child's records to be erased, the NHS number in the
# body only. A child whose records a retention rule still keeps is refused with the rule
# (the date it ends, which tells the date of birth, sealed); a young adult's records are erased, the child is no longer found, and
# pathwayctl inspect finds only the erasure mark.
erasure() {
  printf '{"subject":{"nhsNumber":"%s"},"erasureRequested":{"requestedOn":{"year":2025,"month":3,"day":10}}}' "$1"
}
call POST /v1/commands/erasure_requested "$(erasure 9434765919)" \
  -H "Authorization: Bearer $operations" -H 'Prefer: wait=20' -H 'Idempotency-Key: erase-1'
[[ $(status) == 200 ]] || fail "erasure of a child: $(status) $(body)"
grep -q '"erasureRefused":{"rule":"health-records-children"' "$work/body" ||
  fail "a child's records kept by a retention rule: $(body)"
adult='{"referralSubmitted":{"referralId":"GW-2","child":{"nhsNumber":"6541003238","givenName":"Bo","familyName":"Example","dateOfBirth":{"year":1996,"month":5,"day":1}},"referrer":{"agency":"RXX01","role":"GP"},"reason":"REFERRAL_REASON_ATTENTION","receivedOn":{"year":2025,"month":3,"day":10}}}'
call POST /v1/commands/referral_submitted "$adult" -H "Authorization: Bearer $clinician" \
  -H 'Prefer: wait=20' -H 'Idempotency-Key: referral-GW-2'
[[ $(status) == 200 ]] && grep -q '"referralReceived"' "$work/body" || fail "adult referral: $(body)"
call POST /v1/commands/erasure_requested "$(erasure 6541003238)" \
  -H "Authorization: Bearer $clinician" -H 'Idempotency-Key: erase-2'
[[ $(status) == 403 ]] || fail "a clinician asked for an erasure: $(status)"
call POST /v1/commands/erasure_requested "$(erasure 6541003238)" \
  -H "Authorization: Bearer $operations" -H 'Prefer: wait=20' -H 'Idempotency-Key: erase-3'
[[ $(status) == 200 ]] && grep -q '"erasureCompleted"' "$work/body" ||
  fail "erasure of a young adult: $(status) $(body)"
call POST /v1/children/search '{"nhsNumber":"6541003238"}' -H "Authorization: Bearer $clinician"
[[ $(status) == 404 ]] || fail "the erased child is still found: $(status) $(body)"
printf '6541003238\n' >"$work/erased-nhs"
"$pathwayctl" inspect --data-dir "$work/data" --nhs-number-file "$work/erased-nhs" \
  --operator staff-7 --reason "erasure request check" --bootstrap-servers "$bootstrap" \
  >"$work/inspect.txt" 2>"$work/inspect.log" || fail "pathwayctl inspect of the erased child"
grep -q 'ERASED' "$work/inspect.txt" || fail "inspect: $(cat "$work/inspect.txt")"
! grep -q '6541003238\|Example' "$work/inspect.txt" || fail "personal data in inspect's output"

# The same checks over HTTP (docs/operations.md, "Over HTTP"): the operations role
# inspects a child named in the body, with its reason; the engine that owns the child
# runs it and records it. The erased young adult shows only the erasure mark; other
# roles are refused.
call POST /v1/operations/inspect '{"nhsNumber":"9434765919","reason":"INC-1 check the referral"}' \
  -H "Authorization: Bearer $operations"
[[ $(status) == 200 ]] && grep -q '"subject_key":"[0-9a-f]\{64\}"' "$work/body" &&
  grep -q '"pathways":\[{' "$work/body" || fail "inspect over HTTP: $(status) $(body)"
! grep -q '9434765919\|Ada\|Example' "$work/body" || fail "personal data in the inspection"
call POST /v1/operations/inspect '{"nhsNumber":"6541003238","reason":"erasure request check"}' \
  -H "Authorization: Bearer $operations"
[[ $(status) == 200 ]] && grep -q '"erased":true' "$work/body" ||
  fail "inspect of the erased child over HTTP: $(status) $(body)"
call POST /v1/operations/check '{"nhsNumber":"9434765919","reason":"INC-1 is the store sound"}' \
  -H "Authorization: Bearer $operations"
[[ $(status) == 200 ]] && grep -q '"diverged":false' "$work/body" ||
  fail "check over HTTP: $(status) $(body)"
call POST /v1/operations/redrive \
  '{"nhsNumber":"9434765919","reason":"INC-1 without the GP system","redrive":{"excludeSource":"gp-system"}}' \
  -H "Authorization: Bearer $operations"
[[ $(status) == 200 ]] && grep -q '"dry_run":true' "$work/body" && grep -q '"sent":false' "$work/body" ||
  fail "re-drive dry run over HTTP: $(status) $(body)"
call POST /v1/operations/inspect '{"nhsNumber":"9434765919","reason":"curious"}' \
  -H "Authorization: Bearer $clinician"
[[ $(status) == 403 ]] || fail "a clinician inspected a case: $(status)"
call POST /v1/operations/inspect '{"nhsNumber":"9434765919"}' -H "Authorization: Bearer $operations"
[[ $(status) == 400 ]] && grep -q '"rule":"operation.reason"' "$work/body" ||
  fail "inspect without a reason: $(status) $(body)"

# No identifier in any log line.
! grep -q '9434765919\|9434765910\|6541003238\|Ada\|Example' "$work/gateway.log" "$work/engine.log" ||
  fail "personal data in a log"

# SIGTERM: a clean exit, bounded.
kill -TERM "$gateway_pid"
for _ in $(seq 150); do kill -0 "$gateway_pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$gateway_pid" 2>/dev/null || fail "the gateway did not stop within 15 s"
wait "$gateway_pid" || fail "the gateway exited $?"
echo "gateway round trip: ok"
