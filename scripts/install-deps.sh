#!/usr/bin/env bash
# Installs what pathway needs to build and test, from Debian 12 packages only.
# Idempotent: installs nothing when everything is present. Needs root (or sudo).
set -euo pipefail

# With arguments: installs those packages instead (scripts/install-fuzz-deps.sh).
packages=(
  g++ cmake ninja-build pkg-config make git ca-certificates procps
  librdkafka-dev libprotobuf-dev protobuf-compiler librocksdb-dev
  libboost-dev libboost-program-options-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libjemalloc-dev libjwt-dev
  kcat clang-format curl
  # Scripts read JSON with it (run.sh and partner-acls.sh: config/partners.json).
  python3
  # Partners' generated code (docs/partners.md, tests/partners/): protobuf-java 3.21.12
  # (/usr/share/java/protobuf.jar, the match of protoc) and javac; protoc-gen-go and
  # google.golang.org/protobuf 1.28.1 with Debian's Go (a newer go on PATH is used first).
  libprotobuf-java openjdk-17-jdk-headless protoc-gen-go golang-google-protobuf-dev golang-go
)
if (($# > 0)); then packages=("$@"); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) != 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
