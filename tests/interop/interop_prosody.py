#!/usr/bin/python3
"""interop_prosody: fedgw's XMPP federation (RFC 6120 s2s, XEP-0220 dialback, XEP-0178
SASL EXTERNAL, XEP-0199/0030/0092 answers, policy) against a real Prosody 0.12, inside a
network namespace with its own dnsmasq and test CA. Exit 77 = skipped.

  interop_prosody.py FEDGW [-k SUBSTRING]... [--selfcheck-only] [--keep]
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

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
	ns = "fgw-%d" % os.getpid()
	etc = "/etc/netns/" + ns
	work = tempfile.mkdtemp(prefix="fedgw-interop.")
	os.chmod(work, 0o755)
	inner = None
	try:
		subprocess.run(["ip", "netns", "add", ns], check=True)
		os.makedirs(etc, exist_ok=True)
		# Every process in the namespace resolves through the test's dnsmasq only.
		with open(etc + "/resolv.conf", "w") as f:
			f.write("nameserver 127.0.0.53\noptions timeout:1 attempts:2\n")
		with open(etc + "/hosts", "w") as f:
			f.write("")
		subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
		# dnsmasq --bind-interfaces binds interface addresses only: name them on lo.
		for last in (2, 3, 4, 53):
			subprocess.run(["ip", "netns", "exec", ns, "ip", "addr", "add",
			                "127.0.0.%d/32" % last, "dev", "lo"], check=True)
		argv = ["ip", "netns", "exec", ns, "/usr/bin/python3", os.path.abspath(__file__),
		        "--inner", "--work", work, args.fedgw]
		for k in args.k or []:
			argv += ["-k", k]
		if args.selfcheck_only:
			argv.append("--selfcheck-only")
		inner = subprocess.Popen(argv, start_new_session=True)

		def forward(signum, _frame):
			if inner.poll() is None:
				inner.send_signal(signum)
		signal.signal(signal.SIGTERM, forward)
		signal.signal(signal.SIGINT, forward)
		return inner.wait()
	finally:
		if inner is not None and inner.poll() is None:
			inner.terminate()
			try:
				inner.wait(10)
			except subprocess.TimeoutExpired:
				inner.kill()
				inner.wait()
		subprocess.run(["ip", "netns", "del", ns], check=False)
		shutil.rmtree(etc, ignore_errors=True)
		if args.keep:
			print("interop: work files kept in " + work)
		else:
			shutil.rmtree(work, ignore_errors=True)


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
