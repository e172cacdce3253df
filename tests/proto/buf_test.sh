#!/usr/bin/env bash
# buf on the public schema (proto/, buf.yaml): `lint` (STANDARD: 0 findings) or
# `breaking` (against proto/baseline/release.binpb, the last release's schema: FILE
# rules, so generated code as well as the wire stays compatible). Each mode then
# checks itself on a scratch copy that it must fail on (lint: a camelCase field;
# breaking: a renumbered field), so a check that silently stopped checking fails too.
# buf is pinned in tools/buf/package-lock.json and installed with `npm ci` (node and
# npm from scripts/install-web-deps.sh).
#   usage: tests/proto/buf_test.sh lint|breaking
set -euo pipefail
mode=${1:?lint or breaking}
repo=$(cd "$(dirname "$0")/../.." && pwd)
buf=$repo/tools/buf/node_modules/.bin/buf
# Installed unless the pinned version is already there.
want=$(node -p "require('$repo/tools/buf/package.json').devDependencies['@bufbuild/buf']")
if [[ $("$buf" --version 2>/dev/null || true) != "$want" ]]; then
  (cd "$repo/tools/buf" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
fi
baseline=$repo/proto/baseline/release.binpb
run() {  # run <module root holding buf.yaml and proto/>
  if [[ $mode == lint ]]; then
    (cd "$1" && "$buf" lint --error-format=text)
  else
    (cd "$1" && "$buf" breaking --against "$baseline" --error-format=text)
  fi
}

echo "== buf $mode: proto/"
run "$repo"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$repo/buf.yaml" "$scratch/"
cp -r "$repo/proto" "$scratch/proto"
envelope=$scratch/proto/pathway/v1/envelope.proto
if [[ $mode == lint ]]; then
  sed -i 's/string event_id = 1 /string eventId = 1 /' "$envelope"
else
  sed -i 's/string event_id = 1 /string event_id = 99 /' "$envelope"
fi
cmp -s "$envelope" "$repo/proto/pathway/v1/envelope.proto" &&
  { echo "FAIL: the self-check did not change envelope.proto" >&2; exit 1; }
echo "== buf $mode: a scratch copy with a deliberate mistake must fail"
if run "$scratch" >"$scratch/out" 2>&1; then
  echo "FAIL: buf $mode passed a schema it must refuse" >&2
  exit 1
fi
cat "$scratch/out"
echo "ok: buf $mode refused the deliberate mistake"
