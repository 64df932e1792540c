"""interop_sip XMPP user: a slixmpp c2s session to the test Prosody kept open in its own
thread for a whole scenario; records every message and presence stanza it receives (as
XML text) and sends chat messages, presence and subscription requests (RFC 6121)."""

import asyncio
import logging
import threading
import time
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

logging.getLogger("slixmpp").setLevel(logging.CRITICAL)

CLIENT_NS = "{jabber:client}"


class Stanza:
	def __init__(self, st):
		self.xml = str(st)
		self.kind = st.name
		self.frm = str(st["from"])
		self.to = str(st["to"])
		self.type = st["type"]
		self.elem = ET.fromstring(self.xml)

	def child_text(self, name):
		# slixmpp serialises the stream's default namespace away: accept both forms
		for tag in (CLIENT_NS + name, name):
			e = self.elem.find(tag)
			if e is not None:
				return e.text
		return None

	@property
	def body(self):
		return self.child_text("body")

	def has(self, ns_tag):
		return any(c.tag == ns_tag for c in self.elem)

	def error_condition(self):
		for e in self.elem:
			if e.tag == "error" or e.tag.endswith("}error"):
				for c in e:
					if c.tag.startswith("{urn:ietf:params:xml:ns:xmpp-stanzas}") and \
					   not c.tag.endswith("}text"):
						return c.tag.split("}")[1]
		return None

	def __repr__(self):
		return self.xml


class XmppUser:
	def __init__(self, ip, jid, password, auto_authorize=False, timeout=10.0):
		self.jid = jid
		self.lock = threading.Condition()
		self.stanzas = []
		self.loop = asyncio.new_event_loop()
		self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
		self.thread.start()
		fut = asyncio.run_coroutine_threadsafe(self._connect(ip, password, auto_authorize),
		                                       self.loop)
		fut.result(timeout + 2)

	async def _connect(self, ip, password, auto_authorize):
		x = self.x = slixmpp.ClientXMPP(self.jid, password)
		x["feature_mechanisms"].unencrypted_plain = True
		# The scenarios answer subscription requests themselves.
		x.auto_authorize = True if auto_authorize else None
		x.auto_subscribe = False
		ready = self.loop.create_future()

		async def started(_ev):
			# a session that asked for its roster is "interested" (RFC 6121 §2.1.6): only
			# then does Prosody forward subscribed/unsubscribe and roster pushes to it
			try:
				await x.get_roster(timeout=5)
			except Exception as e:  # noqa: BLE001 - reported as a failed start
				if not ready.done():
					ready.set_exception(RuntimeError("roster of %s: %s" % (self.jid, e)))
				return
			x.send_presence(pstatus="online")
			if not ready.done():
				ready.set_result(True)

		def failed(_ev):
			if not ready.done():
				ready.set_exception(RuntimeError("c2s authentication failed for " + self.jid))

		def record(st):
			with self.lock:
				self.stanzas.append(Stanza(st))
				self.lock.notify_all()

		x.add_event_handler("session_start", started)
		x.add_event_handler("failed_auth", failed)
		# every message and presence stanza once, whatever its type (errors and
		# subscription states included), before slixmpp's own event dispatch
		x.register_handler(Callback("interop message", StanzaPath("message"), record))
		x.register_handler(Callback("interop presence", StanzaPath("presence"), record))
		x.connect(address=(ip, 5222), disable_starttls=True, force_starttls=False)
		await asyncio.wait_for(ready, 10)

	def call(self, fn, *a, **kw):
		"""Runs fn on the client's loop and waits for it."""
		async def run():
			return fn(*a, **kw)
		return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

	def send_raw(self, xml):
		self.call(self.x.send_raw, xml)

	def chat(self, to, body, thread=None):
		def send():
			m = self.x.make_message(mto=to, mbody=body, mtype="chat")
			if thread:
				m["thread"] = thread
			m.send()
		self.call(send)

	def presence(self, ptype=None, to=None, show=None, status=None):
		def send():
			p = self.x.make_presence(pto=to, ptype=ptype, pshow=show, pstatus=status)
			p.send()
		self.call(send)

	def wait(self, pred, timeout=10.0, start=0):
		"""The first stanza (from index start) for which pred is true, or None."""
		end = time.monotonic() + timeout
		with self.lock:
			while True:
				for s in self.stanzas[start:]:
					if pred(s):
						return s
				left = end - time.monotonic()
				if left <= 0:
					return None
				self.lock.wait(min(left, 0.2))

	def mark(self):
		with self.lock:
			return len(self.stanzas)

	def roster_item(self, jid):
		"""The roster entry Prosody keeps for jid: subscription state (RFC 6121 §2.1.2.5)."""
		def get():
			item = self.x.client_roster[jid]
			return item["subscription"], item["pending_out"]
		return self.call(get)

	def close(self):
		async def bye():
			try:
				await asyncio.wait_for(self.x.disconnect(), 3)
			except Exception:  # noqa: BLE001 - closing anyway
				pass
		async def cancel_all():
			# slixmpp's background tasks end here, not when the interpreter exits
			tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
			for t in tasks:
				t.cancel()
			await asyncio.gather(*tasks, return_exceptions=True)
		for step in (bye, cancel_all):
			try:
				asyncio.run_coroutine_threadsafe(step(), self.loop).result(5)
			except Exception:  # noqa: BLE001 - closing anyway
				pass
		self.loop.call_soon_threadsafe(self.loop.stop)
		self.thread.join(3)
