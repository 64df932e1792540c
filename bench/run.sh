#!/usr/bin/env bash
# bench/run.sh: the XMPP s2s benchmark, fedgw against Prosody 0.12 in one run (
# docs/bench.md). Root, prosody, dnsmasq and openssl are needed. By hand, never in CI.
#   bench/run.sh [BUILD_DIR] [--targets prosody,fedgw] [--streams 1,10,100]
#                [--idle 1000,10000] [--duration S] [--window W] [--out FILE.md] [--keep]
# BUILD_DIR (default build/bench) holds an optimised build without sanitizers:
#   cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build/bench --target fedgw s2sload -j2
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build="$here/../build/bench"
case "${1:-}" in
--* | "") ;;
*) build=$1; shift ;;
esac
fedgw="$build/core/daemon/fedgw"
s2sload="$build/bench/s2sload"
for b in "$fedgw" "$s2sload"; do
	if [ ! -x "$b" ]; then
		echo "bench: $b is not built (see the top of this script)" >&2
		exit 1
	fi
done
# 10,000 sessions: one descriptor each in the load peer and in the target, plus the
# target's connections back; every process started below inherits this limit. Where the
# hard limit is lower (a container without CAP_SYS_RESOURCE), take the hard limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "bench: file descriptor limit $(ulimit -n)"
exec /usr/bin/python3 "$here/run.py" "$fedgw" "$s2sload" "$@"
