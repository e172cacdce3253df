#!/usr/bin/env bash
# Installs the Python test tools (PyPI) into a virtual environment of their own and
# prints its bin directory: schemathesis, which fuzzes the gateway against its OpenAPI
# document (tests/integration/gateway_schemathesis_test.sh). Versions are pinned so a
# release of a tool cannot change what a test run means. Idempotent.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${PATHWAY_PY_TOOLS:-$HOME/.cache/pathway/py-tools}
schemathesis_version=4.32.5
if [[ -x $venv/bin/schemathesis ]] &&
   "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "version $schemathesis_version$"; then
  echo "$venv/bin"
  exit 0
fi
bash "$repo/scripts/install-deps.sh" python3-venv python3-pip >&2
rm -rf "$venv"
python3 -m venv "$venv" >&2
"$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$schemathesis_version" >&2
echo "$venv/bin"
