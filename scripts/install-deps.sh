#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages cutoff needs to build, test and benchmark.
# Idempotent: it installs only what is missing, and refreshes the package
# lists only when a package cannot be found.
#
#   bash scripts/install-deps.sh          what build, test and bench need
#   bash scripts/install-deps.sh fuzz     that, plus clang and libFuzzer (make fuzz)
set -euo pipefail

packages=(
  build-essential pkg-config
  libsqlite3-dev sqlite3
  libpq-dev postgresql-15
  libjansson-dev
  libsodium-dev
  libxxhash-dev
  libcmocka-dev
  libmicrohttpd-dev
  libcurl4-openssl-dev
  nginx caddy haproxy
  wrk hyperfine curl jq
  clang-format cppcheck
)

for group in "$@"; do
  case $group in
    fuzz) packages+=(clang libclang-rt-14-dev) ;;
    *) echo "install-deps: unknown group '$group' (known: fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
