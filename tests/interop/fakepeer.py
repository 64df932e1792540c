"""interop fake peer: an s2s server for a domain the test owns (evil.test) that answers
every XEP-0220 dialback request as valid, so a raw-socket peer can hold an authenticated
stream into fedgw and then misbehave on it; it records the stanzas fedgw sends it."""

import re
import socket
import threading

from harness import stream_header

VERIFY_RE = re.compile(rb"<db:verify\b([^>]*?)(?:/>|>(.*?)</db:verify>)", re.S)
RESULT_RE = re.compile(rb"<db:result\b([^>]*?)(?:/>|>(.*?)</db:result>)", re.S)
ATTR_RE = re.compile(rb"""([a-zA-Z:]+)\s*=\s*(?:'([^']*)'|"([^"]*)")""")
STREAM_RE = re.compile(rb"<stream:stream\b[^>]*>", re.S)
# Why: a misbehaving fedgw must not make the fake peer buffer without bound.
BUF_MAX = 4 * 1024 * 1024


def attrs(raw):
	return {m.group(1).decode(): (m.group(2) or m.group(3) or b"").decode()
	        for m in ATTR_RE.finditer(raw)}


class FakeDomain:
	"""Listens on ip:5269 for `domain` (and any other name pointed at ip); every db:verify
	and db:result is answered valid."""

	def __init__(self, domain, ip):
		self.domain = domain
		self.ip = ip
		self.received = b""
		self.lock = threading.Lock()
		self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		self.lsock.bind((ip, 5269))
		self.lsock.listen(16)
		self.stopping = False
		self.conns = []
		self.thread = threading.Thread(target=self._accept, daemon=True)
		self.thread.start()

	def _accept(self):
		while not self.stopping:
			try:
				c, _ = self.lsock.accept()
			except OSError:
				return
			self.conns.append(c)
			threading.Thread(target=self._serve, args=(c,), daemon=True).start()

	def _serve(self, c):
		buf = b""
		opened = False
		c.settimeout(30)
		try:
			while len(buf) < BUF_MAX:
				chunk = c.recv(65536)
				if not chunk:
					return
				buf += chunk
				with self.lock:
					self.received += chunk
				if not opened:
					m = STREAM_RE.search(buf)
					if not m:
						continue
					a = attrs(m.group(0))
					opened = True
					buf = buf[m.end():]
					# answer as whichever of our domains was asked for (evil.test, evil2.test)
					c.sendall(stream_header(a.get("to") or self.domain, a.get("from", ""))[:-1] +
					          b" id='fake-%d'>" % id(c) +
					          b"<stream:features><dialback xmlns='urn:xmpp:features:dialback'/>"
					          b"</stream:features>")
				while True:
					m = VERIFY_RE.search(buf) or RESULT_RE.search(buf)
					if not m:
						break
					a = attrs(m.group(1))
					if m.re is VERIFY_RE:
						c.sendall(("<db:verify from='%s' to='%s' id='%s' type='valid'/>" %
						           (a.get("to", ""), a.get("from", ""), a.get("id", ""))).encode())
					else:
						c.sendall(("<db:result from='%s' to='%s' type='valid'/>" %
						           (a.get("to", ""), a.get("from", ""))).encode())
					buf = buf[m.end():]
		except OSError:
			return
		finally:
			c.close()

	def seen(self, pattern):
		with self.lock:
			return re.search(pattern, self.received, re.S) is not None

	def stop(self):
		self.stopping = True
		try:
			self.lsock.shutdown(socket.SHUT_RDWR)
		except OSError:
			pass
		self.lsock.close()
		for c in self.conns:
			try:
				c.shutdown(socket.SHUT_RDWR)
			except OSError:
				pass
		self.thread.join(2)
