#!/bin/bash
# tls_console_daemon: the console transport inside the real daemon (fedgw serve) on
# 127.0.0.1: TLS 1.2 ECDHE AEAD, TLS 1.1 refused, plain HTTP redirected, and a bind address
# not on this machine leaves the daemon running with the reason logged. Exit 77 = skipped.
set -u
fedgw=${1:-}
if [ -z "$fedgw" ] || [ ! -x "$fedgw" ]; then
	echo "fedgw binary not built: skipped"
	exit 77
fi
work=$(mktemp -d /tmp/fedgw-tls-daemon.XXXXXX)
pids=()
failures=0
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; failures=$((failures + 1)); }
# A port below the kernel's ephemeral range (32768-60999 here) that nothing uses and this
# script has not handed out yet: client sockets of busy tests take ephemeral ports.
used_ports=""
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$(shuf -i 20000-32000 -n 1)
		if ! ss -Htan "sport = :$p" | grep -q . && [[ " $used_ports " != *" $p "* ]]; then echo "$p"; return; fi
	done
	echo 0
}
# serve NAME BIND PORT: starts the daemon; sets $started_pid. Federation is switched off and
# kept on loopback first: this test is about the console only.
serve() {
	local s2s_port
	s2s_port=$(free_port)
	"$fedgw" --data-dir "$work/$1.data" xmpp set enabled=false bind=127.0.0.1 \
		port="$s2s_port" >>"$work/$1.setup" 2>&1
	"$fedgw" serve --data-dir "$work/$1.data" --console-bind "$2" --console-port "$3" \
		>"$work/$1.log" 2>&1 &
	started_pid=$!
	pids+=("$started_pid")
}

port=$(free_port)
used_ports+=" $port"
serve main 127.0.0.1 "$port"
mainpid=$started_pid
for _ in $(seq 1 100); do
	grep -qs "listening on https://127.0.0.1:$port/" "$work/main.log" && break
	kill -0 "$mainpid" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q "listening on https://127.0.0.1:$port/" "$work/main.log"; then
	echo "fedgw serve did not start listening:"; tail -30 "$work/main.log"
	exit 1
fi

out=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 </dev/null 2>&1)
if grep -q "Protocol *: TLSv1.2" <<<"$out" &&
	grep -Eq "Cipher is ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)" <<<"$out"; then
	ok "daemon console: TLS 1.2 ECDHE AEAD ($(grep -o 'Cipher is [^ ]*' <<<"$out" | head -1))"
else
	bad "daemon console handshake"; echo "$out" | tail -10
fi
out=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_1 </dev/null 2>&1)
if grep -q "Cipher is (NONE)" <<<"$out"; then ok "daemon console: TLS 1.1 refused"; else
	bad "daemon console accepted TLS 1.1"; fi
hdrs=$(curl -s --max-time 10 -o /dev/null -D - "http://127.0.0.1:$port/login")
if grep -q "^HTTP/1.1 301" <<<"$hdrs" && grep -qi "^Location: https://127.0.0.1:$port/login" <<<"$hdrs"; then
	ok "daemon console: plain HTTP redirected"
else
	bad "daemon console redirect"; echo "$hdrs"
fi
code=$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port/")
if [ "$code" != "000" ]; then ok "daemon console answers over https (HTTP $code)"; else
	bad "daemon console https request"; fi

# a configuration change that leaves the console's certificate alone reloads nothing
loaded() { grep -c 'console certificate ".*" (.* key) loaded' "$work/main.log"; }
before=$(loaded)
"$fedgw" --data-dir "$work/main.data" xmpp set enabled=false >>"$work/main.setup" 2>&1
"$fedgw" --data-dir "$work/main.data" pki selfsign other CN:other.test --days 30 \
	>>"$work/main.setup" 2>&1
sleep 3
after=$(loaded)
if [ "$before" -eq 1 ] && [ "$after" -eq 1 ]; then
	ok "daemon console: certificate loaded once, not again on unrelated changes"
else
	bad "console certificate loaded $before time(s) at start, $after after two changes"
fi

port_unbound=$(free_port)
serve unbound 192.0.2.1 "$port_unbound"
unboundpid=$started_pid
sleep 2
if kill -0 "$unboundpid" 2>/dev/null &&
	grep -q "is not available on this machine (Cannot assign requested address)" "$work/unbound.log"; then
	ok "daemon survives a bind address not on this machine"
else
	bad "daemon bind failure"; tail -20 "$work/unbound.log"
fi

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
