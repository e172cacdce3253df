#!/usr/bin/env bash
# The web app in a real browser (issue 14): builds web/ with npm, starts
# pathway-devbroker, pathway-engine and pathway-gateway (with --web-root web/dist and
# development sign-ins) as separate processes, publishes a neurodevelopmental referral
# through the API, then runs tests/web/browser.test.mjs (node's test runner,
# playwright-core driving Debian's chromium headless, axe-core on every page and state).
# Screenshots go to ARTIFACTS. Every wait is bounded.
#   usage: browser_test.sh DEVBROKER ENGINE GATEWAY DEVTOKEN ARTIFACTS
set -euo pipefail
devbroker=$1 engine=$2 gateway=$3 devtoken=$4 artifacts=$5
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
"$engine" --bootstrap-servers "$bootstrap" --data-dir "$work/data" --ops-listen 127.0.0.1:0 \
  2>"$work/engine.log" &
pids+=($!)

# The development identity provider and its people, as scripts/run.sh makes them.
"$devtoken" init --dir "$work/idp" >/dev/null || fail "devtoken init"
: >"$work/dev-sign-ins.txt"
for who in "clinician staff-clin-1 RXX01 nd-team" "caseworker staff-case-1 209 send-team"; do
  read -r role sub agency team <<<"$who"
  token=$("$devtoken" sign --dir "$work/idp" --sub "$sub" --role "$role" --agency "$agency" \
    --team "$team") || fail "devtoken sign"
  printf '%s %s %s\n' "$role" "$sub" "$token" >>"$work/dev-sign-ins.txt"
done
mkfifo "$work/gateway.out"
"$gateway" --bootstrap-servers "$bootstrap" --listen 127.0.0.1:0 --jwks-file "$work/idp/jwks.json" \
  --issuer https://dev.pathway.invalid --audience pathway --web-root "$repo/web/dist" \
  --dev-sign-ins "$work/dev-sign-ins.txt" --insecure-cookies --log-level debug \
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

mkdir -p "$artifacts"
rm -f "$artifacts"/*.png
PATHWAY_BASE_URL=$base PATHWAY_NHS_NUMBER=$nhs PATHWAY_REFERRAL_ID=$referral_id \
  PATHWAY_ARTIFACTS=$artifacts PATHWAY_WEB_DIR=$repo/web \
  timeout 600 node --test --test-reporter=spec "$repo/tests/web/browser.test.mjs" ||
  fail "browser tests (screenshots in $artifacts)"

# Nothing a person typed reaches a log line.
! grep -q "$nhs\|9434765910\|Ada\|Example" "$work/gateway.log" "$work/engine.log" ||
  fail "personal data in a log"
echo "browser tests: ok (screenshots in $artifacts)"
