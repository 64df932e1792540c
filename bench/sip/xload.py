#!/usr/bin/python3
"""sipbench XMPP load: the sender of the XMPP -> SIP direction, one XMPP client (c2s, SASL
PLAIN, bind, on asyncio, sink.py's login) that sends <message type='chat'/> stanzas at a set
rate to users of the gateway's domain, round-robin over a set of users (the gateway keeps
one MESSAGE transaction pending per SIP URI, RFC 3428 §8). The body is "r=<run> n=<seq>
t=<epoch>" (what sipsink.py measures), the id "<run>-<seq>": the error stanzas the gateway
bounces (RFC 6120 §8.3) are counted per run and condition. Commands on stdin, one JSON line
each on stdout:
  send RUN RATE SECONDS DOMAIN USERS -> {"run", "sent", "secs"} once the last one is written
  errors RUN                         -> {"run", "errors", "conditions": {name: count}}
  cpu                                -> {"cpu_s"}
  quit
  xload.py HOST PORT DOMAIN USER PASSWORD
"""

import asyncio
import json
import os
import re
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sink import login  # noqa: E402

ERROR_RE = re.compile(rb"<message\b[^>]*?\btype=['\"]error['\"][^>]*>.*?</message>", re.S)
ID_RE = re.compile(rb"\bid=['\"](\w+)-(\d+)['\"]")
COND_RE = re.compile(rb"<([a-z-]+) xmlns=['\"]urn:ietf:params:xml:ns:xmpp-stanzas['\"]")
WRITE_HIGH = 1 << 20  # bytes queued in the socket's buffer before the sender waits
TICK_S = 0.001  # the pacing period: sends what is due every millisecond


class Errors:
	def __init__(self):
		self.lock = threading.Lock()
		self.runs = {}

	def add(self, chunk):
		with self.lock:
			for m in ERROR_RE.finditer(chunk):
				st = m.group(0)
				i = ID_RE.search(st)
				run = i.group(1).decode() if i else "?"
				c = COND_RE.search(st)
				cond = c.group(1).decode() if c else "?"
				r = self.runs.setdefault(run, {})
				r[cond] = r.get(cond, 0) + 1

	def get(self, run):
		with self.lock:
			r = dict(self.runs.get(run, {}))
		return {"run": run, "errors": sum(r.values()), "conditions": r}


async def send(writer, run, rate, secs, domain, users):
	n = int(rate * secs)
	one = ("<message to='u%%d@%s' id='%s-%%d' type='chat'><body>r=%s n=%%d t=%%.6f</body>"
	       "</message>" % (domain, run, run))
	t0 = time.monotonic()
	sent = 0
	while sent < n:
		due = min(n, int((time.monotonic() - t0) * rate) + 1)
		if due > sent:
			now = time.time()
			writer.write("".join(one % (i % users, i, i, now)
			                     for i in range(sent, due)).encode())
			sent = due
			if writer.transport.get_write_buffer_size() > WRITE_HIGH:
				await writer.drain()  # Prosody pushes back: TCP flow control
		await asyncio.sleep(TICK_S)
	await writer.drain()
	return {"run": run, "sent": sent, "secs": round(time.monotonic() - t0, 2)}


async def reader_task(reader, buf, errors):
	while True:
		i = buf.rfind(b"</message>")
		if i >= 0:
			errors.add(buf[:i + 10])
			buf = buf[i + 10:]
		data = await reader.read(262144)
		if not data:
			raise ConnectionError("stream closed")
		buf += data


async def main_async(argv):
	reader, writer, buf = await login(argv[0], int(argv[1]), argv[2], argv[3], argv[4], "load")
	errors = Errors()
	rt = asyncio.create_task(reader_task(reader, buf, errors))
	sys.stdout.write(json.dumps({"ready": True}) + "\n")
	sys.stdout.flush()
	loop = asyncio.get_running_loop()
	while True:
		line = await loop.run_in_executor(None, sys.stdin.readline)
		if rt.done():
			rt.result()
		parts = line.split()
		if not line or parts[:1] == ["quit"]:
			break
		if not parts:
			continue
		if parts[0] == "send" and len(parts) == 6:
			out = await send(writer, parts[1], float(parts[2]), float(parts[3]), parts[4],
			                 int(parts[5]))
		elif parts[0] == "errors" and len(parts) == 2:
			out = errors.get(parts[1])
		elif parts[0] == "cpu":
			t = os.times()
			out = {"cpu_s": t.user + t.system}
		else:
			out = {"error": "unknown command"}
		sys.stdout.write(json.dumps(out) + "\n")
		sys.stdout.flush()
	rt.cancel()


def main():
	if len(sys.argv) != 6:
		sys.stderr.write(__doc__)
		return 2
	asyncio.run(main_async(sys.argv[1:]))
	return 0


if __name__ == "__main__":
	sys.exit(main())
