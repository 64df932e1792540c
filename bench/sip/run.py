#!/usr/bin/python3
"""sipbench: SIP <-> XMPP relay benchmark of fedgw against Kamailio 5.6's xmpp gateway module
Inside a network namespace with its own dnsmasq (the interop harness), both directions:
- SIP -> XMPP: sipp sends page-mode MESSAGEs (RFC 3428) over TCP at stepped rates to the
  gateway under test, which relays them over XMPP s2s (dialback, no TLS on either side) to
  one Prosody 0.12 where a raw-XML sink client (sink.py) counts them and measures latency
  from the epoch timestamp sipp wrote into each body;
- XMPP -> SIP: a client of the same Prosody (xload.py) sends <message/> stanzas at the same
  stepped rates to users of the gateway's domain; Prosody routes them over s2s to the
  gateway, which sends them as MESSAGEs over TCP to its next hop, a SIP sink (sipsink.py)
  that answers 200 and counts them.
The gateway's CPU time comes from /proc/PID/stat (all its processes), its memory from VmRSS
and Pss. Prints one table per direction with both gateways side by side.

  run.py FEDGW [--kamailio-module XMPP_SO] [--rates 500,1000,2000,3000,6000]
         [--duration S] [--targets fedgw,kamailio] [--directions sip-xmpp,xmpp-sip]
         [--out FILE] [--keep]
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "interop"))

import harness as h  # noqa: E402

LOAD_IP = "127.0.0.5"
KAM_IP = "127.0.0.6"
NEXTHOP_IP = "127.0.0.7"
SIP_DOMAIN = "sip.test"  # served by fedgw
KSIP_DOMAIN = "ksip.test"  # served by Kamailio's xmpp module
SINK = ("sink", "sink-pw-0")
LOAD = ("load", "load-pw-0")
X_USERS = 100  # XMPP -> SIP stanzas go round-robin to this many users of the gateway's domain
DIRECTIONS = ("sip-xmpp", "xmpp-sip")
SKIP = 77
KAM_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
# sipp's [timestamp] ends with the epoch time; "r=" names the step so the sink keeps each
# step's figures apart.
SIPP_MESSAGE = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="sipbench MESSAGE">
<send><![CDATA[
MESSAGE sip:{to} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:dave@{frm}>;tag=[call_number]
To: <sip:{to}>
Call-ID: [call_id]
CSeq: 1 MESSAGE
Max-Forwards: 70
Content-Type: text/plain;charset=UTF-8
Content-Length: [len]

r={run} n=[call_number] t=[timestamp]
]]></send>
<recv response="100" optional="true"/>
<recv response="503" optional="true" next="busy"/>
<recv response="202"/>
<label id="busy"/>
</scenario>
"""


# ---- outer process: namespace set-up and tear-down -------------------------------------

def outer(args):
	if os.geteuid() != 0:
		print("sipbench: needs root (network namespace)")
		return SKIP
	for tool in ("prosody", "prosodyctl", "dnsmasq", "ip", "runuser", "sipp"):
		if shutil.which(tool) is None:
			print("sipbench: %s not installed" % tool)
			return SKIP
	if not os.access(args.fedgw, os.X_OK):
		print("sipbench: %s not built" % args.fedgw)
		return SKIP
	return h.netns_run("sipbench", "fgw-sipbench-", "fedgw-sipbench.",
	                   [h.PROSODY_IP, h.GW_IP, LOAD_IP, KAM_IP, NEXTHOP_IP, h.DNS_IP],
	                   "127.0.0.1 localhost\n",
	                   lambda work: ["/usr/bin/python3", os.path.abspath(__file__), "--inner",
	                                 "--work", work] + sys.argv[1:], args.keep)


# ---- measurements -------------------------------------------------------------------------

def proc_tree(root):
	"""root and every descendant (Kamailio forks its workers and the xmpp process)."""
	kids = {}
	for d in os.listdir("/proc"):
		if not d.isdigit():
			continue
		try:
			with open("/proc/%s/stat" % d) as f:
				st = f.read()
		except OSError:
			continue
		ppid = int(st[st.rindex(")") + 2:].split()[1])
		kids.setdefault(ppid, []).append(int(d))
	out, todo = [], [root]
	while todo:
		p = todo.pop()
		out.append(p)
		todo += kids.get(p, [])
	return out


def cpu_split(pids):
	"""(user, system) CPU seconds of the processes: the system part is what the kernel
	spent on their behalf (socket reads and writes, the receiver's TCP path on loopback,
	epoll and the context switches)."""
	tick = os.sysconf("SC_CLK_TCK")
	user = system = 0
	for p in pids:
		try:
			with open("/proc/%d/stat" % p) as f:
				st = f.read()
		except OSError:
			continue
		fields = st[st.rindex(")") + 2:].split()
		user += int(fields[11])
		system += int(fields[12])
	return user / tick, system / tick


def cpu_s(pids):
	return sum(cpu_split(pids))


def mem_kb(pids):
	"""(sum of VmRSS, sum of Pss): Kamailio's workers share one memory pool, which VmRSS
	counts once per process and Pss divides among them."""
	rss = pss = 0
	for p in pids:
		try:
			with open("/proc/%d/status" % p) as f:
				for line in f:
					if line.startswith("VmRSS:"):
						rss += int(line.split()[1])
			with open("/proc/%d/smaps_rollup" % p) as f:
				for line in f:
					if line.startswith("Pss:"):
						pss += int(line.split()[1])
		except OSError:
			continue
	return rss, pss


def measured(st, c0, c1, prosody_cpu, rss, pss):
	"""A step's figures common to both directions, from the sink's stats and CPU deltas
	(c0, c1: the gateway's cpu_split before and after)."""
	span = (st["last"] - st["first"]) if st["first"] else 0.0
	n = st["unique"]
	cpu = (c1[0] - c0[0]) + (c1[1] - c0[1])
	system = c1[1] - c0[1]
	return {
		"delivered": n, "dups": st["dups"],
		"delivered_per_s": round(n / span, 1) if span > 0 else 0,
		"p50_ms": st["p50_ms"], "p99_ms": st["p99_ms"], "max_ms": st["max_ms"],
		"cpu_s": round(cpu, 3),
		"cpu_us_per_msg": round(cpu * 1e6 / n, 1) if n else None,
		"sys_us_per_msg": round(system * 1e6 / n, 1) if n else None,
		"rss_kb": rss, "pss_kb": pss,
		"prosody_cpu_s": round(prosody_cpu, 3),
		"prosody_us_per_msg": round(prosody_cpu * 1e6 / n, 1) if n else None,
		# the machine is shared: the load average says when others competed for it
		"loadavg_1m": round(os.getloadavg()[0], 2),
	}


class Child:
	"""sink.py, sipsink.py or xload.py: commands on stdin, one JSON line back for each."""

	def __init__(self, procs, work, script, argv):
		name = script[:-3]
		self.proc = subprocess.Popen(
			["/usr/bin/python3", "-B", os.path.join(HERE, script)] + argv,
			stdin=subprocess.PIPE, stdout=subprocess.PIPE,
			stderr=open(os.path.join(work, name + ".err"), "wb"), start_new_session=True)
		procs.procs.append(self.proc)
		line = self.proc.stdout.readline()
		if not line:
			raise h.HarnessError("%s did not start: " % name +
			                     open(os.path.join(work, name + ".err")).read())

	def ask(self, cmd):
		self.proc.stdin.write((cmd + "\n").encode())
		self.proc.stdin.flush()
		return json.loads(self.proc.stdout.readline())


def sipp_counts(work, tag):
	"""(202s, 503s) from sipp's -trace_counts file: one row per second, the last one final;
	columns <index>_<code>_Recv."""
	ok = busy = 0
	for name in os.listdir(work):
		if name.startswith("sipp-%s_" % tag) and name.endswith("_counts.csv"):
			with open(os.path.join(work, name)) as f:
				rows = [r.strip().split(";") for r in f if r.strip()]
			if len(rows) < 2:
				continue
			d = dict(zip(rows[0], rows[-1]))
			for k, v in d.items():
				if k.endswith("_202_Recv"):
					ok = int(v or 0)
				elif k.endswith("_503_Recv"):
					busy = int(v or 0)
	return ok, busy


def sipp_stat(work, tag):
	for name in os.listdir(work):
		if name.startswith("sipp-%s_" % tag) and name.endswith(".csv") and "_counts" not in name:
			with open(os.path.join(work, name)) as f:
				rows = [r.strip().split(";") for r in f if r.strip()]
			if len(rows) >= 2:
				d = dict(zip(rows[0], rows[-1]))
				return {k: d.get(k) for k in ("TotalCallCreated", "SuccessfulCall(C)",
				                              "FailedCall(C)", "FailedUnexpectedMessage(C)",
				                              "FailedCallRejected(C)",
				                              "FailedMaxUDPRetrans(C)", "FailedTcpConnect(C)",
				                              "FailedTcpClosed(C)", "FailedCmdNotSent(C)")}
	return {}


class Bench:
	def __init__(self, args):
		self.args = args
		self.work = args.work
		self.procs = h.Procs()
		self.rows = {}

	def setup(self):
		h.dnsmasq_start(self.procs, self.work, [
			"--host-record=prosody.test,%s" % h.PROSODY_IP,
			"--host-record=gw.test,%s" % h.GW_IP,
			"--host-record=edge.test,%s" % NEXTHOP_IP,
			"--host-record=kam.test,%s" % KAM_IP,
			# Kamailio's xmpp module listens on the address of its XMPP domain's name and
			# connects to a peer's name on 5269 (no SRV)
			"--host-record=%s,%s" % (KSIP_DOMAIN, KAM_IP),
			"--srv-host=_xmpp-server._tcp.prosody.test,prosody.test,5269",
			"--srv-host=_xmpp-server._tcp.%s,gw.test,5269" % SIP_DOMAIN,
			"--srv-host=_xmpp-server._tcp.gw.test,gw.test,5269",
			"--srv-host=_xmpp-server._tcp.%s,kam.test,5269" % KSIP_DOMAIN,
		])
		p = self.prosody = h.Prosody(self.procs, self.work, "prosody.test", h.PROSODY_IP)
		p.configure("plain")
		with open(p.cfg) as f:
			cfg = f.read()
		# a benchmark logs warnings only, as a production Prosody would
		if not self.args.prosody_debug:
			cfg = cfg.replace('levels = { min = "debug" }', 'levels = { min = "warn" }')
		# Nagle off on Prosody's sockets (as fedgw and sipp have it): otherwise a stanza
		# Prosody writes to the sink, which never writes back, waits for the sink's delayed
		# ACK (40 ms) whenever the previous segment is still unacknowledged, and that wait
		# would be counted against whichever gateway is under test.
		# (a global option: it must come before the first VirtualHost line)
		cfg = cfg.replace("\nVirtualHost ", "\nnetwork_settings = { nagle = false }\n\nVirtualHost ", 1)
		with open(p.cfg, "w") as f:
			f.write(cfg)
		p.register(SINK[0], SINK[1])
		p.register(LOAD[0], LOAD[1])
		p.start()
		self.prosody_pid = p.proc.pid  # runuser and Prosody under it (proc_tree)
		if "xmpp-sip" in self.args.directions:
			# the next hop of both gateways
			self.sipsink = Child(self.procs, self.work, "sipsink.py", [NEXTHOP_IP, "5060"])
			self.xload = Child(self.procs, self.work, "xload.py",
			                   [h.PROSODY_IP, "5222", "prosody.test", LOAD[0], LOAD[1]])
		self.sink = Child(self.procs, self.work, "sink.py", [h.PROSODY_IP, "5222", "prosody.test", SINK[0], SINK[1]])
		r = self.sink.ask("cpu")
		self.sink_cpu0 = r["cpu_s"]

	# -- targets --------------------------------------------------------------------------
	def start_fedgw(self):
		f = self.fedgw = h.Fedgw(self.procs, self.work, self.args.fedgw)
		f.init()
		f.cli("xmpp", "set", "dns_servers=%s" % h.DNS_IP, "dns_transparent_zones=test",
		      "bind=%s" % h.GW_IP, "port=5269", "allow_system_ca=false", "tls_mode=off",
		      "require_client_cert=false", "sasl_external_in=false", "sasl_external_out=false")
		f.cli("xmpp", "allow", "add", "prosody.test", "--auth", "dialback", "--tls", "off")
		# SIP over plain TCP (the trusted-network transport, as Kamailio's side has it);
		# the next hop, edge.test, is sipsink.py (XMPP -> SIP); sipp sends from LOAD_IP
		f.cli("sip", "set", "fqdn=gw.test", "bind=" + h.GW_IP, "tcp_port=5060", "tls_port=0",
		      "max_pending=%d" % self.args.max_pending)
		f.cli("sip", "domain", "add", SIP_DOMAIN, "--next-hop", "edge.test", "--port", "5060",
		      "--transport", "tcp", "--xmpp-domain", SIP_DOMAIN, "--trusted", LOAD_IP)
		f.start()
		if not h.wait_port(h.GW_IP, 5060, proc=f.proc):
			raise h.HarnessError("fedgw does not listen on SIP TCP 5060:\n" + f.tail())
		return f.proc.pid, (h.GW_IP, SIP_DOMAIN)

	def start_kamailio(self):
		d = os.path.join(self.work, "kamailio")
		os.makedirs(d, exist_ok=True)
		cfg = os.path.join(d, "kamailio.cfg")
		with open(cfg, "w") as f:
			f.write(KAMAILIO_CFG.format(ip=KAM_IP, domain=KSIP_DOMAIN, mpath=KAM_MODULES,
			                            nexthop=NEXTHOP_IP,
			                            xmpp_so=os.path.abspath(self.args.kamailio_module),
			                            children=self.args.kam_children,
			                            debug=self.args.kam_debug))
		h.run(["kamailio", "-c", "-f", cfg])
		pidfile = os.path.join(d, "kamailio.pid")
		self.kam = self.procs.start(["kamailio", "-f", cfg, "-P", pidfile, "-DD", "-E",
		                             "-m", "256", "-M", "32"], os.path.join(d, "kamailio.log"))
		if not h.wait_port(KAM_IP, 5060, proc=self.kam) or not h.wait_port(KAM_IP, 5269):
			raise h.HarnessError("Kamailio did not start:\n" + tail(os.path.join(d, "kamailio.log")))
		return self.kam.pid, (KAM_IP, KSIP_DOMAIN)

	# -- one step ------------------------------------------------------------------------
	def perf_start(self, target, pid, rate, tag):
		if not self.args.perf or target != "fedgw" or rate != self.args.perf_rate:
			return None
		# where the gateway's time goes: call graphs for the whole step, and how often it
		# enters the kernel and is switched out
		rec = subprocess.Popen(["perf", "record", "-F", str(self.args.perf_freq),
		                        "--call-graph", "dwarf,16384", "-p", str(pid), "-o",
		                        os.path.join(self.work, "perf-%s.data" % tag)],
		                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
		events = ["raw_syscalls:sys_enter"] + [
		    "syscalls:sys_enter_" + c for c in ("read", "write", "writev", "epoll_wait", "epoll_ctl")
		] + ["context-switches", "task-clock"]
		stat = subprocess.Popen(["perf", "stat", "-e", ",".join(events), "-p", str(pid), "-o",
		                         os.path.join(self.work, "perf-stat-%s.txt" % tag)],
		                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
		return rec, stat

	def perf_stop(self, perf, tag):
		if perf is None:
			return
		for p in perf:
			p.send_signal(signal.SIGINT)
			p.wait(30)
		h.log("sipbench: perf stat in " + os.path.join(self.work, "perf-stat-%s.txt" % tag))
		rep = os.path.join(self.work, "perf-%s.txt" % tag)
		with open(rep, "w") as fr:
			subprocess.run(["perf", "report", "--stdio", "--no-children", "-i",
			                os.path.join(self.work, "perf-%s.data" % tag),
			                "--percent-limit", "0.5", "-g", "none"], stdout=fr,
			               stderr=subprocess.DEVNULL)
		h.log("sipbench: perf report in " + rep)

	def step(self, target, pid, dest, rate, duration, tag):
		ip, frm = dest
		n = int(rate * duration)
		sf = os.path.join(self.work, "sipp-%s.xml" % tag)
		with open(sf, "w") as f:
			f.write(SIPP_MESSAGE.format(to="sink@prosody.test", frm=frm, run=tag))
		pids = proc_tree(pid)
		c0 = cpu_split(pids)
		pp0 = cpu_s(proc_tree(self.prosody_pid))
		perf = self.perf_start(target, pid, rate, tag)
		pcap = None
		if self.args.pcap and rate == self.args.perf_rate:
			# every hop's packets, to tell which hop a slow message waited on
			pcap = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-w",
			                         os.path.join(self.work, "%s.pcap" % tag)],
			                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
			time.sleep(1)
		s0 = self.sink.ask("cpu")["cpu_s"]
		t0 = time.monotonic()
		# -t t1: one TCP connection, as an edge in front of a gateway has; no -l cap on calls
		# in flight (-l 0 would be "rate-limited only") beyond sipp's default of 3 x rate
		argv = ["sipp", "%s:5060" % ip, "-sf", sf, "-t", "t1", "-m", str(n), "-r", str(rate),
		        "-rp", "1000", "-i", LOAD_IP, "-nostdin", "-timeout",
		        "%ds" % (duration + 30), "-recv_timeout", "10000", "-trace_counts",
		        "-trace_stat", "-fd", "1", "-max_socket", "2048"]
		stall = None
		if self.args.stall_prosody > 0 and not tag.endswith("warm"):
			# Prosody stops reading for a while: its socket buffers fill and the gateway
			# must push back (503 with Retry-After, or TCP flow control), never accept a
			# message it then loses
			pids = proc_tree(self.prosody_pid)

			def signal_all(sig):
				for q in pids:
					try:
						os.kill(q, sig)
					except OSError:
						pass
			stall = (threading.Timer(1.0, signal_all, (signal.SIGSTOP,)),
			         threading.Timer(1.0 + self.args.stall_prosody, signal_all,
			                         (signal.SIGCONT,)))
			for tm in stall:
				tm.start()
		# sipp names its files after the scenario file
		try:
			p = subprocess.run(argv, capture_output=True, timeout=duration + 60,
			                   cwd=self.work)
		finally:
			if stall is not None:
				stall[0].cancel()
				stall[1].cancel()
				stall[1].function(*stall[1].args)  # never leave Prosody stopped
		rc = p.returncode
		out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
		t_send = time.monotonic() - t0
		if pcap is not None:
			time.sleep(1)
			pcap.send_signal(signal.SIGINT)
			pcap.wait(30)
			h.log("sipbench: packets in " + os.path.join(self.work, "%s.pcap" % tag))
		self.perf_stop(perf, tag)
		# let the last stanzas arrive (and duplicates behind them)
		deadline = time.monotonic() + 15
		last = -1
		while time.monotonic() < deadline:
			st = self.sink.ask("stats " + tag)
			if st["unique"] >= n or (st["received"] == last and last >= 0):
				break
			last = st["received"]
			time.sleep(1.0)
		time.sleep(0.5)
		st = self.sink.ask("stats " + tag)
		c1 = cpu_split(proc_tree(pid))
		s1 = self.sink.ask("cpu")["cpu_s"]
		rss, pss = mem_kb(proc_tree(pid))
		pp1 = cpu_s(proc_tree(self.prosody_pid))
		ok, busy = sipp_counts(self.work, tag)
		stat = sipp_stat(self.work, tag)
		row = {
			"target": target, "rate": rate, "sent": n, "secs_sending": round(t_send, 2),
			"ok_202": ok, "busy_503": busy,
			"other_fail": max(0, n - ok - busy),
			"lost": max(0, ok - st["unique"]),
			"sink_cpu_s": round(s1 - s0, 3),
			"sipp_rc": rc, "sipp": stat,
		}
		row.update(measured(st, c0, c1, pp1 - pp0, rss, pss))
		h.log("sipbench: %s" % json.dumps(row))
		if rc not in (0, 1):
			h.log("sipbench: sipp exit %d: %s" % (rc, (out + err)[-800:]))
		return row

	def step_x(self, target, pid, domain, rate, duration, tag):
		"""One XMPP -> SIP step: xload.py sends rate x duration stanzas through Prosody to
		users of the gateway's domain; sipsink.py counts the MESSAGEs that arrive."""
		n = int(rate * duration)
		c0 = cpu_split(proc_tree(pid))
		pp0 = cpu_s(proc_tree(self.prosody_pid))
		k0 = self.sipsink.ask("cpu")["cpu_s"]
		perf = self.perf_start(target, pid, rate, tag)
		stall = None
		if self.args.stall_next_hop > 0 and not tag.endswith("warm"):
			# the next hop stops reading for a while: MESSAGEs wait in the gateway (one
			# pending per URI, RFC 3428 §8) until it answers again, and what does not fit
			# must come back as an error stanza, never vanish
			sink_pid = self.sipsink.proc.pid
			stall = (threading.Timer(1.0, os.kill, (sink_pid, signal.SIGSTOP)),
			         threading.Timer(1.0 + self.args.stall_next_hop, os.kill,
			                         (sink_pid, signal.SIGCONT)))
			for tm in stall:
				tm.start()
		try:
			sent = self.xload.ask("send %s %d %d %s %d" % (tag, rate, duration, domain,
			                                                X_USERS))
		finally:
			if stall is not None:
				stall[0].cancel()
				stall[1].cancel()
				stall[1].function(*stall[1].args)  # never leave the sink stopped
		self.perf_stop(perf, tag)
		# let the last MESSAGEs arrive (and duplicates behind them), and the last error
		# stanzas come back: Prosody, busy with a backlog, relays them seconds later, and a
		# MESSAGE the next hop never answers comes back after Timer F (64*T1 = 32 s)
		deadline = time.monotonic() + 45 + self.args.stall_next_hop
		last, still = None, 0
		while time.monotonic() < deadline:
			st = self.sipsink.ask("stats " + tag)
			errs = self.xload.ask("errors " + tag)["errors"]
			h.log("sipbench: drain %s: %d delivered, %d bounced of %d"
			      % (tag, st["unique"], errs, n))
			if st["unique"] + errs >= n:
				break
			now = (st["received"], errs)
			still = still + 1 if now == last else 0
			if still > 35:  # nothing moved for longer than Timer F: the rest is lost
				break
			last = now
			time.sleep(1.0)
		time.sleep(0.5)
		st = self.sipsink.ask("stats " + tag)
		er = self.xload.ask("errors " + tag)
		c1 = cpu_split(proc_tree(pid))
		pp1 = cpu_s(proc_tree(self.prosody_pid))
		k1 = self.sipsink.ask("cpu")["cpu_s"]
		rss, pss = mem_kb(proc_tree(pid))
		row = {
			"target": target, "rate": rate, "sent": sent["sent"], "secs_sending": sent["secs"],
			"errors": er["errors"], "conditions": er["conditions"],
			# neither delivered nor bounced: silently lost
			"lost": max(0, sent["sent"] - st["unique"] - er["errors"]),
			"sipsink_cpu_s": round(k1 - k0, 3),
		}
		row.update(measured(st, c0, c1, pp1 - pp0, rss, pss))
		h.log("sipbench: %s" % json.dumps(row))
		return row

	def run_steps(self, target, direction, do_step, prefix):
		# the s2s stream (dialback both ways) is set up by a first message; not measured
		do_step(10, 1, prefix + "warm")
		rows = []
		for rate in self.args.rates:
			rows.append(do_step(rate, self.args.duration, "%s%d" % (prefix, rate)))
			time.sleep(2)
		self.rows.setdefault(direction, {})[target] = rows
		# saturation: the highest delivered rate seen; then twice that
		sat = max(r["delivered_per_s"] for r in rows)
		if sat < 50:
			h.log("sipbench: %s delivered nothing %s: no overload step" % (target, direction))
			return
		if self.args.no_overload:
			return
		over = int(round(2 * sat / 100.0)) * 100
		r = do_step(over, self.args.duration, prefix + "over")
		r["overload"] = True
		r["saturation"] = sat
		rows.append(r)

	def run_target(self, target, start):
		h.log("sipbench: === %s ===" % target)
		pid, dest = start()
		if "sip-xmpp" in self.args.directions:
			self.run_steps(target, "sip-xmpp",
			               lambda rate, dur, tag: self.step(target, pid, dest, rate, dur, tag),
			               target[0])
		if "xmpp-sip" in self.args.directions:
			time.sleep(2)
			self.run_steps(target, "xmpp-sip",
			               lambda rate, dur, tag: self.step_x(target, pid, dest[1], rate, dur,
			                                                  tag), "x" + target[0])
		return pid

	def run(self):
		self.setup()
		if "fedgw" in self.args.targets:
			try:
				self.run_target("fedgw", self.start_fedgw)
			finally:
				self.fedgw.stop()
		if "kamailio" in self.args.targets:
			if not self.args.kamailio_module or not os.path.exists(self.args.kamailio_module):
				h.log("sipbench: no rebuilt xmpp module: Kamailio's side skipped")
			else:
				try:
					self.run_target("kamailio", self.start_kamailio)
				finally:
					self.procs.stop(self.kam)
		sc = self.sink.ask("cpu")["cpu_s"] - self.sink_cpu0
		self.report(sc)

	def bad_rows(self):
		"""Steps where a message was lost, duplicated or failed otherwise (--check)."""
		bad = []
		for direction, targets in self.rows.items():
			for rows in targets.values():
				for r in rows:
					if r["lost"] or r["dups"] or r.get("other_fail"):
						bad.append((direction, r))
		return bad

	def report(self, sink_cpu):
		out = []
		for direction in DIRECTIONS:
			if direction not in self.rows:
				continue
			out += self.report_direction(direction, self.rows[direction])
		out.append("sink CPU over the whole run: %.2f s" % sink_cpu)
		text = "\n".join(out)
		print(text, flush=True)
		with open(os.path.join(self.work, "rows.json"), "w") as fj:
			json.dump(self.rows, fj, indent=1)
		if self.args.out:
			with open(self.args.out, "w") as fo:
				fo.write(text + "\n")
			with open(self.args.out + ".json", "w") as fj:
				json.dump(self.rows, fj, indent=1)

	@staticmethod
	def report_direction(direction, rows):
		out = ["### %s" % ("SIP -> XMPP" if direction == "sip-xmpp" else "XMPP -> SIP"), ""]
		f, k = rows.get("fedgw", []), rows.get("kamailio", [])
		out.append("| offered msg/s | fedgw delivered/s | Kamailio delivered/s | fedgw p50 / p99 ms "
		           "| Kamailio p50 / p99 ms | fedgw CPU us/msg (kernel) | Kamailio CPU us/msg "
		           "(kernel) | "
		           "CPU ratio (fedgw/Kamailio) | fedgw RSS KB | Kamailio RSS / Pss KB |")
		out.append("|---|---|---|---|---|---|---|---|---|---|")
		n = max(len(f), len(k))
		for i in range(n):
			a = f[i] if i < len(f) else None
			b = k[i] if i < len(k) else None
			label = ""
			for r in (a, b):
				if r is not None:
					label += ("%d%s" % (r["rate"], " (2x sat.)" if r.get("overload") else "")
					          if not label else " / %d" % r["rate"])

			def g(r, key, fmt="%s"):
				return fmt % r[key] if r is not None and r.get(key) is not None else "-"

			def cpu(r):
				if r is None or r.get("cpu_us_per_msg") is None:
					return "-"
				return "%s (%s)" % (r["cpu_us_per_msg"], g(r, "sys_us_per_msg"))
			ratio = "-"
			if a and b and a.get("cpu_us_per_msg") and b.get("cpu_us_per_msg"):
				ratio = "%.3f" % (a["cpu_us_per_msg"] / b["cpu_us_per_msg"])
			out.append("| %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s | %s / %s |" % (
				label, g(a, "delivered_per_s"), g(b, "delivered_per_s"), g(a, "p50_ms"),
				g(a, "p99_ms"), g(b, "p50_ms"), g(b, "p99_ms"), cpu(a), cpu(b), ratio, g(a, "rss_kb"), g(b, "rss_kb"), g(b, "pss_kb")))
		out.append("")
		if direction == "sip-xmpp":
			out.append("| step | target | sent | 202 | 503 | other failures | delivered | lost "
			           "(202 not delivered) | duplicates |")
			out.append("|---|---|---|---|---|---|---|---|---|")
			for rows_t in (f, k):
				for r in rows_t:
					out.append("| %d%s | %s | %d | %d | %d | %d | %d | %d | %d |" % (
						r["rate"], " (2x sat.)" if r.get("overload") else "", r["target"],
						r["sent"], r["ok_202"], r["busy_503"], r["other_fail"], r["delivered"],
						r["lost"], r["dups"]))
		else:
			out.append("| step | target | sent | error stanzas back (conditions) | delivered | "
			           "lost (neither delivered nor bounced) | duplicates |")
			out.append("|---|---|---|---|---|---|---|")
			for rows_t in (f, k):
				for r in rows_t:
					conds = ", ".join("%s %d" % kv for kv in sorted(r["conditions"].items()))
					out.append("| %d%s | %s | %d | %d%s | %d | %d | %d |" % (
						r["rate"], " (2x sat.)" if r.get("overload") else "", r["target"],
						r["sent"], r["errors"], " (%s)" % conds if conds else "",
						r["delivered"], r["lost"], r["dups"]))
		out.append("")
		return out


def tail(path, n=30):
	try:
		with open(path, errors="replace") as f:
			return "\n".join(f.read().splitlines()[-n:])
	except OSError:
		return ""


KAMAILIO_CFG = """#!KAMAILIO
# generated by fedgw's sipbench: Kamailio's xmpp module as a SIP <-> XMPP gateway (server
# backend: XMPP s2s with dialback), MESSAGE answered 202 once handed to the module
debug={debug}
log_stderror=yes
fork=yes
children={children}
tcp_children={children}
disable_tcp=no
auto_aliases=no
alias="{domain}"
listen=tcp:{ip}:5060
dns_try_ipv6=no
dns_try_naptr=no
mpath="{mpath}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "{xmpp_so}"
modparam("xmpp", "backend", "server")
modparam("xmpp", "xmpp_domain", "{domain}")
modparam("xmpp", "gateway_domain", "{domain}")
modparam("xmpp", "xmpp_host", "{ip}")
modparam("xmpp", "xmpp_port", 5269)
# same names on both sides, as fedgw maps sip:user@domain <-> user@domain (RFC 7247 §4)
modparam("xmpp", "gwmap", "{domain}")
# XMPP -> SIP: every MESSAGE goes to the same next hop as fedgw's, over TCP
modparam("xmpp", "outbound_proxy", "sip:{nexthop}:5060;transport=tcp")

request_route {{
	if (!mf_process_maxfwd_header("10")) {{
		sl_send_reply("483", "Too Many Hops");
		exit;
	}}
	if (!t_newtran()) {{
		sl_reply_error();
		exit;
	}}
	if (method == "MESSAGE") {{
		if (xmpp_send_message()) {{
			t_reply("202", "Accepted");
		}} else {{
			t_reply("404", "Not found");
		}}
		exit;
	}}
	t_reply("405", "Method Not Allowed");
}}
"""


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("fedgw")
	ap.add_argument("--kamailio-module", default=None, help="the rebuilt xmpp.so")
	ap.add_argument("--rates", default="500,1000,2000,3000,6000")
	ap.add_argument("--duration", type=int, default=10, help="seconds per step")
	ap.add_argument("--targets", default="fedgw,kamailio")
	ap.add_argument("--directions", default="sip-xmpp,xmpp-sip")
	ap.add_argument("--max-pending", type=int, default=1000, help="fedgw's sip.max_pending")
	ap.add_argument("--kam-children", type=int, default=4, help="Kamailio's children")
	ap.add_argument("--kam-debug", type=int, default=1, help="Kamailio's log level")
	ap.add_argument("--prosody-debug", action="store_true", help="Prosody logs at debug level")
	ap.add_argument("--perf", action="store_true", help="perf record fedgw at --perf-rate")
	ap.add_argument("--perf-rate", type=int, default=3000)
	ap.add_argument("--perf-freq", type=int, default=499, help="perf samples per second")
	ap.add_argument("--pcap", action="store_true", help="capture loopback at --perf-rate (dumpcap)")
	ap.add_argument("--out", default=None, help="also write the tables to this file")
	ap.add_argument("--stall-prosody", type=float, default=0,
	                help="SIGSTOP Prosody for this many seconds, 1 s into each step")
	ap.add_argument("--stall-next-hop", type=float, default=0,
	                help="XMPP -> SIP: SIGSTOP the SIP sink for this many seconds, 1 s into "
	                "each step")
	ap.add_argument("--no-overload", action="store_true", help="no step at twice saturation")
	ap.add_argument("--check", action="store_true",
	                help="exit 1 when a message was lost, duplicated or failed otherwise")
	ap.add_argument("--keep", action="store_true")
	ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
	ap.add_argument("--work", help=argparse.SUPPRESS)
	args = ap.parse_args()
	args.rates = [int(x) for x in args.rates.split(",") if x]
	args.targets = args.targets.split(",")
	args.directions = args.directions.split(",")
	if any(d not in DIRECTIONS for d in args.directions):
		ap.error("--directions: sip-xmpp, xmpp-sip or both")
	if not args.inner:
		return outer(args)
	b = Bench(args)

	def stop(_s, _f):
		raise KeyboardInterrupt
	signal.signal(signal.SIGTERM, stop)
	try:
		b.run()
		if args.check:
			bad = b.bad_rows()
			for direction, r in bad:
				print("sipbench: FAIL %s %s at %d/s: %d lost, %d duplicates, %d other failures"
				      % (r["target"], direction, r["rate"], r["lost"], r["dups"],
				         r.get("other_fail", 0)), flush=True)
			if bad:
				return 1
			print("sipbench: every accepted message delivered once", flush=True)
		return 0
	except h.HarnessError as e:
		print("sipbench: %s" % e, flush=True)
		return 1
	finally:
		b.procs.stop_all()


if __name__ == "__main__":
	sys.exit(main())
