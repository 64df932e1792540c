#!/bin/sh
# resolve_dnsmasq: the resolver against dnsmasq inside a network namespace made for the test:
# SRV (two priorities, XEP-0368, "." target), A/AAAA, NODATA, NXDOMAIN, SERVFAIL, TIMEOUT,
# and the system path (/etc/resolv.conf and /etc/hosts of the namespace). Never the host's DNS.
set -u
PROBE=${1:?usage: run.sh RESOLVE_PROBE}

skip() {
	echo "SKIP: $*"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root to create a network namespace"
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || skip "dnsmasq is not installed (apt-get install dnsmasq)"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"

NS="fgw-resolve-$$-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')"
TMP=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "/etc/netns/$NS" "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$NS" || skip "cannot create a network namespace here"
ip netns exec "$NS" ip link set lo up || exit 1
# Files "ip netns exec" mounts over /etc/resolv.conf and /etc/hosts inside the namespace.
mkdir -p "/etc/netns/$NS"
echo "nameserver 127.0.0.4" >"/etc/netns/$NS/resolv.conf"
printf '127.0.0.1 localhost\n192.0.2.99 hosts-only.test\n' >"/etc/netns/$NS/hosts"

# Records of the test zone (dnsmasq never forwards names under test.).
set -- --srv-host=_xmpp-server._tcp.a.test,xmpp1.a.test,5269,10,0 \
	--srv-host=_xmpp-server._tcp.a.test,xmpp2.a.test,5269,20,0 \
	--srv-host=_xmpps-server._tcp.a.test,xmpp1.a.test,5270,0,0 \
	--srv-host=_xmpp-server._tcp.nosrv.test \
	--host-record=xmpp1.a.test,192.0.2.11,2001:db8::11 \
	--host-record=xmpp2.a.test,192.0.2.12 \
	--host-record=nosrv.test,192.0.2.13

# start NAME ADDR PORT ARGS...: a dnsmasq in the namespace, in the foreground of a job.
start() {
	name=$1 addr=$2 port=$3
	shift 3
	ip netns exec "$NS" "$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --no-resolv \
		--no-hosts --bind-interfaces --listen-address="$addr" --port="$port" --user=root \
		--pid-file="$TMP/$name.pid" --log-facility="$TMP/$name.log" --log-queries "$@" &
	PIDS="$PIDS $!"
}
start main 127.0.0.1 5353 --local=/test/ "$@"
start system 127.0.0.4 53 --local=/test/ "$@"
# No data and no --local: names it does not know are REFUSED, which unbound reports as a
# server failure; fail.test is forwarded to a port where nothing listens, so dnsmasq never
# answers it (a timeout for us).
start refusing 127.0.0.2 5353 --server=/fail.test/127.0.0.2#9

for name in main system refusing; do
	i=0
	until grep -q "started, version" "$TMP/$name.log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 50 ] || {
			echo "FAIL: dnsmasq $name did not start"
			cat "$TMP/$name.log" 2>/dev/null
			exit 1
		}
		sleep 0.1
	done
done

FAILED=0
# probe SERVERS TIMEOUT_MS QUERIES...: output lines go to $TMP/out.
probe() {
	servers=$1 timeout=$2
	shift 2
	ip netns exec "$NS" "$PROBE" "$servers" test "$timeout" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	cat "$TMP/out"
	if [ $rc -ne 0 ]; then
		echo "FAIL: resolve_probe exited with $rc"
		cat "$TMP/err"
		FAILED=1
	fi
}
# expect "QUERY STATUS N [records]" [words the text must contain]
expect() {
	if ! awk -v e="$1 # " 'index($0, e) == 1 { found = 1 } END { exit !found }' "$TMP/out"; then
		echo "FAIL: expected \"$1\""
		FAILED=1
		return
	fi
	if [ $# -gt 1 ] && ! grep -F -- "$1 # " "$TMP/out" | grep -qF -- "$2"; then
		echo "FAIL: the text of \"$1\" does not say \"$2\""
		FAILED=1
	fi
}

echo "== records from 127.0.0.1@5353"
probe 127.0.0.1@5353 2000 srv:_xmpp-server._tcp.a.test srv:_xmpps-server._tcp.a.test \
	srv:_xmpp-server._tcp.nosrv.test srv:xmpp2.a.test srv:_xmpp-server._tcp.unknown.test \
	addr:xmpp1.a.test addr:xmpp2.a.test addr:nosrv.test addr:unknown.test addr:192.0.2.1
expect "srv:_xmpp-server._tcp.a.test OK 2 | 10 0 5269 xmpp1.a.test | 20 0 5269 xmpp2.a.test" \
	"from 127.0.0.1@5353"
expect "srv:_xmpps-server._tcp.a.test OK 1 | 0 0 5270 xmpp1.a.test"
expect "srv:_xmpp-server._tcp.nosrv.test OK 1 | 0 0 1 ."
expect "srv:xmpp2.a.test NODATA 0" "NODATA from 127.0.0.1@5353"
expect "srv:_xmpp-server._tcp.unknown.test NXDOMAIN 0" "NXDOMAIN from 127.0.0.1@5353"
expect "addr:xmpp1.a.test OK 2 2001:db8::11 192.0.2.11"
expect "addr:xmpp2.a.test OK 1 192.0.2.12"
expect "addr:nosrv.test OK 1 192.0.2.13"
expect "addr:unknown.test NXDOMAIN 0" "NXDOMAIN from 127.0.0.1@5353"
expect "addr:192.0.2.1 OK 1 192.0.2.1"

echo "== a server that refuses, and one that forwards to nothing (127.0.0.2@5353)"
probe 127.0.0.2@5353 800 srv:_xmpp-server._tcp.other.test addr:other.test \
	srv:_xmpp-server._tcp.fail.test
expect "srv:_xmpp-server._tcp.other.test SERVFAIL 0" "SERVFAIL from 127.0.0.2@5353"
expect "addr:other.test SERVFAIL 0" "SERVFAIL from 127.0.0.2@5353"
expect "srv:_xmpp-server._tcp.fail.test TIMEOUT 0" "no answer from 127.0.0.2@5353"

echo "== nothing listening (127.0.0.3@5353)"
probe 127.0.0.3@5353 800 srv:_xmpp-server._tcp.a.test addr:xmpp1.a.test
expect "srv:_xmpp-server._tcp.a.test TIMEOUT 0" "no answer from 127.0.0.3@5353 within 800 ms"
expect "addr:xmpp1.a.test TIMEOUT 0" "no answer from 127.0.0.3@5353"

echo "== two servers, the first one silent"
probe "127.0.0.3@5353, 127.0.0.1@5353" 3000 srv:_xmpp-server._tcp.a.test
expect "srv:_xmpp-server._tcp.a.test OK 2 | 10 0 5269 xmpp1.a.test | 20 0 5269 xmpp2.a.test"

echo "== the system's servers (the namespace's resolv.conf and hosts)"
probe "" 2000 srv:_xmpp-server._tcp.a.test addr:hosts-only.test
expect "srv:_xmpp-server._tcp.a.test OK 2 | 10 0 5269 xmpp1.a.test | 20 0 5269 xmpp2.a.test" \
	"the system's DNS servers"
expect "addr:hosts-only.test OK 1 192.0.2.99"

if [ $FAILED -ne 0 ]; then
	echo "resolve_dnsmasq: FAILED"
	exit 1
fi
echo "resolve_dnsmasq: all lookups answered as expected"
exit 0
