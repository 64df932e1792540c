#!/bin/sh
# bench/sip/run.sh: the SIP -> XMPP relay benchmark, fedgw against Kamailio's xmpp gateway
# module, same sipp load, same Prosody, one run (docs/bench-sip.md). By hand, as
# root, never in CI. Needs prosody, dnsmasq, sip-tester (sipp), kamailio, and to rebuild
# Kamailio's xmpp module: dpkg-dev, build-essential, libexpat1-dev and a deb-src line.
#   bench/sip/run.sh [BUILD_DIR] [--kamailio-dir DIR] [--no-kamailio]
#                    [--rates 500,1000,2000,3000,6000] [--duration S] [--out FILE] [--keep]
# BUILD_DIR (default build/sipbench) holds an optimised build without sanitizers:
#   cmake -S . -B build/sipbench -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build/sipbench --target fedgw -j2
#
# Kamailio 5.6.3's packaged xmpp module crashes on the first stream header it parses
# (kamailio/kamailio#4154: its expat attribute loop tests *atts[i] instead of atts[i], and
# reads past the NULL that ends the list). This script fetches Debian's source package of
# the installed Kamailio into DIR (default /var/tmp/fedgw-sipbench-kamailio, outside the
# repository), fixes that one loop with sed, and builds that one module with Debian's
# flags; nothing of Kamailio's code is kept in this repository.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build="$here/../../build/sipbench"
case "${1:-}" in
--* | "") ;;
*) build=$1; shift ;;
esac
kamdir=/var/tmp/fedgw-sipbench-kamailio
kam=yes
pass=""
while [ $# -gt 0 ]; do
	case "$1" in
	--kamailio-dir) kamdir=$2; shift 2 ;;
	--no-kamailio) kam=no; shift ;;
	*) pass="$pass $1"; shift ;;
	esac
done
fedgw="$build/core/daemon/fedgw"
if [ ! -x "$fedgw" ]; then
	echo "sipbench: $fedgw is not built (see the top of this script)" >&2
	exit 1
fi

# Rebuilds xmpp.so once; prints why when it cannot.
kamailio_module() {
	so="$kamdir/xmpp.so"
	[ -f "$so" ] && return 0
	command -v kamailio >/dev/null || { echo "kamailio is not installed"; return 1; }
	ver=$(dpkg-query -W -f '${Version}' kamailio 2>/dev/null) ||
		{ echo "kamailio is not a Debian package here"; return 1; }
	upver=${ver%-*}
	mkdir -p "$kamdir"
	cd "$kamdir"
	if [ ! -f "kamailio_$upver.orig.tar.gz" ]; then
		if ! apt-get source --download-only "kamailio=$ver" >apt-source.log 2>&1; then
			echo "apt-get source kamailio=$ver failed (a deb-src line for bookworm is" \
				"needed in /etc/apt/sources.list.d/, then apt-get update): $(tail -1 apt-source.log)"
			return 1
		fi
	fi
	rm -rf "kamailio-$upver"
	tar xzf "kamailio_$upver.orig.tar.gz"
	src="kamailio-$upver/src"
	for f in "$src/modules/xmpp/xstream.c" "$src/modules/xmpp/xode_from.c"; do
		# the attribute list ends with a NULL pointer, not with an empty string
		sed -i "s/while (\*(atts\[i\]) != '\\\\0')/while (atts[i] != NULL)/" "$f"
		grep -q 'while (atts\[i\] != NULL)' "$f" ||
			{ echo "the attribute loop in $f is not the one expected: not rebuilt"; return 1; }
	done
	# Its server backend also writes <message xmlns='jabber:client'> on s2s streams, which
	# Prosody 0.12 drops ("Unhandled s2sin stanza") and answers service-unavailable: on a
	# server-to-server stream stanzas are qualified by jabber:server (RFC 6120 §4.8.3).
	f="$src/modules/xmpp/xmpp_server.c"
	sed -i 's/xode_put_attrib(x, "xmlns", "jabber:client");/xode_put_attrib(x, "xmlns", "jabber:server");/' "$f"
	grep -q '"xmlns", "jabber:server"' "$f" ||
		{ echo "the message namespace in $f is not the one expected: not rebuilt"; return 1; }
	# Debian's configure step (debian/rules), so the module's compile flags match the core's
	flags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) -DVERSION_NODATE"
	if ! make -C "kamailio-$upver" cfg quiet=verbose prefix=/usr FLAVOUR=kamailio \
		CC_EXTRA_OPTS="$flags" LD_EXTRA_OPTS="$(dpkg-buildflags --get LDFLAGS)" \
		group_include=kstandard >build.log 2>&1 ||
		! make -C "$src/modules/xmpp" quiet=verbose >>build.log 2>&1; then
		echo "building the xmpp module failed (libexpat1-dev, build-essential?): see $kamdir/build.log"
		return 1
	fi
	cp "$src/modules/xmpp/xmpp.so" "$so"
	rm -rf "kamailio-$upver"
}

kamarg=""
if [ "$kam" = yes ]; then
	if why=$(kamailio_module); then
		kamarg="--kamailio-module $kamdir/xmpp.so"
	else
		echo "sipbench: Kamailio's side cannot run: $why" >&2
		pass="$pass --targets fedgw"
	fi
else
	pass="$pass --targets fedgw"
fi
# -n: one descriptor per TCP connection in sipp, plus Prosody's and the gateways'
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# shellcheck disable=SC2086
exec /usr/bin/python3 -B "$here/run.py" "$fedgw" $kamarg $pass
