#!/usr/bin/env bash
# pathway-loadgen end to end on the mock broker, with tiny numbers (issue 13). Checks
# what the JSON line counts, never how fast: every command sent has an outcome
# (accepted + rejected = commands_in), the engine emitted events, most were accepted,
# and the engine and the raw pipe stopped cleanly on SIGTERM.
# Two runs: the EHC scenario published first, and the mixed population with --compare
# (raw pipe, then engine). pathway-loadgen bounds its own waits (--timeout).
set -euo pipefail
loadgen=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# field NAME LINE: the first (top-level) value of "NAME":<number> in LINE.
field() { grep -o "\"$1\":[0-9.]*" <<<"$2" | head -1 | cut -d: -f2; }

run() { # NAME ARGS...: runs pathway-loadgen, leaves its one stdout line in $line
  local name=$1
  shift
  if ! "$loadgen" --timeout 240 --work-dir "$work/$name" "$@" >"$work/$name.out" 2>"$work/$name.err"; then
    cat "$work/$name.err" >&2
    for log in "$work/$name"/*.log; do echo "--- $log" >&2; tail -20 "$log" >&2; done
    fail "$name: pathway-loadgen failed"
  fi
  [[ $(wc -l <"$work/$name.out") == 1 ]] || fail "$name: expected one line on stdout: $(cat "$work/$name.out")"
  line=$(cat "$work/$name.out")
  echo "$name: $line"
}

check_counts() { # NAME EXPECTED_COMMANDS
  local in accepted rejected unresolved events
  in=$(field commands_in "$line")
  accepted=$(field accepted "$line")
  rejected=$(field rejected "$line")
  unresolved=$(field unresolved "$line")
  events=$(field events_out "$line")
  [[ $in == "$2" ]] || fail "$1: commands_in $in, expected $2"
  (( accepted + rejected == in )) || fail "$1: accepted $accepted + rejected $rejected != $in"
  (( unresolved == 0 )) || fail "$1: $unresolved commands without an outcome"
  (( events > 0 )) || fail "$1: no events"
  (( accepted > rejected )) || fail "$1: most commands rejected"
  grep -q '"engine_exit_status":0' <<<"$line" || fail "$1: the engine did not stop cleanly on SIGTERM"
}

# 20 children x the 13 messages of an EHC needs assessment, published before the engine
# starts: one refusal per child (the history's final plan issued inside the comment
# period), the rest accepted. Throughput only: latency is null.
run ehc --scenario ehc --children 20 --publish-first --broker mock
check_counts ehc 260
[[ $(field accepted "$line") == 240 && $(field rejected "$line") == 20 ]] ||
  fail "ehc: expected 240 accepted and 20 rejected"
grep -q '"latency_ms":null' <<<"$line" || fail "ehc: published first, yet a latency"
grep -q '"mode":"engine"' <<<"$line" || fail "ehc: mode"

# The mixed population, raw pipe then engine, each on a fresh mock broker.
run mixed --scenario mixed --children 20 --compare --broker mock
sent=$(sed -n 's/^loadgen: \([0-9]*\) commands for 20 children.*/\1/p' "$work/mixed.err")
[[ -n $sent ]] || fail "mixed: no 'N commands for 20 children' line on stderr"
check_counts mixed "$sent"
grep -q '"mode":"compare"' <<<"$line" || fail "mixed: mode"
grep -q '"latency_ms":{"p50":' <<<"$line" || fail "mixed: no latency"
[[ $line == *'"raw_pipe":{'* ]] || fail "mixed: no raw_pipe object"
raw=${line#*'"raw_pipe":{'}  # the raw pipe's fields come first in what follows
[[ $(field commands_in "$raw") == "$sent" && $(field accepted "$raw") == "$sent" ]] ||
  fail "mixed: the raw pipe did not pass every command: $raw"
grep -q '"raw_pipe_exit_status":0' <<<"$raw" || fail "mixed: the raw pipe did not stop cleanly"
grep -q '"engine_vs_raw_pipe":[0-9]' <<<"$line" || fail "mixed: no ratio"
echo "PASS"
