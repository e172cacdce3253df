#!/usr/bin/env bash
# The web app in a real browser (issue 14): builds web/ with npm, starts
# pathway-devbroker, pathway-engine and pathway-gateway (with --web-root web/dist and
# development sign-ins; the engine's query endpoint and the gateway's reads with a shared
# token) as separate processes, publishes neurodevelopmental referrals through the API,
# then runs tests/web/browser.test.mjs (node's test runner, playwright-core driving
# Debian's chromium headless, axe-core on every page and state). Screenshots go to
# ARTIFACTS. Every wait is bounded.
#   usage: browser_test.sh DEVBROKER ENGINE GATEWAY DEVTOKEN ARTIFACTS PATHWAYCTL
set -euo pipefail
devbroker=$1 engine=$2 gateway=$3 devtoken=$4 artifacts=$5 pathwayctl=$6
repo=$(cd "$(dirname "$0")/../.." && pwd)

# Debian's chromium, node and npm when missing.
bash "$repo/scripts/install-web-deps.sh" --browser
# The exact versions of package-lock.json, then web/dist/.
(cd "$repo/web" && timeout 300 npm ci --no-audit --no-fund --loglevel=error && npm run --silent build) ||
  { echo "FAIL: npm ci / npm run build in web/" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
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
# The token the gateway shows the engine's query endpoint: random, readable by us alone.
(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$work/engine-token")
"$engine" --bootstrap-servers "$bootstrap" --data-dir "$work/data" --ops-listen 127.0.0.1:0 \
  --query-listen 127.0.0.1:0 --query-token-file "$work/engine-token" \
  2>"$work/engine.log" &
pids+=($!)

# The development identity provider and its people, as scripts/run.sh makes them.
"$devtoken" init --dir "$work/idp" >/dev/null || fail "devtoken init"
: >"$work/dev-sign-ins.txt"
for who in "clinician staff-clin-1 RXX01 nd-team" "caseworker staff-case-1 209 send-team" \
           "operations staff-ops-1 209 ops"; do
  read -r role sub agency team <<<"$who"
  token=$("$devtoken" sign --dir "$work/idp" --sub "$sub" --role "$role" --agency "$agency" \
    --team "$team") || fail "devtoken sign"
  printf '%s %s %s\n' "$role" "$sub" "$token" >>"$work/dev-sign-ins.txt"
done
# A clinician of another agency, never involved with the children below: the development
# sign-ins choose by role, so the browser signs in with this token (POST /v1/session).
(umask 077 && "$devtoken" sign --dir "$work/idp" --sub staff-clin-9 --role clinician \
  --agency RYY99 --team other-team >"$work/other-agency-token") || fail "devtoken sign"
chmod 600 "$work/dev-sign-ins.txt"
mkfifo "$work/gateway.out"
"$gateway" --bootstrap-servers "$bootstrap" --listen 127.0.0.1:0 --jwks-file "$work/idp/jwks.json" \
  --issuer https://dev.pathway.invalid --audience pathway --web-root "$repo/web/dist" \
  --dev-sign-ins "$work/dev-sign-ins.txt" --insecure-cookies --log-level debug \
  --engine-token-file "$work/engine-token" \
  >"$work/gateway.out" 2>"$work/gateway.log" &
pids+=($!)
exec 4<"$work/gateway.out"
read -r -t 60 -u 4 listening || fail "the gateway did not start within 60 s"
[[ $listening =~ ^listening\ on\ (127\.0\.0\.1:[0-9]+)$ ]] || fail "gateway said: $listening"
base="http://${BASH_REMATCH[1]}"

# A child referred and accepted onto the neurodevelopmental pathway, through the API as a
# clinician would send it, so that the browser can record the next steps.
nhs=9434765919
referral_id=ND-WEB-$$
clinician=$(awk '$1 == "clinician" {print $3}' "$work/dev-sign-ins.txt")
send() {  # COMMAND BODY: the engine must accept it
  local code
  code=$(curl -sS --max-time 30 -o "$work/answer" -w '%{http_code}' -H "Authorization: Bearer $clinician" \
    -H 'Content-Type: application/json' -H 'Prefer: wait=20' "$base/v1/commands/$1" --data-binary "$2") ||
    fail "curl $1"
  [[ $code == 200 ]] || fail "$1: $code $(cat "$work/answer")"
}
send referral_submitted '{"referralSubmitted":{"referralId":"GP-WEB-1","child":{"nhsNumber":"'$nhs'","givenName":"Ada","familyName":"Example","dateOfBirth":{"year":2018,"month":2,"day":3}},"referrer":{"agency":"Y00001","role":"GP"},"reason":"REFERRAL_REASON_SOCIAL_COMMUNICATION","receivedOn":{"year":2025,"month":1,"day":13}}}'
send nd_referral_accepted '{"subject":{"nhsNumber":"'$nhs'"},"ndReferralAccepted":{"referralId":"'$referral_id'","referredOn":{"year":2025,"month":1,"day":13},"acceptedOn":{"year":2025,"month":1,"day":20},"assessment":"ND_ASSESSMENT_TYPE_DUAL","route":"ND_ROUTE_STANDARD"}}'

# For the timeline: a child referred three weeks ago, so that the first appointment's
# deadline (13 weeks from referral) is pending whatever the day the test runs, and a
# child whose outcome came without the first appointment (implied, a data-quality
# warning). Neither has anything to do with agency RYY99.
day() { date -u -d "$1" +'{"year":%Y,"month":%-m,"day":%-d}'; }
timeline_nhs=9434765870 timeline_referral_id=ND-WEB-TL-$$ implied_nhs=9434765889 unknown_nhs=9434765862
send referral_submitted '{"referralSubmitted":{"referralId":"GP-WEB-2","child":{"nhsNumber":"'$timeline_nhs'","givenName":"Zelphine","familyName":"Quorvale","dateOfBirth":{"year":2019,"month":5,"day":6}},"referrer":{"agency":"Y00001","role":"GP"},"reason":"REFERRAL_REASON_SOCIAL_COMMUNICATION","receivedOn":'"$(day '21 days ago')"'}}'
send nd_referral_accepted '{"subject":{"nhsNumber":"'$timeline_nhs'"},"ndReferralAccepted":{"referralId":"'$timeline_referral_id'","referredOn":'"$(day '21 days ago')"',"acceptedOn":'"$(day '14 days ago')"',"assessment":"ND_ASSESSMENT_TYPE_AUTISM","route":"ND_ROUTE_STANDARD"}}'
send referral_submitted '{"referralSubmitted":{"referralId":"GP-WEB-3","child":{"nhsNumber":"'$implied_nhs'","givenName":"Ysolde","familyName":"Varnack","dateOfBirth":{"year":2017,"month":9,"day":1}},"referrer":{"agency":"Y00001","role":"GP"},"reason":"REFERRAL_REASON_SOCIAL_COMMUNICATION","receivedOn":'"$(day '60 days ago')"'}}'
send nd_referral_accepted '{"subject":{"nhsNumber":"'$implied_nhs'"},"ndReferralAccepted":{"referralId":"ND-WEB-IM-'$$'","referredOn":'"$(day '60 days ago')"',"acceptedOn":'"$(day '50 days ago')"',"assessment":"ND_ASSESSMENT_TYPE_AUTISM","route":"ND_ROUTE_STANDARD"}}'
send nd_outcome_recorded '{"subject":{"nhsNumber":"'$implied_nhs'"},"ndOutcomeRecorded":{"referralId":"ND-WEB-IM-'$$'","outcome":"ND_OUTCOME_DIAGNOSED","decidedOn":'"$(day '10 days ago')"'}}'

# For the EHC forms (ehc-step.html): a child referred by a GP and nothing else, so that
# the caseworker's steps are decided in business-date order as they come (a step dated
# before one already recorded makes the engine re-decide the case).
ehc_nhs=9434765854
send referral_submitted '{"referralSubmitted":{"referralId":"GP-WEB-4","child":{"nhsNumber":"'$ehc_nhs'","givenName":"Orrin","familyName":"Blethway","dateOfBirth":{"year":2016,"month":11,"day":20}},"referrer":{"agency":"Y00001","role":"GP"},"reason":"REFERRAL_REASON_EHC_NEEDS_ASSESSMENT","receivedOn":{"year":2025,"month":1,"day":13}}}'

# The reads are ready when the gateway knows which engine serves the child's partition
# (pathway.engine.members.v1): a search answers 200, not 503 engine.rebalancing.
search_code=
for _ in $(seq 120); do
  search_code=$(curl -sS --max-time 10 -o "$work/answer" -w '%{http_code}' \
    -H "Authorization: Bearer $clinician" -H 'Content-Type: application/json' \
    "$base/v1/children/search" --data-binary '{"nhs_number":"'$timeline_nhs'"}') || search_code=000
  [[ $search_code == 200 ]] && break
  [[ $search_code == 503 || $search_code == 000 ]] || fail "search: $search_code $(cat "$work/answer")"
  sleep 0.5
done
[[ $search_code == 200 ]] || fail "the gateway could not search within 60 s: $search_code $(cat "$work/answer")"

# The shared record (record.html) of the child with the implied step: the caseworker's
# agency 209 gives "all about me" and a diagnosis; the clinician's agency RXX01 gives
# communication needs (its own) and a diagnosis that disagrees with 209's (disputed:
# withheld until a caseworker reconciles it); the family consents to sharing with RXX01
# for the neurodevelopmental assessment and refuses it for the EHC needs assessment.
# Consent is per agency and purpose and covers every fact type, so the withheld fact for
# the consented purpose is the disputed one; for the refused purpose 209's fact is
# withheld for want of consent. The gateway sets each fact's source agency to the caller's.
caseworker=$(awk '$1 == "caseworker" {print $3}' "$work/dev-sign-ins.txt")
send_as() {  # TOKEN COMMAND BODY: the engine must accept it
  local code
  code=$(curl -sS --max-time 30 -o "$work/answer" -w '%{http_code}' -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' -H 'Prefer: wait=20' "$base/v1/commands/$2" --data-binary "$3") ||
    fail "curl $2"
  [[ $code == 200 ]] || fail "$2: $code $(cat "$work/answer")"
}
record_on=$(day '10 days ago')
export PATHWAY_RECORD_CONSENTED_TEXT="Quillon likes trains and quiet rooms $$"
export PATHWAY_RECORD_DISPUTED_TEXT="Diagnosis as 209 has it $$"
export PATHWAY_RECORD_DISPUTING_TEXT="Diagnosis as RXX01 has it $$"
export PATHWAY_RECORD_OWN_TEXT="Uses a picture board at clinic $$"
export PATHWAY_RECORD_RECORDED=$(LC_ALL=C date -u -d '10 days ago' +'%-d %B %Y')
export PATHWAY_RECORD_VALID_UNTIL=$(LC_ALL=C date -u -d "$(date -u -d '10 days ago' +%F) + 365 days" +'%-d %B %Y')
export PATHWAY_RECORD_CONSENT_ON=$(LC_ALL=C date -u -d '3 days ago' +'%-d %B %Y')
send_as "$caseworker" fact_provided '{"subject":{"nhsNumber":"'$implied_nhs'"},"factProvided":{"type":"FACT_TYPE_ALL_ABOUT_ME","content":"'"$PATHWAY_RECORD_CONSENTED_TEXT"'","providedOn":'"$record_on"'}}'
send_as "$caseworker" fact_provided '{"subject":{"nhsNumber":"'$implied_nhs'"},"factProvided":{"type":"FACT_TYPE_DIAGNOSES","content":"'"$PATHWAY_RECORD_DISPUTED_TEXT"'","providedOn":'"$record_on"'}}'
send_as "$clinician" fact_provided '{"subject":{"nhsNumber":"'$implied_nhs'"},"factProvided":{"type":"FACT_TYPE_DIAGNOSES","content":"'"$PATHWAY_RECORD_DISPUTING_TEXT"'","providedOn":'"$record_on"'}}'
send_as "$clinician" fact_provided '{"subject":{"nhsNumber":"'$implied_nhs'"},"factProvided":{"type":"FACT_TYPE_COMMUNICATION_NEEDS","content":"'"$PATHWAY_RECORD_OWN_TEXT"'","providedOn":'"$record_on"'}}'
send_as "$caseworker" consent_recorded '{"subject":{"nhsNumber":"'$implied_nhs'"},"consentRecorded":{"agency":"RXX01","purpose":"neurodevelopmental","decision":"CONSENT_DECISION_GRANTED","recordedOn":'"$(day '3 days ago')"'}}'
send_as "$caseworker" consent_recorded '{"subject":{"nhsNumber":"'$implied_nhs'"},"consentRecorded":{"agency":"RXX01","purpose":"ehc_needs_assessment","decision":"CONSENT_DECISION_REFUSED","recordedOn":'"$(day '3 days ago')"'}}'

# For the caseload and waiting list pages (caseload.html, waiting.html): two clinicians
# of agency RCL01, teams nd-north and nd-south, signed in by token (the development
# sign-ins choose by role), refer children and accept them onto the neurodevelopmental
# pathway, so each pathway is on their service's lists and their team's (a pathway joins
# the lists of the services that record its steps). Business dates in the past, whole
# weeks plus three days ago so that the weeks waited are the same whatever the hour:
#   nd-north  ND-CL-E  referred 17 weeks ago, never seen: first appointment breached
#             ND-CL-G  14 weeks, seen and diagnosed: on the caseload, not waiting
#             ND-CL-A  12 weeks, first appointment attended: no deadline pending
#             ND-CL-B   9 weeks, risk assessed high: monthly contact due first
#             ND-CL-C   3 weeks: first appointment due in 10 weeks
#   nd-south  ND-CL-D   6 weeks, and ND-CL-F1..F20 1 week: so that the service's
#             neurodevelopmental caseload is 26 entries, more than a page of 25.
# (Whether the referral intakes the clinicians submit are on their lists too is the
# engine's rule, which has changed: the tests do not count on them.)
for who in "north staff-clin-3 nd-north" "south staff-clin-4 nd-south"; do
  read -r name sub team <<<"$who"
  (umask 077 && "$devtoken" sign --dir "$work/idp" --sub "$sub" --role clinician --agency RCL01 \
    --team "$team" >"$work/caseload-$name-token") || fail "devtoken sign"
done
north=$(cat "$work/caseload-north-token") south=$(cat "$work/caseload-south-token")
nhs_with_check() {  # NINE DIGITS: the NHS number with its modulus 11 check digit, or nothing
  local sum=0 i check
  for i in 0 1 2 3 4 5 6 7 8; do sum=$((sum + ${1:i:1} * (10 - i))); done
  check=$(((11 - sum % 11) % 11))
  [[ $check != 10 ]] && echo "$1$check"
}
caseload_nhs=()
refer_caseload() {  # TOKEN LETTER WEEKS_AGO: a child referred and accepted by TOKEN's team
  local token=$1 letter=$2 referred="$(($3 * 7 + 3)) days ago" number stem=$((943477000 + ${#caseload_nhs[@]}))
  number=$(nhs_with_check "$stem") || number=$(nhs_with_check "$((stem + 500))")
  caseload_nhs+=("$number")
  send_as "$token" referral_submitted '{"referralSubmitted":{"referralId":"GP-CL-'$letter'","child":{"nhsNumber":"'$number'","givenName":"Morvoren","familyName":"Pellowe","dateOfBirth":{"year":2017,"month":4,"day":9}},"referrer":{"agency":"Y00001","role":"GP"},"reason":"REFERRAL_REASON_SOCIAL_COMMUNICATION","receivedOn":'"$(day "$referred")"'}}'
  send_as "$token" nd_referral_accepted '{"subject":{"nhsNumber":"'$number'"},"ndReferralAccepted":{"referralId":"ND-CL-'$letter'","referredOn":'"$(day "$referred")"',"acceptedOn":'"$(day "$referred")"',"assessment":"ND_ASSESSMENT_TYPE_AUTISM","route":"ND_ROUTE_STANDARD"}}'
}
step_caseload() {  # LETTER COMMAND FIELD BODY_REST: a step of ND-CL-LETTER, as nd-north
  send_as "$north" "$2" '{"subject":{"nhsNumber":"'$(caseload_number "$1")'"},"'$3'":{"referralId":"ND-CL-'$1'",'"$4"'}}'
}
declare -A caseload_letters=()
caseload_number() { echo "${caseload_nhs[${caseload_letters[$1]}]}"; }
caseload_children=("north E 17" "north G 14" "north A 12" "north B 9" "north C 3" "south D 6")
for i in $(seq 20); do caseload_children+=("south F$i 1"); done
for child in "${caseload_children[@]}"; do
  read -r team letter weeks <<<"$child"
  caseload_letters[$letter]=${#caseload_nhs[@]}
  if [[ $team == north ]]; then refer_caseload "$north" "$letter" "$weeks"; else refer_caseload "$south" "$letter" "$weeks"; fi
done
step_caseload G nd_first_appointment_attended ndFirstAppointmentAttended '"attendedOn":'"$(day '70 days ago')"
step_caseload G nd_outcome_recorded ndOutcomeRecorded '"outcome":"ND_OUTCOME_DIAGNOSED","decidedOn":'"$(day '5 days ago')"
step_caseload A nd_first_appointment_attended ndFirstAppointmentAttended '"attendedOn":'"$(day '10 days ago')"
step_caseload B nd_risk_assessed ndRiskAssessed '"risk":"RISK_LEVEL_HIGH","assessedOn":'"$(day '12 days ago')"
# ND-CL-E's first appointment was due 13 weeks after its referral: the engine's timer
# records the breach moments after it starts. Wait (bounded) until the list shows it.
breached=
for _ in $(seq 60); do
  code=$(curl -sS --max-time 10 -o "$work/answer" -w '%{http_code}' -H "Authorization: Bearer $north" \
    "$base/v1/caseload?scope=team&pathway=neurodevelopmental&sort=waited&limit=1") || code=000
  if [[ $code == 200 ]] && grep -q '"reference":"ND-CL-E"' "$work/answer" && grep -q '"breaches":1' "$work/answer"; then
    breached=yes
    break
  fi
  [[ $code == 200 || $code == 503 || $code == 000 ]] || fail "caseload: $code $(cat "$work/answer")"
  sleep 0.5
done
[[ $breached ]] || fail "ND-CL-E's breach is not on the caseload within 30 s: $(cat "$work/answer")"
export PATHWAY_CASELOAD_C_DUE=$(LC_ALL=C date -u -d "$(date -u -d '24 days ago' +%F) + 91 days" +'%-d %B %Y')
# ND-CL-E's, overdue: referred 17 weeks and 3 days ago, due 13 weeks after.
export PATHWAY_CASELOAD_E_DUE=$(LC_ALL=C date -u -d "$(date -u -d '122 days ago' +%F) + 91 days" +'%-d %B %Y')

# For the dead letters page: a message that is not an Envelope, as run.sh sends one.
printf 'this line is not a protobuf Envelope\n' >"$work/undecodable.txt"
"$pathwayctl" publish --raw --bootstrap-servers "$bootstrap" --topic pathway.inbound.v1 \
  "$work/undecodable.txt" >/dev/null 2>"$work/pathwayctl.log" || fail "pathwayctl publish --raw"

mkdir -p "$artifacts"
rm -f "$artifacts"/*.png
PATHWAY_BASE_URL=$base PATHWAY_NHS_NUMBER=$nhs PATHWAY_REFERRAL_ID=$referral_id \
  PATHWAY_TIMELINE_NHS_NUMBER=$timeline_nhs PATHWAY_TIMELINE_REFERRAL_ID=$timeline_referral_id \
  PATHWAY_IMPLIED_NHS_NUMBER=$implied_nhs PATHWAY_UNKNOWN_NHS_NUMBER=$unknown_nhs PATHWAY_EHC_NHS_NUMBER=$ehc_nhs \
  PATHWAY_OTHER_AGENCY_TOKEN_FILE=$work/other-agency-token \
  PATHWAY_CASELOAD_TOKEN_FILE=$work/caseload-north-token PATHWAY_CASELOAD_NHS_NUMBERS="${caseload_nhs[*]}" \
  PATHWAY_CASELOAD_C_NHS_NUMBER=$(caseload_number C) \
  PATHWAY_CTL=$pathwayctl PATHWAY_BOOTSTRAP=$bootstrap \
  PATHWAY_ARTIFACTS=$artifacts PATHWAY_WEB_DIR=$repo/web \
  timeout 600 node --test --test-reporter=spec "$repo/tests/web/browser.test.mjs" ||
  fail "browser tests (screenshots in $artifacts)"

# Nor a fact of the shared record.
! grep -qF -e "$PATHWAY_RECORD_CONSENTED_TEXT" -e "$PATHWAY_RECORD_DISPUTED_TEXT" \
  -e "$PATHWAY_RECORD_DISPUTING_TEXT" -e "$PATHWAY_RECORD_OWN_TEXT" "$work/gateway.log" "$work/engine.log" ||
  fail "a fact's content in a log"
# Nothing a person typed reaches a log line.
! grep -q "$nhs\|9434765910\|$timeline_nhs\|$implied_nhs\|$unknown_nhs\|$ehc_nhs\|Ada\|Example\|Zelphine\|Quorvale\|Ysolde\|Varnack\|Orrin\|Blethway\|Morvoren\|Pellowe" \
  "$work/gateway.log" "$work/engine.log" ||
  fail "personal data in a log"
! grep -qF "${caseload_nhs[@]/#/-e}" "$work/gateway.log" "$work/engine.log" || fail "an NHS number in a log"
echo "browser tests: ok (screenshots in $artifacts)"
