#!/usr/bin/env bash
# schemathesis (PyPI) against the gateway's /openapi.json (issue 14): thousands of
# generated requests, valid and invalid, to every documented operation on a running
# devbroker, engine and gateway. Passes when no answer is a server error or lies
# outside the document (status, content type, headers, body schema) and undeclared
# methods are refused. Not checked: that every schema-valid body is accepted
# (positive_data_acceptance), since the engine's rules (check digits, calendar dates,
# references to cases) are more than a JSON schema can say; those answer 422 naming
# the rule, which the document declares.
set -euo pipefail
devbroker=$1 engine=$2 gateway=$3 devtoken=$4
repo=$(cd "$(dirname "$0")/../.." && pwd)
tools=$(bash "$repo/scripts/install-py-tools.sh") || { echo "FAIL: cannot install schemathesis" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.log; do echo "--- $f"; tail -20 "$f"; done >&2
  [[ -f $work/st.out ]] && { echo "--- schemathesis"; sed -n '/FAILURES\|ERRORS/,/WARNINGS/p' "$work/st.out" | head -150; echo "--- schemathesis (end)"; tail -25 "$work/st.out"; } >&2
  exit 1
}

mkfifo "$work/broker.out"
"$devbroker" --partitions 2 >"$work/broker.out" 2>"$work/broker.log" &
pids+=($!)
exec 3<"$work/broker.out"
read -r -t 30 -u 3 first || fail "devbroker printed nothing within 30 s"
bootstrap=${first#bootstrap.servers=}
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/query-token"
"$engine" --bootstrap-servers "$bootstrap" --data-dir "$work/data" --ops-listen 127.0.0.1:0 \
  --query-listen 127.0.0.1:0 --query-token-file "$work/query-token" 2>"$work/engine.log" &
pids+=($!)

"$devtoken" init --dir "$work/idp" >/dev/null || fail "devtoken init"
mkfifo "$work/gateway.out"
# The rate limit raised: the fuzzer is one caller sending thousands of requests.
"$gateway" --bootstrap-servers "$bootstrap" --listen 127.0.0.1:0 --jwks-file "$work/idp/jwks.json" \
  --issuer https://dev.pathway.invalid --audience pathway \
  --rate-per-minute 100000000 --rate-burst 1000000 --failed-sign-ins-per-minute 100000000 \
  --engine-token-file "$work/query-token" >"$work/gateway.out" 2>"$work/gateway.log" &
gateway_pid=$!
pids+=($gateway_pid)
exec 4<"$work/gateway.out"
read -r -t 60 -u 4 listening || fail "the gateway did not start within 60 s"
[[ $listening =~ ^listening\ on\ (127\.0\.0\.1:[0-9]+)$ ]] || fail "gateway said: $listening"
base="http://${BASH_REMATCH[1]}"

# A team manager may send every command but an erasure request, so all other operations
# are exercised past authorisation (that one answers 403, which the document declares).
# A bearer token, not the API key: schemathesis also generates the other scheme's
# header, and a request with both is refused as ambiguous (auth.h).
token=$("$devtoken" sign --dir "$work/idp" --sub fuzz-1 --role team_manager --agency RXX01)
# One worker: with two, Python 3.11's ast module, which hypothesis calls to describe its
# filters, sometimes fails with "AST constructor recursion depth mismatch" when both
# threads parse at once (CPython gh-106905), and schemathesis reports that as an error
# of whichever operation it was generating.
# Reads answer 503 until an engine has announced its partitions (a 5xx to the fuzzer):
# wait for that first, bounded.
for _ in $(seq 150); do
  code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' --data-binary '{"nhsNumber":"9434765919"}' \
    "$base/v1/children/search" || true)
  [[ $code == 503 || $code == 000 ]] || break
  sleep 0.2
done
[[ $code == 404 ]] || fail "reads never became ready: $code"
set +e
timeout 900 "$tools/schemathesis" run "$base/openapi.json" -H "Authorization: Bearer $token" \
  --checks all --exclude-checks positive_data_acceptance --max-examples "${PATHWAY_FUZZ_EXAMPLES:-20}" \
  --generation-deterministic --request-timeout 20 --workers 1 >"$work/st.out" 2>&1
rc=$?
set -e
grep -E 'generated|passed|failures' "$work/st.out" | tail -3
((rc == 0)) || fail "schemathesis found failures (exit $rc)"
kill -0 "$gateway_pid" 2>/dev/null || fail "the gateway died"
# Nothing the fuzzer sent reaches a log line.
! grep -qE '[0-9]{10}' "$work/gateway.log" || fail "a 10-digit number in the gateway log"
echo "schemathesis: ok"
