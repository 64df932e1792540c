#!/usr/bin/python3
"""interop_prosody: fedgw's XMPP federation (RFC 6120 s2s, XEP-0220 dialback, XEP-0178
SASL EXTERNAL, XEP-0199/0030/0092 answers, policy) against a real Prosody 0.12, inside a
network namespace with its own dnsmasq and test CA. Exit 77 = skipped.

  interop_prosody.py FEDGW [-k SUBSTRING]... [--selfcheck-only] [--keep]
"""

import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness as h  # noqa: E402

SKIP = 77


# ---- outer process: namespace set-up and tear-down -------------------------------------

def outer(args):
	if os.geteuid() != 0:
		print("interop: needs root (network namespace): skipped")
		return SKIP
	for tool in ("prosody", "prosodyctl", "dnsmasq", "ip", "openssl", "runuser"):
		if shutil.which(tool) is None:
			print("interop: %s not installed: skipped" % tool)
			return SKIP
	rc = subprocess.run(["/usr/bin/python3", "-c", "import slixmpp"], capture_output=True)
	if rc.returncode != 0:
		print("interop: python3-slixmpp not installed: skipped")
		return SKIP
	if not args.selfcheck_only and not os.access(args.fedgw, os.X_OK):
		print("interop: fedgw binary %s not built: skipped" % args.fedgw)
		return SKIP

	def inner_argv(work):
		argv = ["/usr/bin/python3", os.path.abspath(__file__), "--inner", "--work", work,
		        args.fedgw]
		for k in args.k or []:
			argv += ["-k", k]
		if args.selfcheck_only:
			argv.append("--selfcheck-only")
		return argv
	return h.netns_run("interop", "fgw-", "fedgw-interop.",
	                   [h.PROSODY_IP, h.GW_IP, h.EVIL_IP, h.DNS_IP], "", inner_argv, args.keep)


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("fedgw")
	ap.add_argument("-k", action="append", help="run scenarios whose name contains this")
	ap.add_argument("--selfcheck-only", action="store_true")
	ap.add_argument("--keep", action="store_true", help="keep logs and data after the run")
	ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
	ap.add_argument("--work", help=argparse.SUPPRESS)
	args = ap.parse_args()
	if args.inner:
		import suite
		return suite.inner(args)
	return outer(args)


if __name__ == "__main__":
	sys.exit(main())
