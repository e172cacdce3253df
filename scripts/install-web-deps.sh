#!/usr/bin/env bash
# Installs what the web app (web/, npm) needs, from Debian 12 packages: node and npm, only
# when the commands are missing (a node packaged elsewhere bundles its own npm, which
# Debian's npm package would conflict with); with --browser also Debian's chromium,
# which the browser tests (tests/web/) drive headless. web/package.json's versions need
# node 18 or later (Debian 12 has 18). Idempotent.
#   usage: scripts/install-web-deps.sh [--browser]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  bash "$here/install-deps.sh" nodejs npm
fi
if [[ ${1:-} == --browser ]] && ! command -v chromium >/dev/null; then
  bash "$here/install-deps.sh" chromium
fi
