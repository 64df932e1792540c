#!/usr/bin/python3
"""interop_sip: fedgw's SIP gateway end to end with real peers. SIP user
agents (a Python UA, sipsak, sipp) register with Kamailio (the Access Edge: UDP/TCP toward
the UAs, mutual TLS on 5061 toward fedgw), fedgw translates (RFC 7247, RFC 7572, RFC 8048)
and federates over XMPP s2s with Prosody 0.12, where slixmpp clients read and write. All of
it inside a network namespace with its own dnsmasq and test CA. Exit 77 = skipped.

  interop_sip.py FEDGW SEED [-k SUBSTRING]... [--keep]
"""

import argparse
import os
import shutil
import subprocess
import sys

# no __pycache__ in the source tree
sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(HERE, "..", "interop"))

import harness as h  # noqa: E402

SKIP = 77
TOOLS = ("prosody", "prosodyctl", "dnsmasq", "ip", "openssl", "runuser", "kamailio", "sipp",
         "sipsak", "stunnel4")
# every address the topology names, put on lo inside the namespace (dnsmasq binds to it)
ADDRS = (2, 3, 5, 6, 7, 8, 53)


def outer(args):
	if os.geteuid() != 0:
		print("interop_sip: needs root (network namespace): skipped")
		return SKIP
	for tool in TOOLS:
		if shutil.which(tool) is None:
			print("interop_sip: %s not installed: skipped" % tool)
			return SKIP
	import sipedge
	if sipedge.kamailio_mpath() is None:
		print("interop_sip: kamailio-tls-modules not installed: skipped")
		return SKIP
	rc = subprocess.run(["/usr/bin/python3", "-c", "import slixmpp"], capture_output=True)
	if rc.returncode != 0:
		print("interop_sip: python3-slixmpp not installed: skipped")
		return SKIP
	for b in (args.fedgw, args.seed):
		if not os.access(b, os.X_OK):
			print("interop_sip: %s not built: skipped" % b)
			return SKIP

	def inner_argv(work):
		argv = ["/usr/bin/python3", os.path.abspath(__file__), "--inner", "--work", work,
		        args.fedgw, args.seed]
		for k in args.k or []:
			argv += ["-k", k]
		return argv
	return h.netns_run("interop_sip", "fgw-sip-", "fedgw-interop-sip.",
	                   ["127.0.0.%d" % last for last in ADDRS], "127.0.0.1 localhost\n",
	                   inner_argv, args.keep)


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("fedgw")
	ap.add_argument("seed")
	ap.add_argument("-k", action="append", help="run scenarios whose name contains this")
	ap.add_argument("--keep", action="store_true", help="keep logs and data after the run")
	ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
	ap.add_argument("--work", help=argparse.SUPPRESS)
	args = ap.parse_args()
	if args.inner:
		import sipsuite
		return sipsuite.inner(args)
	return outer(args)


if __name__ == "__main__":
	sys.exit(main())
