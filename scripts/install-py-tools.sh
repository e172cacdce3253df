#!/usr/bin/env bash
# Installs the Python test tools (PyPI) into a virtual environment of their own and
# prints its bin directory: schemathesis, which fuzzes the gateway against its OpenAPI
# document (tests/integration/gateway_schemathesis_test.sh), and confluent-kafka, the
# Python client of partner systems (tests/integration/kafka_clients_test.sh: which
# clients pathway-devbroker serves, docs/devbroker.md). Versions are pinned so a
# release of a tool cannot change what a test run means. Idempotent.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${PATHWAY_PY_TOOLS:-$HOME/.cache/pathway/py-tools}
requirements=("schemathesis==4.32.5" "confluent-kafka==2.16.1")
# What is installed, checked by asking the venv's pip (not a stamp that could lie).
installed() {
  "$venv/bin/pip" list --disable-pip-version-check --format=freeze 2>/dev/null | tr 'A-Z_' 'a-z-'
}
missing=()
if [[ -x $venv/bin/pip ]]; then
  have=$(installed)
  for r in "${requirements[@]}"; do grep -qxF "$r" <<<"$have" || missing+=("$r"); done
  if (( ${#missing[@]} == 0 )); then
    echo "$venv/bin"
    exit 0
  fi
else
  bash "$repo/scripts/install-deps.sh" python3-venv python3-pip >&2
  python3 -m venv "$venv" >&2
  missing=("${requirements[@]}")
fi
"$venv/bin/pip" install -q --disable-pip-version-check "${missing[@]}" >&2
echo "$venv/bin"
