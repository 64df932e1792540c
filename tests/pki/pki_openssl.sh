#!/bin/sh
# pki_openssl: checks pki's CSRs and self-signed certificates with the openssl CLI, and feeds
# an openssl-made CA/intermediate/leaf chain to pki's chain checker in right and wrong orders.
set -eu
tool="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for t in ec-p256 ec-p384 rsa-2048 rsa-3072; do
	d="$dir/$t"
	mkdir -p "$d"
	"$tool" gen "$t" "$d" || fail "gen $t"
	openssl req -verify -noout -in "$d/csr.pem" 2>&1 | grep -q "verify OK" || fail "$t: csr verify"
	openssl req -noout -text -in "$d/csr.pem" >"$d/csr.txt" || fail "$t: csr text"
	openssl x509 -noout -text -in "$d/self.pem" >"$d/self.txt" || fail "$t: x509 text"
	for f in csr self; do
		grep -q "DNS:host.example.test" "$d/$f.txt" || fail "$t $f: DNS SAN"
		grep -q "DNS:xmpp.example.test" "$d/$f.txt" || fail "$t $f: 2nd DNS SAN"
		grep -q "IP Address:192.0.2.10" "$d/$f.txt" || fail "$t $f: IPv4 SAN"
		grep -q "IP Address:2001:DB8:0:0:0:0:0:1" "$d/$f.txt" || fail "$t $f: IPv6 SAN"
		grep -q "_xmpp-server.example.test" "$d/$f.txt" || fail "$t $f: SRVName"
		grep -q "CN *= *host.example.test" "$d/$f.txt" || fail "$t $f: CN"
		if grep -q xmppAddr "$d/$f.txt"; then fail "$t $f: xmppAddr must be off"; fi
	done
	case "$t" in
	ec-p256) grep -q "NIST CURVE: P-256" "$d/self.txt" || fail "$t: key type" ;;
	ec-p384) grep -q "NIST CURVE: P-384" "$d/self.txt" || fail "$t: key type" ;;
	rsa-2048) grep -q "Public-Key: (2048 bit)" "$d/self.txt" || fail "$t: key type" ;;
	rsa-3072) grep -q "Public-Key: (3072 bit)" "$d/self.txt" || fail "$t: key type" ;;
	esac
	grep -q "CA:FALSE" "$d/self.txt" || fail "$t: basicConstraints"
	grep -q "TLS Web Server Authentication, TLS Web Client Authentication" "$d/self.txt" ||
		fail "$t: extendedKeyUsage"
	grep -q "Subject Key Identifier" "$d/self.txt" || fail "$t: SKI"
	openssl verify -CAfile "$d/self.pem" "$d/self.pem" >/dev/null 2>&1 || fail "$t: verify self"
	openssl pkey -in "$d/key.pem" -noout 2>/dev/null || fail "$t: key PKCS#8"
	"$tool" match "$d/key.pem" "$d/self.pem" || fail "$t: key match"
	"$tool" chain "$d/self.pem" >/dev/null || fail "$t: chain of one self-signed"
	echo "ok $t"
done
"$tool" match "$dir/ec-p256/key.pem" "$dir/ec-p384/self.pem" && fail "key mismatch not seen"

# A CA, an intermediate and a leaf made by openssl; the leaf with an RSA key.
c="$dir/chain"
mkdir -p "$c"
cd "$c"
cat >ext.cnf <<'CNF'
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[leaf]
basicConstraints = CA:FALSE
subjectAltName = DNS:host.example.com
[notca]
basicConstraints = CA:FALSE
CNF
q() { "$@" >/dev/null 2>&1 || fail "openssl: $*"; }
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key \
	-out root.pem -days 30 -subj "/CN=Root CA" -addext "basicConstraints=critical,CA:TRUE"
q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout int.key \
	-out int.csr -subj "/CN=Intermediate CA"
q openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -out int.pem \
	-days 30 -extfile ext.cnf -extensions ca
q openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr \
	-subj "/O=Example/CN=host.example.com"
q openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -out leaf.pem \
	-days 10 -sha384 -extfile ext.cnf -extensions leaf
# A "CA" that is not one: an end-entity certificate that signs another.
q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout nca.key \
	-out nca.csr -subj "/CN=Not A CA"
q openssl x509 -req -in nca.csr -CA root.pem -CAkey root.key -CAcreateserial -out nca.pem \
	-days 30 -extfile ext.cnf -extensions notca
q openssl x509 -req -in leaf.csr -CA nca.pem -CAkey nca.key -CAcreateserial -out leaf2.pem \
	-days 30 -extfile ext.cnf -extensions leaf

expect() { # expect <ok|bad> <grep pattern> files...
	want="$1"; pat="$2"; shift 2
	out=$("$tool" chain "$@" || true)
	echo "$out" | head -1 | grep -q "^$want" || fail "chain $*: wanted $want, got: $out"
	echo "$out" | grep -q -- "$pat" || fail "chain $*: no '$pat' in: $out"
}
expect ok "order=1,2,3" leaf.pem int.pem root.pem
expect ok "order=1,2" leaf.pem int.pem
expect bad "certificate 2 (CN=Root CA) does not sign certificate 1 (CN=host.example.com): certificate 3 (CN=Intermediate CA) does — the chain is out of order" leaf.pem root.pem int.pem
expect bad "order=1,3,2" leaf.pem root.pem int.pem
expect bad "certificate 1 (CN=Root CA) is not the leaf: certificate 3 (CN=host.example.com) is" root.pem int.pem leaf.pem
expect bad "order=3,2,1" root.pem int.pem leaf.pem
expect bad "intermediate certificate of its issuer (CN=Intermediate CA) is missing" leaf.pem root.pem
expect bad "certificate 2 (CN=Not A CA) signs certificate 1 (CN=host.example.com) but is not a CA" leaf2.pem nca.pem root.pem
# Twenty days from now the 10-day leaf has expired and the 30-day CAs have not.
PKI_NOW_MS=$(( ($(date +%s) + 20 * 86400) * 1000 )) expect bad \
	"certificate 1 (CN=host.example.com) expired on 20" leaf.pem int.pem root.pem
"$tool" match leaf.key leaf.pem || fail "openssl RSA key does not match its certificate"
"$tool" match int.key int.pem || fail "openssl EC key (PKCS#8) does not match"
openssl ec -in int.key -out int-sec1.key >/dev/null 2>&1
"$tool" match int-sec1.key int.pem || fail "SEC1 key does not match"
openssl rsa -in leaf.key -traditional -out leaf-pkcs1.key >/dev/null 2>&1
"$tool" match leaf-pkcs1.key leaf.pem || fail "PKCS#1 key does not match"
echo "ok chain"
