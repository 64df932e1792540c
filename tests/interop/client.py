"""interop client: a slixmpp c2s session as a Prosody user that sends XEP-0199 ping,
XEP-0030 disco#info and XEP-0092 version queries to a remote (federated) domain and
reports each answer or stanza error (RFC 6120 §8.3)."""

import asyncio
import logging
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

QUERIES = {
	"ping": "{urn:xmpp:ping}ping",
	"disco": "{http://jabber.org/protocol/disco#info}query",
	"version": "{jabber:iq:version}query",
}

logging.getLogger("slixmpp").setLevel(logging.CRITICAL)


class Answer:
	def __init__(self, kind, xml="", condition="", etype="", text=""):
		self.kind = kind          # "result", "error", "timeout", "noconnect"
		self.xml = xml
		self.condition = condition
		self.etype = etype
		self.text = text

	def __repr__(self):
		if self.kind == "error":
			return "error %s/%s %r: %s" % (self.etype, self.condition, self.text, self.xml[:400])
		return "%s %s" % (self.kind, self.xml[:300])


STANZAS_NS = "{urn:ietf:params:xml:ns:xmpp-stanzas}"


def condition_of(iq):
	"""The defined condition element of an error (RFC 6120 §8.3.3), read from the XML:
	slixmpp 1.8 knows only the RFC 3920 set and drops policy-violation."""
	for err in iq.xml:
		if err.tag.endswith("}error"):
			for child in err:
				if child.tag.startswith(STANZAS_NS) and child.tag != STANZAS_NS + "text":
					return child.tag[len(STANZAS_NS):]
	return ""


async def _session(ip, jid, password, queries, timeout):
	x = slixmpp.ClientXMPP(jid, password)
	# Plaintext c2s to the test Prosody only (loopback inside the test namespace).
	x["feature_mechanisms"].unencrypted_plain = True
	loop = asyncio.get_running_loop()
	ready = loop.create_future()

	def started(_ev):
		if not ready.done():
			ready.set_result(True)

	def failed(_ev):
		if not ready.done():
			ready.set_exception(RuntimeError("c2s authentication failed"))

	x.add_event_handler("session_start", started)
	x.add_event_handler("failed_auth", failed)
	x.connect(address=(ip, 5222), disable_starttls=True, force_starttls=False)
	answers = []
	try:
		await asyncio.wait_for(ready, timeout)
	except Exception as e:  # noqa: BLE001 - reported as a failed answer
		x.disconnect()
		return [Answer("noconnect", text=str(e)) for _ in queries]
	for kind, to in queries:
		iq = x.Iq()
		iq["type"] = "get"
		iq["to"] = to
		iq.append(ET.Element(QUERIES[kind]))
		try:
			r = await iq.send(timeout=timeout)
			answers.append(Answer("result", xml=str(r)))
		except IqError as e:
			err = e.iq["error"]
			answers.append(Answer("error", xml=str(e.iq), condition=condition_of(e.iq),
			                      etype=err["type"], text=err["text"]))
		except IqTimeout:
			answers.append(Answer("timeout"))
	try:
		await asyncio.wait_for(x.disconnect(), 3)
	except Exception:  # noqa: BLE001 - the answers are what counts
		pass
	return answers


def query(ip, jid, password, queries, timeout=12.0):
	"""queries: [("ping"|"disco"|"version", to_jid)]; returns [Answer] in order."""
	return asyncio.run(_session(ip, jid, password, queries, timeout))
