#!/usr/bin/python3
"""sipbench sink: one XMPP client (RFC 6120 c2s, SASL PLAIN, resource binding) written with
raw XML on asyncio, counting every <message/> the gateway under test delivers. A body is
"r=<run> n=<seq> t=<sipp [timestamp]>": the sink keeps per run the set of sequence numbers
(duplicates), the latency (receive time minus the epoch time sipp wrote when it built the
MESSAGE) and the first and last arrival. Commands on stdin, answers as one JSON line on
stdout:
  stats RUN     -> {"run", "received", "unique", "dups", "p50_ms", "p99_ms", "max_ms",
                    "first", "last"}
  cpu           -> {"cpu_s"}  (the sink's own CPU time)
  quit
  sink.py HOST PORT DOMAIN USER PASSWORD
  sink.py --selftest N      parses N synthetic stanzas and prints the parse rate alone
"""

import asyncio
import base64
import json
import os
import re
import sys
import threading
import time

NS_STREAM = "http://etherx.jabber.org/streams"
# Bodies are found by pattern in the raw stream: no XML tree per stanza, so the sink costs
# a few microseconds per message. The timestamp is sipp's "[timestamp]" keyword, whose last
# field is the epoch time in seconds.microseconds.
BODY_RE = re.compile(rb"r=(\w+) n=(\d+) t=[^<]*?(\d{9,11}\.\d{6})")
END = b"</message>"


class Runs:
	def __init__(self):
		self.lock = threading.Lock()
		self.runs = {}

	def add(self, now, chunk):
		with self.lock:
			for m in BODY_RE.finditer(chunk):
				run = m.group(1).decode()
				r = self.runs.get(run)
				if r is None:
					r = self.runs[run] = {"seen": set(), "dups": 0, "lat": [], "first": now,
					                      "last": now}
				n = int(m.group(2))
				if n in r["seen"]:
					r["dups"] += 1
				else:
					r["seen"].add(n)
				r["lat"].append((now - float(m.group(3))) * 1000.0)
				r["last"] = now

	def stats(self, run):
		with self.lock:
			r = self.runs.get(run)
			if r is None:
				return {"run": run, "received": 0, "unique": 0, "dups": 0, "p50_ms": None,
				        "p99_ms": None, "max_ms": None, "first": None, "last": None}
			lat = sorted(r["lat"])
			return {"run": run, "received": len(lat), "unique": len(r["seen"]),
			        "dups": r["dups"], "p50_ms": round(pct(lat, 50), 2),
			        "p99_ms": round(pct(lat, 99), 2), "max_ms": round(lat[-1], 2),
			        "first": r["first"], "last": r["last"]}


def pct(sorted_vals, p):
	if not sorted_vals:
		return 0.0
	k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
	return sorted_vals[k]


async def read_until(reader, buf, token, timeout=10.0):
	while token not in buf:
		data = await asyncio.wait_for(reader.read(65536), timeout)
		if not data:
			raise ConnectionError("stream closed while waiting for %r" % token)
		buf += data
	i = buf.index(token) + len(token)
	return buf[:i], buf[i:]


def header(domain):
	return ("<?xml version='1.0'?><stream:stream to='%s' version='1.0' xmlns='jabber:client' "
	        "xmlns:stream='%s'>" % (domain, NS_STREAM)).encode()


async def login(host, port, domain, user, password, resource):
	"""A c2s session (SASL PLAIN, bind, session, presence): (reader, writer, unread bytes)."""
	reader, writer = await asyncio.open_connection(host, port)
	buf = b""
	writer.write(header(domain))
	_, buf = await read_until(reader, buf, b"</stream:features>")
	cred = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
	writer.write(("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>"
	              % cred).encode())
	got, buf = await read_until(reader, buf, b"/>")
	if b"<success" not in got:
		raise ConnectionError("SASL PLAIN refused: %r" % got)
	# RFC 6120 §6.4.6: a new stream after SASL success
	buf = b""
	writer.write(header(domain))
	_, buf = await read_until(reader, buf, b"</stream:features>")
	writer.write(("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
	              "<resource>%s</resource></bind></iq>" % resource).encode())
	_, buf = await read_until(reader, buf, b"</iq>")
	writer.write(b"<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>"
	             b"</iq>")
	_, buf = await read_until(reader, buf, b"s1")
	# available with a positive priority: messages to the bare JID come here (RFC 6121 §8.5.2)
	writer.write(b"<presence><priority>10</priority></presence>")
	await writer.drain()
	return reader, writer, buf


async def client(host, port, domain, user, password, runs, ready):
	reader, writer, buf = await login(host, port, domain, user, password, "sink")
	ready.set()
	while True:
		data = await reader.read(262144)
		if not data:
			raise ConnectionError("stream closed")
		now = time.time()
		buf += data
		i = buf.rfind(END)
		if i < 0:
			continue
		i += len(END)
		runs.add(now, buf[:i])
		buf = buf[i:]


def commands(runs, loop, stop):
	for line in sys.stdin:
		parts = line.split()
		if not parts:
			continue
		if parts[0] == "stats" and len(parts) == 2:
			out = runs.stats(parts[1])
		elif parts[0] == "cpu":
			t = os.times()
			out = {"cpu_s": t.user + t.system}
		elif parts[0] == "quit":
			break
		else:
			out = {"error": "unknown command"}
		sys.stdout.write(json.dumps(out) + "\n")
		sys.stdout.flush()
	loop.call_soon_threadsafe(stop.set)


def selftest(n):
	runs = Runs()
	one = ("<message from='dave@sip.test/x' to='sink@prosody.test' type='chat' id='a%d'>"
	       "<body>r=self n=%d t=2026-01-01\t00:00:00.000000\t%.6f</body><thread>c%d</thread>"
	       "</message>")
	now = time.time()
	chunks = []
	for c in range(0, n, 50):
		chunks.append("".join(one % (i, i, now, i) for i in range(c, min(n, c + 50))).encode())
	t0 = time.process_time()
	for ch in chunks:
		runs.add(now, ch)
	dt = time.process_time() - t0
	st = runs.stats("self")
	print(json.dumps({"stanzas": n, "unique": st["unique"], "cpu_s": round(dt, 3),
	                  "per_s": int(n / dt) if dt > 0 else None}))


async def main_async(argv):
	runs = Runs()
	ready = asyncio.Event()
	stop = asyncio.Event()
	loop = asyncio.get_running_loop()
	task = asyncio.create_task(client(argv[0], int(argv[1]), argv[2], argv[3], argv[4], runs,
	                                  ready))
	await asyncio.wait_for(ready.wait(), 15)
	sys.stdout.write(json.dumps({"ready": True}) + "\n")
	sys.stdout.flush()
	threading.Thread(target=commands, args=(runs, loop, stop), daemon=True).start()
	done, _ = await asyncio.wait([task, asyncio.create_task(stop.wait())],
	                             return_when=asyncio.FIRST_COMPLETED)
	if task in done:
		task.result()


def main():
	if len(sys.argv) == 3 and sys.argv[1] == "--selftest":
		selftest(int(sys.argv[2]))
		return 0
	if len(sys.argv) != 6:
		sys.stderr.write(__doc__)
		return 2
	asyncio.run(main_async(sys.argv[1:]))
	return 0


if __name__ == "__main__":
	sys.exit(main())
