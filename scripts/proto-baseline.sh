#!/usr/bin/env bash
# Refreshes proto/baseline/release.binpb: the public schema (proto/) as partners have it
# in the last release, which `buf breaking` (ctest proto.buf_breaking,
# tests/proto/buf_test.sh) compares every change against. Run ONLY when a release is cut
# (docs/schema.md, "Releases"), and commit the image with the release: between
# releases it must stay as it is, or a breaking change could slip in with it. An image
# rather than `--against .git#branch=...`: CI clones are shallow and there are no tags.
#   usage: scripts/proto-baseline.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
(cd tools/buf && npm ci --no-audit --no-fund --loglevel=error)
tools/buf/node_modules/.bin/buf build --exclude-source-info -o proto/baseline/release.binpb
echo "proto/baseline/release.binpb: $(wc -c <proto/baseline/release.binpb) bytes"
