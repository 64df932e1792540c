"""interop_sip UA: a small SIP user agent over UDP (RFC 3261) for the interop tests. It
registers with the edge, sends requests (page-mode MESSAGE, INVITE/ACK/MESSAGE/BYE of an IM
session, SUBSCRIBE, NOTIFY) and records every request and response it receives; requests
are answered by a handler (200 by default). Every wait is bounded."""

import random
import re
import socket
import threading
import time

COMPACT = {"f": "from", "t": "to", "i": "call-id", "v": "via", "m": "contact",
           "l": "content-length", "c": "content-type", "o": "event", "k": "supported",
           "s": "subject", "e": "content-encoding", "u": "allow-events"}


def rand(n=8):
	return "%0*x" % (n, random.getrandbits(4 * n))


class Msg:
	"""One parsed SIP message: first line, ordered headers (lower-case full names), body."""

	def __init__(self, raw):
		self.raw = raw
		head, _, body = raw.partition(b"\r\n\r\n")
		lines = head.decode("utf-8", "replace").split("\r\n")
		self.first = lines[0]
		self.headers = []
		for line in lines[1:]:
			if line[:1] in (" ", "\t") and self.headers:
				k, v = self.headers[-1]
				self.headers[-1] = (k, v + " " + line.strip())
				continue
			k, _, v = line.partition(":")
			k = k.strip().lower()
			self.headers.append((COMPACT.get(k, k), v.strip()))
		self.body = body
		self.is_response = self.first.startswith("SIP/2.0 ")
		self.code = int(self.first.split()[1]) if self.is_response else 0
		self.method = self.first.split()[0] if not self.is_response else \
			(self.get("cseq") or " ").split()[-1]

	def get(self, name):
		name = name.lower()
		for k, v in self.headers:
			if k == name:
				return v
		return None

	def all(self, name):
		name = name.lower()
		out = []
		for k, v in self.headers:
			if k == name:
				# Record-Route/Route may carry several values on one line
				out += [x.strip() for x in re.split(r",(?=\s*<)", v)] if name in (
					"record-route", "route") else [v]
		return out

	def tag(self, which):
		m = re.search(r";\s*tag=([^;>\s]+)", self.get(which) or "")
		return m.group(1) if m else None

	def uri(self, which):
		v = self.get(which) or ""
		m = re.search(r"<([^>]+)>", v)
		return m.group(1) if m else v.split(";")[0].strip()

	def text(self):
		return self.body.decode("utf-8", "replace")

	def __repr__(self):
		return self.raw.decode("utf-8", "replace")


class Dialog:
	def __init__(self, call_id, local_tag, remote_tag, local_uri, remote_uri, target, routes):
		self.call_id = call_id
		self.local_tag = local_tag
		self.remote_tag = remote_tag
		self.local_uri = local_uri
		self.remote_uri = remote_uri
		self.target = target
		self.routes = routes
		self.cseq = random.randint(100, 999)


class UA:
	"""user@domain at ip:port (UDP); every request goes to the edge (outbound proxy)."""

	def __init__(self, user, domain, ip, port, edge):
		self.user, self.domain, self.ip, self.port, self.edge = user, domain, ip, port, edge
		self.aor = "sip:%s@%s" % (user, domain)
		self.contact = "sip:%s@%s:%d" % (user, ip, port)
		self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		self.sock.bind((ip, port))
		self.sock.settimeout(0.2)
		self.lock = threading.Condition()
		self.responses = []
		self.requests = []
		self.sent = []
		self.handler = None     # fn(ua, req) -> (code, reason, extra_headers, ctype, body) or None
		self.running = True
		self.thread = threading.Thread(target=self._loop, daemon=True)
		self.thread.start()

	# -- transport -------------------------------------------------------------------
	def _loop(self):
		while self.running:
			try:
				data, _ = self.sock.recvfrom(65535)
			except socket.timeout:
				continue
			except OSError:
				return
			if not data.strip():
				continue
			m = Msg(data)
			if m.is_response:
				with self.lock:
					self.responses.append(m)
					self.lock.notify_all()
				continue
			with self.lock:
				self.requests.append(m)
				self.lock.notify_all()
			if m.method == "ACK":
				continue
			ans = self.handler(self, m) if self.handler else None
			if ans is None:
				ans = (200, "OK", "", None, b"")
			code, reason, extra, ctype, body = ans
			self.send_raw(self.response(m, code, reason, extra, ctype, body))

	def send_raw(self, data):
		self.sent.append(data)
		self.sock.sendto(data, self.edge)

	def close(self):
		self.running = False
		self.thread.join(2)
		self.sock.close()

	# -- building ------------------------------------------------------------------------
	def response(self, req, code, reason, extra="", ctype=None, body=b"", to_tag=None):
		out = ["SIP/2.0 %d %s" % (code, reason)]
		for v in req.all("via"):
			out.append("Via: " + v)
		out.append("From: " + req.get("from"))
		to = req.get("to")
		if req.tag("to") is None and code > 100:
			to += ";tag=" + (to_tag or getattr(req, "our_tag", None) or self.tag_for(req))
		out.append("To: " + to)
		out.append("Call-ID: " + req.get("call-id"))
		out.append("CSeq: " + req.get("cseq"))
		for rr in req.all("record-route"):
			if req.method in ("SUBSCRIBE", "INVITE") and code < 300:
				out.append("Record-Route: " + rr)
		if req.method in ("SUBSCRIBE", "INVITE") and code < 300:
			out.append("Contact: <%s>" % self.contact)
		h = "\r\n".join(out) + "\r\n" + extra
		if ctype:
			h += "Content-Type: %s\r\n" % ctype
		h += "Content-Length: %d\r\n\r\n" % len(body)
		return h.encode() + body

	def tag_for(self, req):
		"""The same To tag for every response of a request (dialog-forming ones)."""
		key = (req.get("call-id"), req.tag("from"))
		if not hasattr(self, "_tags"):
			self._tags = {}
		return self._tags.setdefault(key, rand())

	def request(self, method, ruri, to_uri=None, extra="", ctype=None, body=b"", dialog=None,
	            call_id=None, cseq=None):
		"""Sends a request; returns its (call_id, cseq number, branch)."""
		branch = "z9hG4bK" + rand(12)
		if dialog:
			if cseq is None:  # ACK repeats the INVITE's number (RFC 3261 §17.1.1.3)
				dialog.cseq += 1
				cseq = dialog.cseq
			call_id = dialog.call_id
			ruri = dialog.target
			frm = "<%s>;tag=%s" % (dialog.local_uri, dialog.local_tag)
			to = "<%s>" % dialog.remote_uri + (";tag=" + dialog.remote_tag if dialog.remote_tag else "")
			routes = "".join("Route: %s\r\n" % r for r in dialog.routes)
		else:
			cseq = random.randint(1, 99)
			call_id = call_id or "%s@%s" % (rand(12), self.ip)
			frm = "<%s>;tag=%s" % (self.aor, rand())
			to = "<%s>" % (to_uri or ruri)
			routes = ""
		head = ("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n"
		        "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n%s"
		        % (method, ruri, self.ip, self.port, branch, frm, to, call_id, cseq, method,
		           routes))
		if method in ("INVITE", "SUBSCRIBE", "REGISTER", "NOTIFY"):
			head += "Contact: <%s>\r\n" % self.contact
		head += extra
		if ctype:
			head += "Content-Type: %s\r\n" % ctype
		head += "Content-Length: %d\r\n\r\n" % len(body)
		self.send_raw(head.encode() + body)
		return call_id, cseq, branch

	# -- waiting -----------------------------------------------------------------------
	def final(self, txn, timeout=10.0):
		"""The final response (>= 200) to the request txn, or None."""
		call_id, cseq, branch = txn

		def match():
			for r in self.responses:
				if r.code >= 200 and r.get("call-id") == call_id and branch in (r.get("via") or ""):
					return r
			return None
		return self.wait(match, timeout)

	def wait_request(self, pred, timeout=10.0, start=0):
		"""The first received request (from index start) for which pred is true."""
		def match():
			for r in self.requests[start:]:
				if pred(r):
					return r
			return None
		return self.wait(match, timeout)

	def wait(self, fn, timeout):
		end = time.monotonic() + timeout
		with self.lock:
			while True:
				v = fn()
				if v is not None:
					return v
				left = end - time.monotonic()
				if left <= 0:
					return None
				self.lock.wait(min(left, 0.2))

	# -- composite ---------------------------------------------------------------------
	def register(self, expires=600):
		txn = self.request("REGISTER", "sip:" + self.domain, to_uri=self.aor,
		                   extra="Expires: %d\r\n" % expires)
		return self.final(txn, 5)

	def message(self, to, text, ctype="text/plain;charset=UTF-8", extra="", timeout=15.0):
		"""Page-mode MESSAGE (RFC 3428); returns the final response or None."""
		txn = self.request("MESSAGE", to, extra=extra, ctype=ctype, body=text.encode())
		return self.final(txn, timeout)

	def dialog_from_response(self, req_txn, rsp, remote_uri):
		"""UAC side: the dialog a 2xx to our INVITE/SUBSCRIBE made (RFC 3261 §12.1.2)."""
		routes = list(reversed(rsp.all("record-route")))
		d = Dialog(req_txn[0], rsp.tag("from"), rsp.tag("to"), self.aor, remote_uri,
		           rsp.uri("contact"), routes)
		d.cseq = req_txn[1]
		return d

	def dialog_from_request(self, req):
		"""UAS side: the dialog a request we answered 2xx made (RFC 3261 §12.1.1)."""
		return Dialog(req.get("call-id"), req.tag("to") or self.tag_for(req), req.tag("from"),
		              req.uri("to"), req.uri("from"), req.uri("contact"),
		              req.all("record-route"))
