#!/bin/bash
# tls_console: the console transport against openssl s_client and curl on 127.0.0.1: TLS 1.2
# with an ECDHE AEAD suite only, TLS 1.0/1.1 and renegotiation refused, plain HTTP redirected,
# and a bind failure that keeps the process alive with the fault raised.
set -u
main=${1:?usage: console_test.sh PATH/TO/tls_console_main}
work=$(mktemp -d /tmp/fedgw-tls-console.XXXXXX)
pids=()
failures=0

cleanup() {
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
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
		if ! ss -Htan "sport = :$p" | grep -q . && [[ " $used_ports " != *" $p "* ]]; then
			echo "$p"
			return
		fi
	done
	echo 0
}

# Starts console_main NAME BIND PORT [NEW_PORT]; sets $started_pid. Waits until it is ready.
start() {
	local name=$1 bind=$2 port=$3 newport=${4:-0}
	"$main" "$work/$name.data" "$bind" "$port" "$work/cert.pem" "$work/key.pem" \
		"$work/$name.faults" "$newport" "$work/rsa.pem" "$work/rsa.key" \
		>"$work/$name.log" 2>&1 &
	started_pid=$!
	pids+=("$started_pid")
	for _ in $(seq 1 100); do
		grep -qs "console_main ready" "$work/$name.log" && return 0
		kill -0 "$started_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "console_main $name did not start:"; cat "$work/$name.log"
	return 1
}

# Asks instance PID to write its listener state and faults to NAME.faults.
faults() {
	local name=$1 pid=$2
	rm -f "$work/$name.faults"
	kill -USR1 "$pid"
	for _ in $(seq 1 50); do
		[ -s "$work/$name.faults" ] && break
		sleep 0.1
	done
	cat "$work/$name.faults" 2>/dev/null
}

# Stops PID and checks a clean exit (LeakSanitizer makes leaks a non-zero exit).
stop() {
	local name=$1 pid=$2 rc
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	if [ "$rc" -eq 0 ]; then ok "$name stops cleanly without leaks"; else
		bad "$name exit status $rc"; tail -40 "$work/$name.log"; fi
}

openssl ecparam -name prime256v1 -genkey -noout -out "$work/key.pem" 2>/dev/null
openssl req -x509 -new -key "$work/key.pem" -sha256 -days 2 -subj "/CN=localhost" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -out "$work/cert.pem" 2>/dev/null

# The certificate SIGHUP switches to: RSA, so the suite shows the switch.
openssl genrsa -out "$work/rsa.key" 2048 2>/dev/null
openssl req -x509 -new -key "$work/rsa.key" -sha256 -days 2 -subj "/CN=localhost" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -out "$work/rsa.pem" 2>/dev/null

port=$(free_port)
used_ports+=" $port"
port2=$(free_port)
used_ports+=" $port2"
start main 127.0.0.1 "$port" "$port2" || exit 1
mainpid=$started_pid
fds_start=$(ls /proc/"$mainpid"/fd | wc -l)

# 1. TLS 1.2 with an ECDHE AEAD suite, and the console answers.
out=$( (printf 'GET /probe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'; sleep 1) |
	timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost -ign_eof 2>&1)
if grep -q "Protocol *: TLSv1.2" <<<"$out" &&
	grep -Eq "Cipher is ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)" <<<"$out"; then
	ok "TLS 1.2 with an ECDHE AEAD suite ($(grep -o 'Cipher is [^ ]*' <<<"$out" | head -1))"
else
	bad "TLS 1.2 ECDHE AEAD handshake"; echo "$out" | tail -20
fi
if grep -q "fedgw console test GET /probe" <<<"$out"; then ok "request served over TLS"; else
	bad "request over TLS"; fi

# 2. Older protocol versions are refused.
for v in tls1 tls1_1; do
	out=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -"$v" </dev/null 2>&1)
	if grep -q "Cipher is (NONE)" <<<"$out" && ! grep -q "Cipher is ECDHE" <<<"$out"; then
		ok "-$v refused"
	else
		bad "-$v was not refused"; echo "$out" | tail -10
	fi
done

# 3. Renegotiation ("R" in s_client) is refused: no request gets through afterwards.
out=$( (sleep 0.5; printf 'R\n'; sleep 1; printf 'GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n'; sleep 1) |
	timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 2>&1)
if grep -q RENEGOTIATING <<<"$out" && ! grep -q "fedgw console test GET /after" <<<"$out"; then
	ok "renegotiation refused"
else
	bad "renegotiation not refused"; echo "$out" | tail -15
fi

# 4. Plain HTTP gets a 301 to https, a bad Host a 400 with a sentence.
hdrs=$(curl -s --max-time 10 -o "$work/body301" -D - "http://127.0.0.1:$port/some/path?x=1")
if grep -q "^HTTP/1.1 301" <<<"$hdrs" &&
	grep -qi "^Location: https://127.0.0.1:$port/some/path?x=1" <<<"$hdrs"; then
	ok "plain HTTP redirected: $(grep -i '^Location' <<<"$hdrs" | tr -d '\r')"
else
	bad "plain HTTP redirect"; echo "$hdrs"
fi
hdrs=$(curl -s --max-time 10 -o "$work/body400" -D - -H "Host: bad_host!" "http://127.0.0.1:$port/")
if grep -q "^HTTP/1.1 400" <<<"$hdrs" && grep -q "This is an HTTPS-only port: use https://" "$work/body400"; then
	ok "bad Host answered 400: $(cat "$work/body400")"
else
	bad "bad Host"; echo "$hdrs"; cat "$work/body400"
fi
hdrs=$(curl -s --max-time 10 -o /dev/null -D - -H "Host: [::1]:8443" "http://127.0.0.1:$port/a")
if grep -qi "^Location: https://\[::1\]:8443/a" <<<"$hdrs"; then ok "IPv6 Host kept"; else
	bad "IPv6 Host"; echo "$hdrs"; fi

# 5. curl over https (keep-alive, two requests on one connection).
body=$(curl -sk --max-time 10 "https://127.0.0.1:$port/one" "https://127.0.0.1:$port/two")
if grep -q "GET /one" <<<"$body" && grep -q "GET /two" <<<"$body"; then
	ok "curl over https, two requests"
else
	bad "curl over https"; echo "$body"
fi
# Large bodies both ways cross every buffer and backpressure limit of the pump.
python3 - "$work/big.expected" <<'PY'
import sys
open(sys.argv[1], "wb").write(bytes(((i * 7 + 3) & 0xff) for i in range(4 * 1024 * 1024)))
PY
curl -sk --max-time 30 -o "$work/big.got" "https://127.0.0.1:$port/big"
if cmp -s "$work/big.expected" "$work/big.got"; then ok "4 MiB download intact"; else
	bad "download differs ($(stat -c %s "$work/big.got" 2>/dev/null) bytes)"; fi
head -c 3000000 /dev/urandom >"$work/upload.bin"
body=$(curl -sk --max-time 30 --data-binary "@$work/upload.bin" "https://127.0.0.1:$port/count")
if grep -q "uploaded 3000000" <<<"$body"; then ok "3 MB upload intact"; else
	bad "upload: $body"; fi

st=$(faults main "$mainpid")
if grep -q "listener listening" <<<"$st" && grep -q "console.bind clear" <<<"$st"; then
	ok "listener state listening"
else
	bad "listener state"; echo "$st"
fi

# 6. A bind address not on this machine: the process lives on with the fault raised.
# (192.0.2.1 is TEST-NET-1; only bind() is attempted, nothing is sent.)
start unbound 192.0.2.1 "$port" || exit 1
unboundpid=$started_pid
sleep 1
if kill -0 "$unboundpid" 2>/dev/null; then ok "process alive after a failed bind"; else
	bad "process died after a failed bind"; fi
st=$(faults unbound "$unboundpid")
if grep -q "listener failed" <<<"$st" && grep -q "console.bind active" <<<"$st" &&
	grep -q "bind address 192.0.2.1:$port is not available on this machine (Cannot assign requested address)" "$work/unbound.log"; then
	ok "fault console.bind raised"
else
	bad "fault console.bind"; echo "$st"; cat "$work/unbound.log"
fi

# 7. The same port twice: "in use", also survived.
start busy 127.0.0.1 "$port" || exit 1
busypid=$started_pid
st=$(faults busy "$busypid")
if grep -q "console.bind active" <<<"$st" && grep -q "already in use" "$work/busy.log"; then
	ok "port in use reported"
else
	bad "port in use"; echo "$st"; cat "$work/busy.log"
fi

# 8. Reconfigure to another port: the old one closes, the new one serves.
kill -HUP "$mainpid"
for _ in $(seq 1 50); do
	grep -q "listening on https://127.0.0.1:$port2/" "$work/main.log" && break
	sleep 0.1
done
body=$(curl -sk --max-time 10 "https://127.0.0.1:$port2/moved")
if grep -q "GET /moved" <<<"$body" &&
	! curl -sk --max-time 5 -o /dev/null "https://127.0.0.1:$port/" 2>/dev/null; then
	ok "reconfigured to port $port2"
else
	bad "reconfigure"; echo "$body"; tail -5 "$work/main.log"
fi
out=$(timeout 10 openssl s_client -connect "127.0.0.1:$port2" </dev/null 2>&1)
if grep -q "Cipher is ECDHE-RSA-" <<<"$out"; then ok "new certificate (RSA) used at once"; else
	bad "new certificate not in use"; echo "$out" | grep -E "Cipher|subject"; fi

# Timeouts, measured while the bind retry below runs: a plain request head that never ends
# is dropped after 5 s, a handshake that stalls after 10 s.
stall() { # NAME BYTES: connects to port2, sends BYTES, records seconds until the server closes
	local start end
	start=$(date +%s.%N)
	exec 7<>"/dev/tcp/127.0.0.1/$port2"
	printf "$2" >&7
	timeout 20 cat <&7 >/dev/null
	end=$(date +%s.%N)
	exec 7>&-
	echo "$start $end" | awk '{printf "%.1f\n", $2 - $1}' >"$work/stall.$1"
}
stall plain 'GET / HTTP/1.1\r\nHost: x\r\n' &
stallplain=$!
stall handshake '\x16\x03\x01\x00\x30\x01' &
stallhs=$!

# 9. The instance that found the port busy retries every 10 s: now it gets it and clears
# the fault.
for _ in $(seq 1 130); do
	grep -qs "console listening on https://127.0.0.1:$port/" "$work/busy.log" && break
	sleep 0.1
done
st=$(faults busy "$busypid")
if grep -q "listener listening" <<<"$st" && grep -q "console.bind clear" <<<"$st"; then
	ok "bind retried, fault cleared"
else
	bad "bind retry"; echo "$st"; tail -5 "$work/busy.log"
fi

wait "$stallplain" "$stallhs"
t_plain=$(cat "$work/stall.plain" 2>/dev/null || echo 99)
t_hs=$(cat "$work/stall.handshake" 2>/dev/null || echo 99)
if awk -v t="$t_plain" 'BEGIN { exit !(t >= 4.5 && t <= 8) }'; then
	ok "unfinished plain request dropped after ${t_plain}s"
else
	bad "plain request timeout (${t_plain}s)"
fi
if awk -v t="$t_hs" 'BEGIN { exit !(t >= 9.5 && t <= 13) }'; then
	ok "stalled handshake dropped after ${t_hs}s"
else
	bad "handshake timeout (${t_hs}s)"
fi

# Run alone, after the stalled connections are gone, so that exactly 256 fit.
# The connection limit: 256 open, the next one is closed at once.
if python3 - "$port2" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
socks = []
for _ in range(256):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    socks.append(s)
time.sleep(0.3)
extra = socket.create_connection(("127.0.0.1", port), timeout=5)
extra.settimeout(3)
try:
    data = extra.recv(1)
    closed = data == b""
except (ConnectionResetError, BrokenPipeError):
    closed = True
except socket.timeout:
    closed = False
# The 256th is still held open by the server (its read times out).
last = socks[-1]
last.settimeout(0.5)
try:
    held = last.recv(1) != b""
except socket.timeout:
    held = True
except ConnectionResetError:
    held = False
for s in socks:
    s.close()
sys.exit(0 if closed and held else 1)
PY
then
	ok "connection 257 refused at the limit"
else
	bad "connection limit"
fi

if ip -6 addr show dev lo 2>/dev/null | grep -q "::1/128"; then
	port6=$(free_port)
	used_ports+=" $port6"
	start v6 ::1 "$port6" || exit 1
	v6pid=$started_pid
	body=$(curl -sk --max-time 10 "https://[::1]:$port6/six")
	if grep -q "GET /six" <<<"$body"; then ok "IPv6 listener on [::1]"; else
		bad "IPv6 listener"; cat "$work/v6.log"; fi
	stop v6 "$v6pid"
fi

# No descriptor outlives its connection (the listener moved: same count as at start).
sleep 0.5
fds_end=$(ls /proc/"$mainpid"/fd | wc -l)
if [ "$fds_end" -eq "$fds_start" ]; then ok "no descriptor leaked ($fds_end open)"; else
	bad "descriptors: $fds_start at start, $fds_end now"; ls -l /proc/"$mainpid"/fd; fi

# A request parked (suspended) at shutdown, as the API parks one while a password hashes:
# the stop below must still be clean.
curl -sk --max-time 5 -o /dev/null "https://127.0.0.1:$port2/suspend" &
curlpid=$!
sleep 0.5

stop busy "$busypid"
stop unbound "$unboundpid"
stop main "$mainpid"
wait "$curlpid" 2>/dev/null
pids=()
if grep -q "TLS handshake with 127.0.0.1:[0-9]* failed: the peer offered only TLS versions older than 1.2" "$work/main.log"; then
	ok "TLS failures logged with the reason"
else
	bad "TLS failure log"; grep console "$work/main.log" | tail -20
fi

if grep -q "failed: the peer gave up after its renegotiation was refused" "$work/main.log"; then
	ok "refused renegotiation logged"
else
	bad "renegotiation log"; grep "TLS connection" "$work/main.log" | tail -5
fi

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all checks passed"
