#!/bin/bash
# tls tests: regenerates test_certs.h (a test CA, EC and RSA leaves, a client and a rogue
# self-signed certificate, valid for 100 years) with the openssl CLI.
set -euo pipefail
out=${1:-$(dirname "$0")/test_certs.h}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
days=36500
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days $days -subj "/CN=fedgw test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out ca.pem
leaf() { # name keycmd cn
	local name=$1 cn=$3
	eval "$2"
	openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
	printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' "$cn" > "$name.ext"
	openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 \
		-days $days -extfile "$name.ext" -out "$name.pem" 2>/dev/null
}
leaf ec 'openssl ecparam -name prime256v1 -genkey -noout -out ec.key' console.test
leaf rsa 'openssl genrsa -traditional -out rsa.key 2048 2>/dev/null' console.test
leaf client 'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out client.key' peer.test
openssl ecparam -name prime256v1 -genkey -noout -out rogue.key
openssl req -x509 -new -key rogue.key -sha256 -days $days -subj "/CN=console.test" \
	-addext "subjectAltName=DNS:console.test" -out rogue.pem
emit() { # var file
	printf 'static const char %s[] =\n' "$1"
	sed 's/.*/\t"&\\n"/' "$2"
	printf '\t;\n\n'
}
{
	echo "/* tls tests: certificates made by make_test_certs.sh (test use only, never deployed). */"
	emit CA_PEM ca.pem
	emit EC_CHAIN_PEM ec.pem
	emit EC_KEY_PEM ec.key
	emit RSA_CHAIN_PEM rsa.pem
	emit RSA_KEY_PEM rsa.key
	emit CLIENT_CHAIN_PEM client.pem
	emit CLIENT_KEY_PEM client.key
	emit ROGUE_CHAIN_PEM rogue.pem
	emit ROGUE_KEY_PEM rogue.key
} > "$out"
