#!/usr/bin/python3
"""bench: XMPP s2s benchmark of fedgw against Prosody 0.12. Inside a network
namespace with its own dnsmasq and test CA (the interop harness), s2sload pushes XEP-0199
pings over 1, 10 and 100 dialback-authenticated streams (plaintext and STARTTLS) and holds
1,000 and 10,000 idle sessions; the target's CPU time comes from /proc/PID/stat and its
memory from VmRSS. Prints one table with both servers side by side. Run by hand as root:

  bench/run.sh [--targets prosody,fedgw] [--streams 1,10,100] [--idle 1000,10000]
               [--duration S] [--window W] [--keep]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "interop"))

import harness as h  # noqa: E402

LOAD_IP = "127.0.0.5"
DRIBBLE_IP = "127.0.0.6"
DRIBBLE_BACK_IP = "127.0.0.7"
# Source addresses for the load peer's streams: 10,000 sessions spread over 8 addresses
# stay far from the ~28,000 ephemeral ports one address gives towards one target.
SRC_IPS = ["127.0.0.%d" % i for i in range(10, 18)]
SKIP = 77


# ---- outer process: namespace set-up and tear-down -------------------------------------

def outer(args):
	if os.geteuid() != 0:
		print("bench: needs root (network namespace)")
		return SKIP
	for tool in ("prosody", "prosodyctl", "dnsmasq", "ip", "openssl", "runuser"):
		if shutil.which(tool) is None:
			print("bench: %s not installed" % tool)
			return SKIP
	for b in (args.fedgw, args.s2sload):
		if not os.access(b, os.X_OK):
			print("bench: %s not built" % b)
			return SKIP
	return h.netns_run("bench", "fgw-bench-", "fedgw-bench.",
	                   [h.PROSODY_IP, h.GW_IP, LOAD_IP, DRIBBLE_IP, DRIBBLE_BACK_IP, h.DNS_IP] +
	                   SRC_IPS, "",
	                   lambda work: ["/usr/bin/python3", os.path.abspath(__file__), "--inner",
	                                 "--work", work] + sys.argv[1:], args.keep)


# ---- inner process: targets and measurements ---------------------------------------------

def quiet_prosody(p):
	"""The harness logs at debug level for the interop tests; a benchmark logs warnings
	only, as a production Prosody would."""
	with open(p.cfg) as f:
		cfg = f.read()
	cfg = cfg.replace('levels = { min = "debug" }', 'levels = { min = "warn" }')
	with open(p.cfg, "w") as f:
		f.write(cfg)


def prosody_pid(p):
	"""runuser forks: the pidfile names the Prosody process itself."""
	path = os.path.join(p.dir, "prosody.pid")
	end = time.monotonic() + h.WAIT_S
	while time.monotonic() < end:
		try:
			with open(path) as f:
				return int(f.read().strip())
		except (OSError, ValueError):
			time.sleep(0.1)
	raise h.HarnessError("Prosody wrote no pidfile")


class Dribble:
	"""A TCP relay in front of the target that hands every byte the target sends to the
	load peer in its own segment (TCP_NODELAY, one-byte sends): checks that s2sload copes
	with input split anywhere (expat's reparse deferral, NOTES.md)."""

	def __init__(self, listen_ip, target_ip, port=5269, towards_target=False):
		self.target = (target_ip, port)
		self.towards_target = towards_target
		self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		self.srv.bind((listen_ip, port))
		self.srv.listen(64)
		self.bytes_dribbled = 0
		threading.Thread(target=self.accept_loop, daemon=True).start()

	def accept_loop(self):
		while True:
			try:
				a, _ = self.srv.accept()
			except OSError:
				return
			b = socket.create_connection(self.target)
			for s in (a, b):
				s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
			threading.Thread(target=self.pump, args=(a, b, self.towards_target),
			                 daemon=True).start()
			threading.Thread(target=self.pump, args=(b, a, not self.towards_target),
			                 daemon=True).start()

	def pump(self, src, dst, one_by_one):
		try:
			while True:
				data = src.recv(65536)
				if not data:
					break
				if one_by_one:
					for i in range(len(data)):
						dst.sendall(data[i:i + 1])
					self.bytes_dribbled += len(data)
				else:
					dst.sendall(data)
		except OSError:
			pass
		for s in (src, dst):
			try:
				s.shutdown(socket.SHUT_RDWR)
			except OSError:
				pass

	def close(self):
		# shutdown wakes the thread blocked in accept(); close alone leaves it listening
		try:
			self.srv.shutdown(socket.SHUT_RDWR)
		except OSError:
			pass
		self.srv.close()


class BenchProsody(h.Prosody):
	"""runuser's PAM session (pam_limits) sets the soft descriptor limit back to 1024 and
	Prosody does not raise it: it then stops accepting at about 1,000 sessions. Raise the
	soft limit to the hard one inside the prosody user's shell before starting it."""

	def start(self):
		self.proc = self.procs.start(
			["runuser", "-u", "prosody", "--", "/bin/sh", "-c",
			 'ulimit -n "$(ulimit -Hn)" && exec prosody --config "$1" -F', "sh", self.cfg],
			os.path.join(self.dir, "stdout.log"))
		if not h.wait_port(self.ip, 5222, proc=self.proc) or not h.wait_port(self.ip, 5269):
			raise h.HarnessError("Prosody %s did not start:\n%s" % (self.domain, self.tail()))


class Bench:
	def __init__(self, args):
		self.args = args
		self.work = args.work
		self.procs = h.Procs()
		self.results = []
		self.prosody = None
		self.fedgw = None

	def setup(self):
		h.dnsmasq_start(self.procs, self.work, [
			"--host-record=prosody.test,%s" % h.PROSODY_IP,
			"--host-record=gw.test,%s" % h.GW_IP,
			"--host-record=load.test,%s" % LOAD_IP,
			"--host-record=dribble.test,%s" % DRIBBLE_BACK_IP,
			"--srv-host=_xmpp-server._tcp.prosody.test,prosody.test,5269",
			"--srv-host=_xmpp-server._tcp.gw.test,gw.test,5269",
			"--srv-host=_xmpp-server._tcp.load.test,load.test,5269",
		])
		ca = self.ca = h.TestCA(self.work, "ca")
		self.certs = {
			"prosody": ca.leaf("prosody", ["prosody.test"], ["prosody.test"]),
			"gw": ca.leaf("gw", ["gw.test"], ["gw.test"]),
			"load": ca.leaf("load", ["load.test", "dribble.test"], ["load.test", "dribble.test"]),
		}

	# -- targets ------------------------------------------------------------------------
	def start_prosody(self, tls):
		if self.prosody is None:
			self.prosody = BenchProsody(self.procs, self.work, "prosody.test", h.PROSODY_IP)
		p = self.prosody
		p.stop()
		c, k = self.certs["prosody"]
		p.configure("tls-dialback" if tls else "plain", c, k, self.ca.cert)
		quiet_prosody(p)
		p.start()
		return prosody_pid(p)

	def start_fedgw(self, tls):
		if self.fedgw is None:
			self.fedgw = h.Fedgw(self.procs, self.work, self.args.fedgw)
		f = self.fedgw
		f.stop()
		f.init()
		mode = "tls_mode=required" if tls else "tls_mode=off"
		f.cli("xmpp", "set", "dns_servers=%s" % h.DNS_IP, "dns_transparent_zones=test",
		      "bind=%s" % h.GW_IP, "port=5269", "allow_system_ca=false", mode,
		      "require_client_cert=false", "sasl_external_in=false", "sasl_external_out=false")
		c, k = self.certs["gw"]
		f.cli("pki", "import", "gw", c, k)
		f.cli("pki", "import-ca", "testca", self.ca.cert)
		f.cli("xmpp", "domain", "add", "gw.test", "--cert", "gw")
		for dom in ("load.test", "dribble.test"):
			f.cli("xmpp", "allow", "add", dom, "--auth", "dialback", "--tls",
			      "required" if tls else "off")
		if self.args.massif:
			# fedgw under valgrind's heap profiler: where idle sessions' memory goes
			wrapper = os.path.join(self.work, "fedgw-massif.sh")
			with open(wrapper, "w") as w:
				w.write("#!/bin/sh\nexec valgrind --tool=massif --massif-out-file=%s/massif.%%p.out "
				        "%s \"$@\"\n" % (self.work, os.path.abspath(self.args.fedgw)))
			os.chmod(wrapper, 0o755)
			f.bin = wrapper
			try:
				f.start()
			finally:
				f.bin = self.args.fedgw
		else:
			f.start()
		return f.proc.pid

	def stop_targets(self):
		if self.prosody is not None:
			self.prosody.stop()
		if self.fedgw is not None:
			self.fedgw.stop()

	def start(self, target, tls):
		self.stop_targets()
		if target == "prosody":
			return self.start_prosody(tls), "prosody.test", h.PROSODY_IP
		return self.start_fedgw(tls), "gw.test", h.GW_IP

	# -- the load peer ------------------------------------------------------------------
	def s2sload(self, pid, domain, ip, tls, extra, timeout):
		argv = [self.args.s2sload, "--target-domain", domain, "--target-addr", ip,
		        "--listen", LOAD_IP, "--src", ",".join(SRC_IPS), "--target-pid", str(pid),
		        "--secret", "bench-load-secret"]
		if tls:
			c, k = self.certs["load"]
			argv += ["--tls", "--ca", self.ca.cert, "--cert", c, "--key", k]
		argv += extra
		h.log("  $ " + " ".join(os.path.basename(a) if a == self.args.s2sload else a
		                        for a in argv[1:]))
		try:
			p = subprocess.run(argv, capture_output=True, timeout=timeout)
		except subprocess.TimeoutExpired:
			return {"error": "s2sload timed out"}
		out = p.stdout.decode("utf-8", "replace")
		err = p.stderr.decode("utf-8", "replace")
		res = {"rc": p.returncode}
		for line in out.splitlines():
			if line.startswith("result "):
				for kv in line.split()[1:]:
					k, _, v = kv.partition("=")
					try:
						res[k] = float(v) if "." in v else int(v)
					except ValueError:
						res[k] = v
			elif line.startswith("last_error "):
				res["last_error"] = line[len("last_error "):]
		if err.strip():
			res["stderr"] = err.strip().splitlines()[-1]
		# the machine is shared: its load says how much CPU the target could get
		with open("/proc/loadavg") as f:
			res["loadavg1"] = float(f.read().split()[0])
		h.log("    " + json.dumps(res))
		return res

	def run_target(self, target):
		a = self.args
		for tls in (False, True):
			label = "TLS" if tls else "plaintext"
			h.log("%s, %s" % (target, label))
			pid, domain, ip = self.start(target, tls)
			if a.dribble:
				# our stream to the target through one relay; the target's stream back to
				# dribble.test (DNS: the second relay) through the other
				relay = Dribble(DRIBBLE_IP, ip)
				back = Dribble(DRIBBLE_BACK_IP, LOAD_IP, towards_target=True)
				res = self.s2sload(pid, domain, DRIBBLE_IP, tls,
				                   ["--domain", "dribble.test", "--streams", "2", "--window",
				                    "4", "--warmup", "0.5", "--duration", "2"], timeout=60)
				res["bytes_dribbled"] = relay.bytes_dribbled + back.bytes_dribbled
				relay.close()
				back.close()
				h.log("    dribble: %d + %d bytes from %s in one-byte segments, %s pings "
				      "answered" % (relay.bytes_dribbled, back.bytes_dribbled, target,
				                    res.get("pings")))
				self.results.append(dict(res, target=target, tls=tls, kind="dribble", n=2))
			for n in a.streams:
				perf = None
				if a.perf and target == "fedgw":
					# where fedgw's CPU goes while it answers pings (perf report -i FILE)
					out = os.path.join(a.perf, "perf-fedgw-%s-%d.data" % (label, n))
					perf = subprocess.Popen(["perf", "record", "-g", "-q", "-o", out, "-p",
					                         str(pid), "--", "sleep", str(a.warmup + a.duration)],
					                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
				res = self.s2sload(pid, domain, ip, tls,
				                   ["--streams", str(n), "--window", str(a.window),
				                    "--batch", str(a.batch),
				                    "--warmup", str(a.warmup), "--duration", str(a.duration)],
				                   timeout=a.duration + a.warmup + 120)
				if perf is not None:
					perf.wait(30)
				self.results.append(dict(res, target=target, tls=tls, kind="ping", n=n))
				if target == "prosody" and not self.alive_prosody():
					pid, domain, ip = self.start(target, tls)
			for n in a.idle:
				# a fresh process per count: memory freed by an earlier run is not
				# counted as free room for the next
				pid, domain, ip = self.start(target, tls)
				time.sleep(1.0)
				res = self.s2sload(pid, domain, ip, tls,
				                   ["--idle", "--streams", str(n), "--settle", "3",
				                    "--batch", str(a.batch), "--timeout", str(a.idle_timeout)],
				                   timeout=a.idle_timeout + 60)
				self.results.append(dict(res, target=target, tls=tls, kind="idle", n=n))
		self.stop_targets()

	def alive_prosody(self):
		return self.prosody.proc is not None and self.prosody.proc.poll() is None


# ---- the table ------------------------------------------------------------------------------

def find(results, target, tls, kind, n):
	for r in results:
		if r["target"] == target and r["tls"] == tls and r["kind"] == kind and r["n"] == n:
			return r
	return None


def fmt(v, nd=0):
	if v is None:
		return "-"
	return ("%%.%df" % nd) % v


def rate(r, n):
	"""pings/s, flagged when fewer streams than asked for authenticated."""
	v = fmt(r.get("rate"))
	got = r.get("authenticated")
	if v != "-" and got is not None and got != n:
		v += " (%s of %d streams)" % (got, n)
	return v


def busy(r):
	"""Share of one core the target used while measured: under 100 %, it waited for the
	load peer or for a core (load average in the JSON)."""
	if r.get("target_cpu_s") is None or not r.get("seconds"):
		return None
	return 100.0 * r["target_cpu_s"] / r["seconds"]


def ratio(a, b):
	if a is None or b is None or b == 0:
		return "-"
	return "%.2fx" % (a / b)


def table(results, args):
	lines = []
	lines.append("| measure | streams/sessions | TLS | Prosody | fedgw | fedgw/Prosody |")
	lines.append("|---|---|---|---|---|---|")
	for tls in (False, True):
		t = "yes" if tls else "no"
		for n in args.streams:
			p = find(results, "prosody", tls, "ping", n) or {}
			f = find(results, "fedgw", tls, "ping", n) or {}
			lines.append("| pings/s (round trips) | %d | %s | %s | %s | %s |" % (
				n, t, rate(p, n), rate(f, n), ratio(f.get("rate"), p.get("rate"))))
			lines.append("| target CPU µs per ping | %d | %s | %s | %s | %s |" % (
				n, t, fmt(p.get("cpu_us_per_ping"), 1), fmt(f.get("cpu_us_per_ping"), 1),
				ratio(f.get("cpu_us_per_ping"), p.get("cpu_us_per_ping"))))
			lines.append("| target CPU use, %% of one core | %d | %s | %s | %s | |" % (
				n, t, fmt(busy(p)), fmt(busy(f))))
			lines.append("| pings per target CPU-second | %d | %s | %s | %s | %s |" % (
				n, t, fmt(p.get("pings_per_cpu_s")), fmt(f.get("pings_per_cpu_s")),
				ratio(f.get("pings_per_cpu_s"), p.get("pings_per_cpu_s"))))
			lines.append("| latency p50 / p99 µs | %d | %s | %s / %s | %s / %s | |" % (
				n, t, fmt(p.get("p50_us")), fmt(p.get("p99_us")), fmt(f.get("p50_us")),
				fmt(f.get("p99_us"))))
	for tls in (False, True):
		t = "yes" if tls else "no"
		for n in args.idle:
			p = find(results, "prosody", tls, "idle", n) or {}
			f = find(results, "fedgw", tls, "idle", n) or {}
			lines.append("| kB per idle session (%s/%s authenticated) | %d | %s | %s | %s | %s |" % (
				fmt(p.get("authenticated")), fmt(f.get("authenticated")), n, t,
				fmt(p.get("kb_per_session"), 1), fmt(f.get("kb_per_session"), 1),
				ratio(f.get("kb_per_session"), p.get("kb_per_session"))))
	return "\n".join(lines)


def inner(args):
	b = Bench(args)
	rc = 0
	try:
		b.setup()
		for target in args.targets:
			try:
				b.run_target(target)
			except h.HarnessError as e:
				h.log("bench: %s failed: %s" % (target, e))
				rc = 1
	finally:
		b.stop_targets()
		b.procs.stop_all()
	out = table(b.results, args)
	print()
	print(out)
	with open(os.path.join(args.work, "results.json"), "w") as f:
		json.dump(b.results, f, indent=1)
	if args.out:
		with open(args.out, "w") as f:
			f.write(out + "\n")
		with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
			json.dump(b.results, f, indent=1)
	return rc


def int_list(s):
	return [int(x) for x in s.split(",") if x]


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("fedgw")
	ap.add_argument("s2sload")
	ap.add_argument("--targets", default="prosody,fedgw",
	                type=lambda s: [x for x in s.split(",") if x])
	ap.add_argument("--streams", default="1,10,100", type=int_list)
	ap.add_argument("--idle", default="1000,10000", type=int_list)
	ap.add_argument("--window", default=16, type=int, help="pings in flight per stream")
	ap.add_argument("--warmup", default=1.0, type=float)
	ap.add_argument("--duration", default=5.0, type=float)
	ap.add_argument("--idle-timeout", default=240.0, type=float)
	# Dialback handshakes in flight at once: a bounded burst, so the idle figures measure
	# sessions and not a queue of handshakes. (fedgw before 8af44eb verified 16 keys at a
	# time per authoritative server and dropped the rest; later builds queue them.)
	ap.add_argument("--batch", default=16, type=int)
	ap.add_argument("--out", help="also write the table (markdown) and the JSON here")
	ap.add_argument("--perf", metavar="DIR", help="perf record fedgw during each ping run")
	ap.add_argument("--massif", action="store_true",
	                help="run fedgw under valgrind --tool=massif (files in the work dir)")
	ap.add_argument("--dribble", action="store_true",
	                help="first check s2sload through a relay that splits input into single bytes")
	ap.add_argument("--table", metavar="JSON", help="print the table of an earlier run's JSON")
	ap.add_argument("--keep", action="store_true", help="keep logs and data after the run")
	ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
	ap.add_argument("--work", help=argparse.SUPPRESS)
	args = ap.parse_args()
	if args.table:
		with open(args.table) as f:
			print(table(json.load(f), args))
		return 0
	if args.inner:
		return inner(args)
	return outer(args)


if __name__ == "__main__":
	sys.exit(main())
