#!/bin/bash
# backup_cli: `fedgw backup` / `fedgw restore` while `fedgw serve` runs on 127.0.0.1: the
# daemon serves the restored console certificate and admins without a restart.
# Exit 77 = skipped (binary not built).
set -u
fedgw=${1:-}
if [ -z "$fedgw" ] || [ ! -x "$fedgw" ]; then
	echo "fedgw binary not built: skipped"
	exit 77
fi
work=$(mktemp -d /tmp/fedgw-backup-cli.XXXXXX)
data="$work/data"
pid=""
failures=0
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	rm -rf "$work"
}
trap cleanup EXIT
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; failures=$((failures + 1)); }
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$(shuf -i 20000-60000 -n 1)
		if ! ss -Htln "sport = :$p" | grep -q .; then echo "$p"; return; fi
	done
	echo 0
}
fg() { "$fedgw" --data-dir "$data" "$@"; }
# The SHA-256 fingerprint of the certificate the console presents now.
served_fp() {
	timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
pem_fp() { fg pki pem "$1" | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2; }
# login NAME PASSWORD: prints the HTTP status of a console login.
login() {
	curl -sk --max-time 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		-H 'X-Requested-With: fedgw' \
		-d "{\"name\":\"$1\",\"password\":\"$2\"}" "https://127.0.0.1:$port/api/v1/login"
}

umask 077
printf 'first admin password\n' >"$work/pw"
printf 'a backup passphrase\n' >"$work/pass"

# 1. A configuration: admin alice, the console certificate "before".
fg init --admin-name alice --admin-password-file "$work/pw" --hostname localhost >/dev/null ||
	{ echo "fedgw init failed"; exit 1; }
fg pki selfsign before CN:localhost subAltName:localhost,127.0.0.1 >/dev/null &&
	fg pki console before >/dev/null || { echo "console certificate setup failed"; exit 1; }
before_fp=$(pem_fp before)

port=$(free_port)
"$fedgw" serve --data-dir "$data" --console-bind 127.0.0.1 --console-port "$port" \
	>"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	grep -q "listening on https://127.0.0.1:$port/" "$work/serve.log" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q "listening on https://127.0.0.1:$port/" "$work/serve.log"; then
	echo "fedgw serve did not start listening:"; tail -30 "$work/serve.log"
	exit 1
fi
if [ "$(served_fp)" = "$before_fp" ]; then ok "daemon serves certificate \"before\""; else
	bad "daemon does not serve \"before\""; fi

# 2. Backup while the daemon runs; a short passphrase is refused.
printf 'too short\n' >"$work/short"
if fg backup "$work/b.fgbk" --passphrase-file "$work/short" >/dev/null 2>&1; then
	bad "short passphrase accepted"; else ok "passphrase under 12 characters refused"; fi
if fg backup "$work/b.fgbk" --passphrase-file "$work/pass" >"$work/backup.out" 2>&1; then
	ok "backup written"
else
	bad "backup failed"; cat "$work/backup.out"
fi
mode=$(stat -c %a "$work/b.fgbk" 2>/dev/null)
if [ "$mode" = "600" ]; then ok "backup file mode 0600"; else bad "backup file mode $mode"; fi
if head -c 8 "$work/b.fgbk" | grep -q FEDGWBK1; then ok "backup magic FEDGWBK1"; else
	bad "backup magic"; fi
if grep -aq "BEGIN PRIVATE KEY" "$work/b.fgbk"; then bad "private key readable in the file"; else
	ok "no private key in clear in the file"; fi

# 3. Change the configuration: admin bob, console certificate "after".
printf 'second admin password\n' >"$work/pw2"
fg admin add bob --password-file "$work/pw2" >/dev/null || bad "admin add bob"
fg pki selfsign after CN:localhost subAltName:localhost,127.0.0.1 >/dev/null &&
	fg pki console after >/dev/null || bad "console certificate after"
after_fp=$(pem_fp after)
for _ in $(seq 1 30); do [ "$(served_fp)" = "$after_fp" ] && break; sleep 0.2; done
if [ "$(served_fp)" = "$after_fp" ]; then ok "daemon serves certificate \"after\""; else
	bad "daemon did not switch to \"after\""; fi
if [ "$(login bob 'second admin password')" = "200" ]; then ok "bob logs in before the restore"
else bad "bob cannot log in before the restore"; fi

# 4. A wrong passphrase changes nothing.
printf 'not the passphrase\n' >"$work/wrong"
if fg restore "$work/b.fgbk" --passphrase-file "$work/wrong" >"$work/wrong.out" 2>&1; then
	bad "restore with a wrong passphrase succeeded"
elif grep -q "wrong passphrase, or the file is damaged" "$work/wrong.out"; then
	ok "wrong passphrase refused with a clear message"
else
	bad "wrong passphrase message"; cat "$work/wrong.out"
fi

# 5. Restore while the daemon runs: it serves "before" again and bob is gone.
if fg restore "$work/b.fgbk" --passphrase-file "$work/pass" >"$work/restore.out" 2>&1 &&
	grep -q "^Restored [0-9]* records" "$work/restore.out"; then
	ok "restore: $(head -1 "$work/restore.out")"
else
	bad "restore failed"; cat "$work/restore.out"
fi
for _ in $(seq 1 30); do [ "$(served_fp)" = "$before_fp" ] && break; sleep 0.2; done
if [ "$(served_fp)" = "$before_fp" ]; then ok "daemon serves the restored certificate"; else
	bad "daemon still serves another certificate after the restore"; tail -20 "$work/serve.log"; fi
admins=$(fg admin list)
if grep -q "^alice " <<<"$admins" && ! grep -q "^bob " <<<"$admins"; then
	ok "admin list is the restored one"
else
	bad "admin list after the restore"; echo "$admins"
fi
certs=$(fg pki list)
if grep -q "before" <<<"$certs" && ! grep -q "after" <<<"$certs"; then
	ok "pki list is the restored one"
else
	bad "pki list after the restore"; echo "$certs"
fi
if [ "$(login bob 'second admin password')" = "401" ]; then ok "daemon refuses bob after the restore"
else bad "bob still logs in after the restore"; fi
if [ "$(login alice 'first admin password')" = "200" ]; then ok "alice logs in after the restore"
else bad "alice cannot log in after the restore"; fi
if ! grep -aq "a backup passphrase" "$work/serve.log"; then ok "passphrase not in the daemon log"
else bad "passphrase logged"; fi
if kill -0 "$pid" 2>/dev/null; then ok "daemon still running"; else bad "daemon stopped"; fi

if [ "$failures" -ne 0 ]; then echo "$failures check(s) failed"; exit 1; fi
echo "all checks passed"
