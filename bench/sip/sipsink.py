#!/usr/bin/python3
"""sipbench SIP sink: the next hop of the XMPP -> SIP direction, a SIP user agent server over
TCP (RFC 3261 §18.3 framing by Content-Length) on asyncio that answers every request 200 OK
(RFC 3261 §8.2.6: Via, From, Call-ID and CSeq copied, a To tag added) and counts the MESSAGEs
(RFC 3428) the gateway under test relays. A body is "r=<run> n=<seq> t=<epoch>", written by
xload.py: per run the sink keeps the set of sequence numbers (duplicates), the latency
(arrival time minus the epoch time in the body) and the first and last arrival (sink.py's
Runs). Commands on stdin, one JSON line each on stdout, as sink.py:
  stats RUN  -> {"run", "received", "unique", "dups", "p50_ms", "p99_ms", "max_ms", "first",
                 "last"}
  cpu        -> {"cpu_s"}
  quit
  sipsink.py IP PORT
  sipsink.py --selftest N     frames and answers N synthetic MESSAGEs, prints the rate
"""

import asyncio
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sink import Runs, commands  # noqa: E402

# Compact forms (RFC 3261 §7.3.3) map to the long names the response copies.
COMPACT = {b"v": b"via", b"f": b"from", b"t": b"to", b"i": b"call-id", b"l": b"content-length"}
COPIED = (b"via", b"from", b"call-id", b"cseq")
HEAD_MAX = 65536  # a request head longer than this is not a gateway's: the stream is dropped


def answer(head):
	"""(200 OK bytes, method, content length) for one request head (without the CRLFCRLF)."""
	lines = head.split(b"\r\n")
	method = lines[0].split(b" ", 1)[0]
	out = [b"SIP/2.0 200 OK"]
	clen = 0
	to = None
	for ln in lines[1:]:
		name, _, value = ln.partition(b":")
		key = name.strip().lower()
		key = COMPACT.get(key, key)
		value = value.strip()
		if key in COPIED:
			out.append(name.strip() + b": " + value)
		elif key == b"to":
			to = value
		elif key == b"content-length":
			clen = int(value)
	if to is not None:
		out.append(b"To: " + (to if b";tag=" in to else to + b";tag=sink"))
	out.append(b"Content-Length: 0\r\n\r\n")
	return b"\r\n".join(out), method, clen


class Conn(asyncio.Protocol):
	def __init__(self, runs):
		self.runs = runs
		self.buf = b""

	def connection_made(self, transport):
		self.tr = transport

	def data_received(self, data):
		now = time.time()
		buf = self.buf + data
		replies = []
		bodies = []
		pos = 0
		while True:
			while buf.startswith(b"\r\n", pos):
				if buf.startswith(b"\r\n\r\n", pos):
					replies.append(b"\r\n")  # RFC 5626 §4.4.1: a ping gets a pong
					pos += 4
				else:
					pos += 2
			end = buf.find(b"\r\n\r\n", pos)
			if end < 0:
				if len(buf) - pos > HEAD_MAX:
					self.tr.close()
					return
				break
			reply, method, clen = answer(buf[pos:end])
			if end + 4 + clen > len(buf):
				break
			if method == b"MESSAGE":
				bodies.append(buf[end + 4:end + 4 + clen])
			replies.append(reply)
			pos = end + 4 + clen
		self.buf = buf[pos:]
		if replies:
			self.tr.write(b"".join(replies))
		if bodies:
			self.runs.add(now, b"\n".join(bodies))


def selftest(n):
	runs = Runs()
	c = Conn(runs)

	class Null:
		def write(self, _b):
			pass

		def close(self):
			pass
	c.connection_made(Null())
	now = time.time()
	one = ("MESSAGE sip:u%d@sip.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.3:5060;branch=z9hG4bK%d"
	       "\r\nFrom: <sip:load@prosody.test>;tag=a%d\r\nTo: <sip:u%d@sip.test>\r\nCall-ID: c%d\r\n"
	       "CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: text/plain;charset=UTF-8\r\n"
	       "Content-Length: %d\r\n\r\n%s")
	chunks = []
	for k in range(0, n, 50):
		part = []
		for i in range(k, min(n, k + 50)):
			body = "r=self n=%d t=%.6f" % (i, now)
			part.append(one % (i % 100, i, i, i % 100, i, len(body), body))
		chunks.append("".join(part).encode())
	t0 = time.process_time()
	for ch in chunks:
		c.data_received(ch)
	dt = time.process_time() - t0
	st = runs.stats("self")
	print(json.dumps({"messages": n, "unique": st["unique"], "cpu_s": round(dt, 3),
	                  "per_s": int(n / dt) if dt > 0 else None}))


async def main_async(ip, port):
	runs = Runs()
	stop = asyncio.Event()
	loop = asyncio.get_running_loop()
	server = await loop.create_server(lambda: Conn(runs), ip, port, reuse_address=True)
	sys.stdout.write(json.dumps({"ready": True}) + "\n")
	sys.stdout.flush()
	threading.Thread(target=commands, args=(runs, loop, stop), daemon=True).start()
	await stop.wait()
	server.close()


def main():
	if len(sys.argv) == 3 and sys.argv[1] == "--selftest":
		selftest(int(sys.argv[2]))
		return 0
	if len(sys.argv) != 3:
		sys.stderr.write(__doc__)
		return 2
	asyncio.run(main_async(sys.argv[1], int(sys.argv[2])))
	return 0


if __name__ == "__main__":
	sys.exit(main())
