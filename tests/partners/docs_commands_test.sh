#!/usr/bin/env bash
# Runs blocks of commands of docs/partners.md exactly as written, in order, and checks
# what each made, so that the page a partner's developer follows cannot go stale:
#
#   docs_commands_test.sh BLOCK...
#
# A BLOCK names the ```sh fence that follows the line `<!-- tested: BLOCK -->` in
# docs/partners.md. Each runs with bash -euo pipefail in one scratch directory holding a
# copy of proto/ and examples/ (what a partner's clone has), where `.venv` is the
# virtual environment of scripts/install-py-tools.sh (the page's `python3 -m venv .venv`
# with the same pins: protobuf 4.21.12, confluent-kafka 2.16.1) and, for the Java
# examples, `build/kafka` the jar cache of scripts/kafka.sh fetch. BOOTSTRAP, when set,
# is passed on (the "Try it" blocks use it).
#
#   setup           NOT run (the test command installs with scripts/install-deps.sh and
#                   scripts/install-py-tools.sh): every Debian package it names is one
#                   those scripts install, and every pip pin is one of install-py-tools.sh
#   codegen-python  protoc --python_out; then an Envelope and a MessageOutcome round-trip
#                   (tests/partners/roundtrip.py)
#   codegen-java    protoc --java_out and javac against protobuf-java; then the same round
#                   trip in Java (tests/partners/RoundTrip.java)
#   codegen-go      protoc-gen-go (Debian) and go build against Debian's
#                   google.golang.org/protobuf; then the round trip in Go
#                   (tests/partners/roundtrip_go.go)
#   codegen-csharp  protoc --csharp_out (built into protoc): the files are generated in
#                   namespace Pathway.V1; not compiled (no .NET here, docs/partners.md)
#   examples-java   javac of examples/java against the generated code (codegen-java
#                   first), kafka-clients and protobuf-java
#   try-python, try-java  the examples against BOOTSTRAP (tests/integration/
#                   partner_example_test.sh starts the broker and the engine); each example
#                   exits non-zero on an outcome it did not expect, and the outcomes it
#                   printed are checked here too
set -euo pipefail
(($# > 0)) || { echo "usage: docs_commands_test.sh BLOCK..." >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
doc=$repo/docs/partners.md
work=$(mktemp -d)
trap '[[ -n ${KEEP_WORK:-} ]] || rm -rf "$work"' EXIT  # KEEP_WORK=1: keep it to look at
fail() { echo "FAIL: $*" >&2; exit 1; }

cp -r "$repo/proto" "$repo/examples" "$work/"
# Go: the machine's toolchain, wherever it is installed (go.dev's or Debian's golang-go);
# never a toolchain download (GOTOOLCHAIN=local).
if ! command -v go >/dev/null; then
  for d in /usr/local/go/bin /usr/lib/go/bin; do [[ -x $d/go ]] && PATH=$PATH:$d; done
fi
export GOTOOLCHAIN=local GOCACHE=$work/.gocache GOPATH=$work/.gopath
if [[ " $* " == *" codegen-python "* || " $* " == *" try-python "* ]]; then
  tools=$(bash "$repo/scripts/install-py-tools.sh" 2>"$work/install.log") \
    || { cat "$work/install.log" >&2; fail "scripts/install-py-tools.sh"; }
  ln -s "$(dirname "$tools")" "$work/.venv"
fi
if [[ " $* " == *" examples-java "* ]]; then
  # The Kafka client jars, where the page says scripts/kafka.sh fetch puts them.
  bash "$repo/scripts/kafka.sh" fetch 2>"$work/fetch.log" \
    || { cat "$work/fetch.log" >&2; fail "scripts/kafka.sh fetch"; }
  mkdir -p "$work/build"
  ln -s "${PATHWAY_KAFKA_CACHE:-$repo/build/kafka}" "$work/build/kafka"
fi

# The lines between the ```sh after the marker and the closing ```.
extract() {  # NAME
  awk -v marker="<!-- tested: $1 -->" '
    $0 == marker { found = 1; next }
    found == 1 && /^```sh$/ { found = 2; next }
    found == 2 && /^```$/ { exit }
    found == 2 { print }
  ' "$doc"
}

check_try() {  # NAME: what the example printed (it checks the outcomes itself, too)
  local out=$work/$1.out
  for line in "== a referral with three mistakes" \
    "violation: referral_submitted.child.nhs_number [nhs_number.modulus11]" \
    "violation: referral_submitted.child.date_of_birth [required]" \
    "violation: referral_submitted.reason [required]" \
    "== the corrected referral" "event: referral_received " \
    "== the same message again" "  first outcome: pathway.inbound.v1/"; do
    grep -qF -- "$line" "$out" || fail "$1 did not print '$line'"
  done
  [[ $(grep -c '^outcome pathway.inbound.v1/[0-9]*/[0-9]* for event ' "$out") == 3 ]] \
    || fail "$1 did not print three outcomes"
  grep -q ': rejected$' "$out" && grep -q ': accepted$' "$out" && grep -q ': duplicate$' "$out" \
    || fail "$1: not rejected, accepted, duplicate"
}

for block in "$@"; do
  extract "$block" >"$work/$block.sh"
  [[ -s $work/$block.sh ]] || fail "docs/partners.md has no \`\`\`sh block after <!-- tested: $block -->"
  if [[ $block == setup ]]; then
    installers=$(cat "$repo/scripts/install-deps.sh" "$repo/scripts/install-py-tools.sh")
    apt=$(sed -n 's/.*apt-get install //p' "$work/setup.sh")
    pins=$(grep -o '[A-Za-z0-9_-]*==[0-9.]*' "$work/setup.sh" || true)
    [[ -n $apt && -n $pins ]] || fail "the setup block names no apt-get install or no pins"
    for p in $apt; do
      grep -qE "(^|[ \"(])$p([ \")]|$)" <<<"$installers" || fail "setup: $p is not installed by the test command"
    done
    for p in $pins; do
      grep -qF "\"$p\"" "$repo/scripts/install-py-tools.sh" || fail "setup: $p is not install-py-tools.sh's pin"
    done
    echo "setup: $(wc -w <<<"$apt") packages and $(wc -w <<<"$pins") pins as the test command installs them"
    continue
  fi
  echo "== docs/partners.md, block $block:"
  cat "$work/$block.sh"
  (cd "$work" && bash -euo pipefail "$block.sh") 2>&1 | tee "$work/$block.out" \
    || fail "block $block failed"
  case $block in
    codegen-python)
      PYTHONPATH=$work/gen/python "$work/.venv/bin/python" "$repo/tests/partners/roundtrip.py" "$repo" \
        || fail "the generated Python code does not round-trip"
      ;;
    codegen-java)
      mkdir -p "$work/test-classes"
      javac -d "$work/test-classes" -cp "$work/gen/classes:/usr/share/java/protobuf.jar" \
        "$repo/examples/java/InboundKey.java" "$repo/tests/partners/RoundTrip.java" \
        || fail "RoundTrip.java does not compile against the generated code"
      java -cp "$work/test-classes:$work/gen/classes:/usr/share/java/protobuf.jar" RoundTrip \
        || fail "the generated Java code does not round-trip"
      ;;
    codegen-go)
      [[ -s $work/gen/go/proto/pathway/v1/outcome.pb.go ]] || fail "no gen/go/proto/pathway/v1/outcome.pb.go"
      mkdir -p "$work/gen/go/cmd/roundtrip"
      cp "$repo/tests/partners/roundtrip_go.go" "$work/gen/go/cmd/roundtrip/main.go"
      (cd "$work/gen/go" && GOFLAGS=-mod=mod GOPROXY=off go run ./cmd/roundtrip) \
        || fail "the generated Go code does not round-trip"
      ;;
    codegen-csharp)
      for f in Common Envelope Outcome Pathways Record Views; do
        [[ -s $work/gen/csharp/$f.cs ]] || fail "no gen/csharp/$f.cs"
      done
      grep -q '^namespace Pathway.V1 {' "$work/gen/csharp/Outcome.cs" || fail "Outcome.cs is not in Pathway.V1"
      grep -q 'public sealed partial class MessageOutcome' "$work/gen/csharp/Outcome.cs" \
        || fail "Outcome.cs has no MessageOutcome"
      ;;
    examples-java)
      for c in Partner InboundKey; do
        [[ -s $work/gen/classes/$c.class ]] || fail "examples/java did not compile to gen/classes/$c.class"
      done
      ;;
    try-python | try-java) check_try "$block" ;;
    *) fail "no check for block '$block'" ;;
  esac
done
echo "PASS: $*"
