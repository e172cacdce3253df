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
  PATHWAY_CTL=$pathwayctl PATHWAY_BOOTSTRAP=$bootstrap \
  PATHWAY_ARTIFACTS=$artifacts PATHWAY_WEB_DIR=$repo/web \
  timeout 600 node --test --test-reporter=spec "$repo/tests/web/browser.test.mjs" ||
  fail "browser tests (screenshots in $artifacts)"

# Nor a fact of the shared record.
! grep -qF -e "$PATHWAY_RECORD_CONSENTED_TEXT" -e "$PATHWAY_RECORD_DISPUTED_TEXT" \
  -e "$PATHWAY_RECORD_DISPUTING_TEXT" -e "$PATHWAY_RECORD_OWN_TEXT" "$work/gateway.log" "$work/engine.log" ||
  fail "a fact's content in a log"
# Nothing a person typed reaches a log line.
! grep -q "$nhs\|9434765910\|$timeline_nhs\|$implied_nhs\|$unknown_nhs\|$ehc_nhs\|Ada\|Example\|Zelphine\|Quorvale\|Ysolde\|Varnack\|Orrin\|Blethway" \
  "$work/gateway.log" "$work/engine.log" ||
  fail "personal data in a log"
echo "browser tests: ok (screenshots in $artifacts)"
