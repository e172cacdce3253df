#!/usr/bin/env bash
# examples/java/InboundKey.java against examples/inbound_key_vectors.json (the JDK only).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
classes=$(mktemp -d)
trap 'rm -rf "$classes"' EXIT
javac -d "$classes" "$repo/examples/java/InboundKey.java" "$repo/tests/partners/InboundKeyVectors.java"
exec java -cp "$classes" InboundKeyVectors "$repo/examples/inbound_key_vectors.json"
