#!/usr/bin/env bash
# Regenerates the state diagrams and the tables of what each step needs ("tell it
# once") in docs/pathways.md from the definitions the engine runs (pathwayctl
# describe), between the markers
#   <!-- diagram:NAME -->  ...  <!-- /diagram:NAME -->   (--format mermaid)
#   <!-- needs:NAME -->    ...  <!-- /needs:NAME -->     (--format needs)
#   usage: scripts/update-pathway-docs.sh [PATHWAYCTL] [--check]
# --check changes nothing and exits 1 if the document is out of date (a ctest runs it).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ctl=${1:-$repo/build/services/pathwayctl/pathwayctl}
check=false
[[ ${2:-} == --check ]] && check=true
doc=$repo/docs/pathways.md

out=""
kind=""
name=""
while IFS= read -r line || [[ -n $line ]]; do
  if [[ $line =~ ^\<!--\ (diagram|needs):([a-z_]+)\ --\>$ ]]; then
    kind=${BASH_REMATCH[1]}
    name=${BASH_REMATCH[2]}
    if [[ $kind == diagram ]]; then
      diagram=$("$ctl" describe "$name" --format mermaid) || { echo "describe $name failed" >&2; exit 1; }
      out+="$line"$'\n''```mermaid'$'\n'"$diagram"$'\n''```'$'\n'
    else
      needs=$("$ctl" describe "$name" --format needs) || { echo "describe $name failed" >&2; exit 1; }
      out+="$line"$'\n'"$needs"$'\n'
    fi
    continue
  fi
  if [[ -n $name ]]; then
    [[ $line == "<!-- /$kind:$name -->" ]] || continue
    name=""
  fi
  out+="$line"$'\n'
done <"$doc"
[[ -z $name ]] || { echo "docs/pathways.md: no end marker for $kind:$name" >&2; exit 1; }

if $check; then
  if ! cmp -s <(printf '%s' "$out") "$doc"; then
    echo "docs/pathways.md is out of date: run scripts/update-pathway-docs.sh" >&2
    diff <(printf '%s' "$out") "$doc" >&2 || true
    exit 1
  fi
  echo "docs/pathways.md diagrams and needs match the definitions; 1 passed, 0 failed"
  exit 0
fi
printf '%s' "$out" >"$doc"
