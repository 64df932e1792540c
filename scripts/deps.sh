#!/usr/bin/env bash
# Installs the Debian 12 packages fedgw needs. Usage: scripts/deps.sh [build|test]
#   build: what `scripts/run.sh` needs to build and run the appliance
#   test:  also what the test suite needs (sanitizers, fuzzing, browser, peers)
# As root it installs what is missing; otherwise it prints the apt-get line and fails.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config git openssl
  libmicrohttpd-dev libbearssl-dev libexpat1-dev liblmdb-dev
  libunbound-dev libevent-dev nettle-dev
  libuv1-dev libjansson-dev libargon2-dev libcmocka-dev
)
TEST_PKGS=(
  clang libclang-rt-14-dev python3 curl iproute2 procps
  chromium nodejs npm
  dnsmasq prosody lua-unbound python3-slixmpp util-linux
  kamailio kamailio-tls-modules sip-tester sipsak stunnel4
  mmdebstrap mtools dosfstools e2fsprogs fdisk qemu-system-x86 qemu-utils ovmf
  systemd-boot-efi jq socat
)

mode=${1:-build}
want=("${BUILD_PKGS[@]}")
if [ "$mode" = test ]; then
  want+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # node/npm may come from elsewhere on a developer machine: accept a working one.
    if { [ "$p" = nodejs ] && command -v node >/dev/null; } ||
       { [ "$p" = npm ] && command -v npm >/dev/null; }; then
      continue
    fi
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "fedgw needs these Debian packages. Install them as root, then run this again:" >&2
  echo "  apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
