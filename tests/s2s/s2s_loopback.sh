#!/bin/bash
# s2s_loopback: two fedgw daemons federate inside a network namespace with their own DNS
# (dnsmasq serving SRV records for a.test and b.test): plaintext + dialback, STARTTLS +
# dialback, STARTTLS + SASL EXTERNAL with a CA made here, live policy closing sessions,
# TLS required refusing a peer without TLS, and an unreachable domain.
# Usage: s2s_loopback.sh /path/to/fedgw     (root only; exit 77 = skipped)
set -u
FEDGW=${1:?usage: s2s_loopback.sh FEDGW}
FEDGW=$(readlink -f "$FEDGW")
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (network namespace)"
	exit 77
fi
for tool in ip dnsmasq openssl; do
	if ! command -v $tool > /dev/null; then
		echo "SKIP: $tool is not installed"
		exit 77
	fi
done

NS=fgw-s2s-$$-$RANDOM
T=$(mktemp -d /tmp/fgw-s2s.XXXXXX)
PIDS=()
fail=0

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2> /dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2> /dev/null
	done
	ip netns delete "$NS" 2> /dev/null
	rm -rf "/etc/netns/$NS"
	if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

check() { # check "what" command...
	local what=$1
	shift
	if "$@"; then
		echo "ok   - $what"
	else
		echo "FAIL - $what"
		fail=1
	fi
}

ip netns add "$NS" || exit 1
ip netns exec "$NS" ip link set lo up
mkdir -p "/etc/netns/$NS"
echo "nameserver 127.0.0.53" > "/etc/netns/$NS/resolv.conf"
echo "127.0.0.1 localhost" > "/etc/netns/$NS/hosts"
ip netns exec "$NS" dnsmasq --no-daemon --listen-address=127.0.0.53 --bind-interfaces \
	--port=53 --local=/test/ --no-resolv --no-hosts \
	--host-record=xmpp.a.test,127.0.0.2 --host-record=xmpp.b.test,127.0.0.3 \
	--srv-host=_xmpp-server._tcp.a.test,xmpp.a.test,5269 \
	--srv-host=_xmpp-server._tcp.b.test,xmpp.b.test,5269 \
	--srv-host=_xmpps-server._tcp.b.test,xmpp.b.test,5270 > "$T/dnsmasq.log" 2>&1 &
PIDS+=($!)

# A CA and one certificate per domain (DNS names: the domain and its SRV target).
mkdir "$T/ca"
(
	cd "$T/ca" || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
		-out ca.pem -days 30 -subj "/CN=fedgw test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2> /dev/null
	for d in a b; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $d.key \
			-out $d.csr -subj "/CN=$d.test" 2> /dev/null
		printf 'subjectAltName=DNS:%s.test,DNS:xmpp.%s.test\nextendedKeyUsage=serverAuth,clientAuth\n' \
			$d $d > $d.ext
		openssl x509 -req -in $d.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $d.pem \
			-days 20 -extfile $d.ext 2> /dev/null
	done
	# b's key in a certificate naming another domain, and one from a CA nobody trusts
	printf 'subjectAltName=DNS:wrong.test\n' > wrong.ext
	openssl x509 -req -in b.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out wrong.pem \
		-days 20 -extfile wrong.ext 2> /dev/null
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
		-out other.pem -days 30 -subj "/CN=other CA" \
		-addext "basicConstraints=critical,CA:TRUE" 2> /dev/null
	openssl x509 -req -in b.csr -CA other.pem -CAkey other.key -CAcreateserial \
		-out untrusted.pem -days 20 -extfile b.ext 2> /dev/null
)

fgw() { # fg a|b args...
	local d=$1
	shift
	ip netns exec "$NS" "$FEDGW" --data-dir "$T/$d" "$@"
}

for d in a b; do
	ip=127.0.0.2
	[ $d = b ] && ip=127.0.0.3
	fgw $d xmpp set bind=$ip tls_mode=off dns_servers=127.0.0.53 dns_transparent_zones=test \
		connect_timeout_s=2 > /dev/null || exit 1
	fgw $d xmpp domain add $d.test > /dev/null || exit 1
	fgw $d pki import xmpp-$d "$T/ca/$d.pem" "$T/ca/$d.key" > /dev/null || exit 1
	fgw $d pki import-ca testca "$T/ca/ca.pem" > /dev/null || exit 1
	fgw $d xmpp domain edit $d.test --cert xmpp-$d > /dev/null || exit 1
	# not through fgw: a function run in the background is a subshell, and $! would be
	# the subshell, which the cleanup's kill would not pass on to the daemon
	ip netns exec "$NS" "$FEDGW" --data-dir "$T/$d" serve --console-bind $ip --console-port 8443 \
		--log-file "$T/$d.log" > "$T/$d.stderr" 2>&1 &
	PIDS+=($!)
	eval "PID_$d=$!"
done

wait_for() { # wait_for seconds command...
	local n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
listening() { ip netns exec "$NS" ss -ltn | grep -q "$1:5269"; }
wait_for 10 listening 127.0.0.2 || { echo "FAIL - daemon a does not listen"; cat "$T/a.stderr"; exit 1; }
wait_for 10 listening 127.0.0.3 || { echo "FAIL - daemon b does not listen"; cat "$T/b.stderr"; exit 1; }

validate() { # validate FROM DOMAIN -> output in $T/v.out, rc in $?
	fgw "$1" xmpp validate "$2" > "$T/v.out" 2>&1
}
has() { grep -q -- "$1" "$2"; }
peer_state() { # peer_state DATA DIR DOMAIN STATE
	fgw "$1" xmpp peers --json 2> /dev/null | python3 -c '
import json, sys
peers = json.load(sys.stdin).get("peers", [])
sys.exit(0 if any(p.get("direction") == sys.argv[1] and p.get("remote") == sys.argv[2] and
                  p.get("state") == sys.argv[3] for p in peers) else 1)' "$2" "$3" "$4"
}
settle() { sleep 1.2; } # the daemons apply a change within a second

# 1. plaintext + dialback, both ways
validate a b.test
check "plaintext: a validates b" test $? = 0
check "plaintext: a authenticates to b by dialback" has "with dialback" "$T/v.out"
check "plaintext: no TLS used" has "TLS is off" "$T/v.out"
check "plaintext: b answered the XEP-0199 ping (a's daemon got it)" has "answered the ping" "$T/v.out"
validate b a.test
check "plaintext: b validates a (dialback)" has "Authenticated b.test -> a.test with dialback" "$T/v.out"
check "plaintext: a's daemon holds an authenticated stream from b" \
	wait_for 5 peer_state a in b.test established
check "plaintext: a's daemon answered b's dialback (stream to b)" \
	wait_for 5 peer_state a out b.test established

# 2. STARTTLS + dialback (SASL EXTERNAL off in both directions)
for d in a b; do
	fgw $d xmpp set tls_mode=required sasl_external_out=false sasl_external_in=false > /dev/null
done
settle
check "live TLS requirement closes plaintext sessions" \
	wait_for 5 grep -q "closed: TLS is now required" "$T/a.log" "$T/b.log"
validate a b.test
check "starttls+dialback: validation passes" test $? = 0
check "starttls+dialback: TLS 1.2 with a trusted, matching certificate" \
	has "chain trusted; name DNS-ID" "$T/v.out"
check "starttls+dialback: dialback" has "Authenticated a.test -> b.test with dialback" "$T/v.out"

# 3. STARTTLS + SASL EXTERNAL
for d in a b; do
	fgw $d xmpp set sasl_external_out=true sasl_external_in=true > /dev/null
done
settle
validate a b.test
check "starttls+external: validation passes" test $? = 0
check "starttls+external: SASL EXTERNAL" has "with SASL EXTERNAL" "$T/v.out"
check "xmpps target refused: failover to the _xmpp-server target" \
	has "Stream opened with 127.0.0.3:5269" "$T/v.out"
check "starttls+external: ping answered" has "answered the ping" "$T/v.out"
validate b a.test
check "starttls+external: b -> a too" has "Authenticated b.test -> a.test with SASL EXTERNAL" "$T/v.out"
check "starttls+external: a's daemon shows b's stream with TLS" \
	wait_for 5 peer_state a in b.test established

# 4. live policy: deny b.test on a; sessions close with the policy named
fgw a xmpp allow add b.test --auth either --tls required > /dev/null
fgw a xmpp policy add b.test deny > /dev/null
check "policy deny closes the sessions with b" \
	wait_for 5 grep -q "sessions* with b.test closed: the policy now denies it" "$T/a.log"
check "policy denying an allow-listed domain is a fault" \
	wait_for 5 sh -c "ip netns exec $NS $FEDGW --data-dir $T/a status | grep -q 'Policy denies an allow-listed domain'"
fgw a xmpp policy delete b.test > /dev/null
fgw a xmpp allow delete b.test > /dev/null
settle

# 5. TLS required on b refuses a that has TLS off
fgw a xmpp set tls_mode=off > /dev/null
settle
validate a b.test
check "tls required on b refuses a without TLS" test $? != 0
check "tls refusal is reported at the stream or authentication step" \
	grep -q "^\[fail\] \(XMPP stream\|Authentication\)" "$T/v.out"
fgw a xmpp set tls_mode=required > /dev/null

# 6. an unknown domain: DNS says so, in plain words
validate a nowhere.test
check "unknown domain fails validation" test $? != 0
check "unknown domain: no address found" grep -q "^\[fail\] Addresses" "$T/v.out"

# 7. strict certificates: b presents a wrong-name, then an untrusted certificate
fgw b pki import wrong "$T/ca/wrong.pem" "$T/ca/b.key" > /dev/null
fgw b pki import untrusted "$T/ca/untrusted.pem" "$T/ca/b.key" > /dev/null
fgw b xmpp domain edit b.test --cert wrong > /dev/null
settle
validate a b.test
check "wrong-name certificate refused" grep -q "^\[fail\] TLS" "$T/v.out"
validate b a.test # a's daemon must call b back for dialback, over TLS
check "wrong-name certificate raises a certificate fault in a's daemon" \
	wait_for 5 sh -c "ip netns exec $NS $FEDGW --data-dir $T/a status | grep -q 'Certificate has the wrong name'"
fgw b xmpp domain edit b.test --cert untrusted > /dev/null
settle
validate a b.test
check "untrusted certificate refused" grep -q "^\[fail\] TLS" "$T/v.out"
fgw b xmpp domain edit b.test --cert xmpp-b > /dev/null
settle
validate a b.test
check "the right certificate works again" test $? = 0

# 8. XEP-0368 direct TLS on b's port 5270 (published as _xmpps-server), with SASL EXTERNAL
fgw b xmpp set direct_tls_port=5270 > /dev/null
settle
validate a b.test
check "direct TLS: validation passes" test $? = 0
check "direct TLS: stream on the xmpps target" has "Stream opened with 127.0.0.3:5270" "$T/v.out"
check "direct TLS: SASL EXTERNAL inside it" has "with SASL EXTERNAL" "$T/v.out"
fgw b xmpp set direct_tls_port=0 > /dev/null

# 9. federation off: a stops listening; on again: it listens again
fgw a xmpp set enabled=false > /dev/null
not_listening() { ! listening "$1"; }
check "federation off closes a's listener" wait_for 5 not_listening 127.0.0.2
validate b a.test
check "federation off: b cannot reach a" test $? != 0
fgw a xmpp set enabled=true > /dev/null
check "federation on again: a listens" wait_for 5 listening 127.0.0.2

# both daemons survived everything
for d in a b; do
	pid_var=PID_$d
	check "daemon $d still running" kill -0 "${!pid_var}"
done

if [ $fail != 0 ]; then
	for d in a b; do
		echo "---- log of $d"
		grep -A20 "ERROR\|runtime error\|Assertion" "$T/$d.stderr"
		tail -n 40 "$T/$d.log"
	done
	echo "---- last validation"
	cat "$T/v.out"
fi
exit $fail
