#!/bin/bash
# Boot test of the fedgw appliance image under QEMU (TCG) + OVMF: first-run setup through
# the console API, a self-signed certificate, a clean power-down and a second boot that
# must still have the administrator and the certificate. See docs/image.md.
#
#   image/boot-test.sh [--image QCOW2] [--upgrade NEW_IMAGE] [--port N] [--timeout S] [--keep]
#
# --upgrade: after the second boot, replace the system partition with NEW_IMAGE's
# (image/upgrade.sh) and boot a third time; the data must still be there.
# The image itself is never modified: the VM runs on a qcow2 overlay in a temp dir.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=$SRC/image/out/fedgw.qcow2
PORT=
BOOT_TIMEOUT=300
KEEP=0
UPGRADE=
OVMF_CODE=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}

while [ $# -gt 0 ]; do
	case "$1" in
	--image) IMAGE=$(realpath "$2"); shift 2 ;;
	--upgrade) UPGRADE=$(realpath "$2"); shift 2 ;;
	--port) PORT=$2; shift 2 ;;
	--timeout) BOOT_TIMEOUT=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "boot-test.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
for tool in qemu-system-x86_64 qemu-img curl jq socat openssl; do
	command -v "$tool" >/dev/null || { echo "boot-test.sh: missing $tool" >&2; exit 1; }
done
[ -f "$IMAGE" ] || { echo "boot-test.sh: no image at $IMAGE (run image/build.sh)" >&2; exit 1; }

# A free high port on 127.0.0.1 for the forwarded console, below the ephemeral range
# (32768+) so that no outgoing connection holds it.
port_free() {
	/usr/bin/python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' \
		"$1" 2>/dev/null
}
pick_port() {
	for _ in $(seq 1 100); do
		PORT=$((20000 + RANDOM % 12000))
		port_free "$PORT" && return 0
	done
	echo "boot-test.sh: no free port" >&2
	exit 1
}
FIXED_PORT=$PORT
[ -n "$PORT" ] || pick_port

T0=$(date +%s)
now() { echo $(($(date +%s) - T0)); }
log() { printf '[%4ds] %s\n' "$(now)" "$*"; }
fail() {
	log "FAIL: $*"
	if [ -n "${SERIAL:-}" ] && [ -f "$SERIAL" ]; then
		echo "---- last 40 lines of $SERIAL ----"
		tail -n 40 "$SERIAL" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g'
	fi
	exit 1
}

TMP=$(mktemp -d /tmp/fedgw-boot-test.XXXXXX)
QPID=
SERIAL=
cleanup() {
	local rc=$?
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null || true
		for _ in $(seq 1 20); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.5; done
		kill -9 "$QPID" 2>/dev/null || true
	fi
	[ -n "$QPID" ] && wait "$QPID" 2>/dev/null || true
	if [ "$KEEP" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

qemu-img create -q -f qcow2 -F qcow2 -b "$IMAGE" "$TMP/disk.qcow2"
cp "$OVMF_VARS" "$TMP/vars.fd"

# restrict=on: the guest reaches nothing but the forwarded port (no outside network).
start_vm() {
	SERIAL=$TMP/serial-$1.log
	for _ in 1 2 3 4 5; do
		qemu-system-x86_64 -accel tcg -machine q35 -cpu max -smp 2 -m 1024 \
			-display none -serial "file:$SERIAL" \
			-monitor "unix:$TMP/monitor.sock,server,nowait" \
			-drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE" \
			-drive "if=pflash,format=raw,file=$TMP/vars.fd" \
			-drive "file=$TMP/disk.qcow2,if=virtio,format=qcow2,cache=unsafe" \
			-nic "user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:$PORT-:8443" \
			>"$TMP/qemu-$1.log" 2>&1 &
		QPID=$!
		for _ in 1 2 3 4 5 6; do kill -0 "$QPID" 2>/dev/null || break; sleep 0.5; done
		# Someone may have taken the port since it was picked: pick another one.
		if ! kill -0 "$QPID" 2>/dev/null && grep -q 'host forwarding' "$TMP/qemu-$1.log" &&
			[ -z "$FIXED_PORT" ]; then
			wait "$QPID" || true
			QPID=
			pick_port
			continue
		fi
		break
	done
	URL=https://127.0.0.1:$PORT
	log "boot $1: qemu pid $QPID, console forwarded to 127.0.0.1:$PORT"
}

URL=
JAR=$TMP/cookies
CSRF=
# api METHOD PATH [JSON]: sets CODE (HTTP status) and R (response body).
api() {
	local args=(-ks --max-time 20 -o "$TMP/body" -w '%{http_code}' -b "$JAR" -c "$JAR"
		-X "$1" -H 'X-Requested-With: fedgw' -H 'Accept: application/json')
	[ -n "$CSRF" ] && args+=(-H "X-CSRF-Token: $CSRF")
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	rm -f "$TMP/body"
	CODE=$(curl "${args[@]}" "$URL$2") || CODE=000
	R=$(cat "$TMP/body" 2>/dev/null || true)
}

wait_console() {
	local start deadline
	start=$(date +%s)
	deadline=$((start + BOOT_TIMEOUT))
	while :; do
		kill -0 "$QPID" 2>/dev/null || fail "qemu exited during boot ($(cat "$TMP"/qemu-*.log))"
		api GET /api/v1/setup
		if [ "$CODE" = 200 ] && echo "$R" | jq -e 'has("needed")' >/dev/null 2>&1; then
			log "console answers after $(($(date +%s) - start)) s: $R"
			SETUP_BODY=$R
			return
		fi
		[ "$(date +%s)" -lt "$deadline" ] || fail "console not up within $BOOT_TIMEOUT s"
		sleep 2
	done
}

powerdown() {
	local start
	start=$(date +%s)
	echo system_powerdown | socat - "UNIX-CONNECT:$TMP/monitor.sock" >/dev/null
	for _ in $(seq 1 240); do
		kill -0 "$QPID" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$QPID" 2>/dev/null; then
		echo quit | socat - "UNIX-CONNECT:$TMP/monitor.sock" >/dev/null 2>&1 || true
		fail "guest did not power off within 120 s"
	fi
	wait "$QPID" || true
	QPID=
	grep -q 'reboot: Power down' "$SERIAL" || fail "no clean power-down in the serial log"
	log "clean power-down in $(($(date +%s) - start)) s"
}

# ---- boot 1: first run ------------------------------------------------------------------
start_vm 1
wait_console
echo "$SETUP_BODY" | jq -e '.needed == true' >/dev/null || fail "fresh image does not need setup"
# fedgw made the console certificate at first start for the host name and addresses
# (10.0.2.15 is the guest's address on QEMU's user network).
SANS=$(openssl s_client -connect "${URL#https://}" </dev/null 2>/dev/null |
	openssl x509 -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')
log "console certificate SANs: $SANS"
echo "$SANS" | grep -q 'IPAddress:10.0.2.15' || fail "console certificate lacks the VM's address"
PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
BODY=$(jq -cn --arg p "$PASSWORD" '{name: "admin", password: $p}')
api POST /api/v1/setup "$BODY"
case "$CODE" in 200|201) ;; *) fail "setup: HTTP $CODE $R" ;; esac
CSRF=$(echo "$R" | jq -r '.csrf // empty')
[ -n "$CSRF" ] || fail "setup returned no csrf token: $R"
log "first-run setup done (admin $(echo "$R" | jq -r .admin))"
api GET /api/v1/setup
echo "$R" | jq -e '.needed == false' >/dev/null || fail "setup still needed after setup: $R"
BODY='{"name":"boot-test","common_name":"fedgw.test","dns_names":["fedgw.test"],"ip_addresses":["127.0.0.1"],"key_type":"ec-p256","days":30}'
api POST /api/v1/certificates/selfsigned "$BODY"
[ "$CODE" = 201 ] || fail "self-signed certificate: HTTP $CODE $R"
CERT_ID=$(echo "$R" | jq -r '.id')
[ -n "$CERT_ID" ] && [ "$CERT_ID" != null ] || fail "no certificate id: $R"
api GET /api/v1/certificates
echo "$R" | jq -e --arg id "$CERT_ID" '.certificates | any(.id == $id)' >/dev/null ||
	fail "new certificate not listed: $R"
log "certificate $CERT_ID created"
grep -q 'Console: https://' "$SERIAL" && log "banner on the serial console: $(grep -a -m1 'Console: https://' "$SERIAL" | tr -d '\r')"
# A getty on ttyS0 (serial console access), showing /etc/issue with the console URL.
for _ in $(seq 1 30); do grep -a -q 'fedgw login:' "$SERIAL" && break; sleep 1; done
grep -a -q 'fedgw login:' "$SERIAL" || fail "no login prompt on the serial console"
log "login prompt on ttyS0"
powerdown
BOOT1=$(now)

# ---- boot 2 (and 3, after an upgrade): everything must have survived -----------------
check_persisted() {
	rm -f "$JAR"
	CSRF=
	start_vm "$1"
	wait_console
	echo "$SETUP_BODY" | jq -e '.needed == false' >/dev/null || fail "setup needed again after reboot"
	BODY=$(jq -cn --arg p "$PASSWORD" '{name: "admin", password: $p}')
	api POST /api/v1/login "$BODY"
	case "$CODE" in 200|201) ;; *) fail "login after reboot: HTTP $CODE $R" ;; esac
	CSRF=$(echo "$R" | jq -r '.csrf // empty')
	api GET /api/v1/admins
	echo "$R" | jq -e '.admins | any(.name == "admin")' >/dev/null || fail "admin missing after reboot: $R"
	api GET /api/v1/certificates
	echo "$R" | jq -e --arg id "$CERT_ID" '.certificates | any(.id == $id and .name == "boot-test")' \
		>/dev/null || fail "certificate missing after reboot: $R"
	log "boot $1: admin and certificate $CERT_ID present"
	if grep -a -q 'FAILED' "$SERIAL"; then
		log "WARNING: failed units on boot $1:"
		grep -a 'FAILED' "$SERIAL" | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g'
	fi
	powerdown
}
check_persisted 2
BOOT2=$(now)
if [ -n "$UPGRADE" ]; then
	log "upgrading the system partition from $UPGRADE"
	"$SRC/image/upgrade.sh" "$TMP/disk.qcow2" "$UPGRADE" | sed 's/^/    /'
	check_persisted 3
fi

log "PASS: boot test (boot 1 cycle ${BOOT1} s, boot 2 cycle $((BOOT2 - BOOT1)) s, total $(now) s)"
