"""interop_sip suite: the SIP<->XMPP scenarios run inside the test namespace. Each
scenario is a function s_<name> that raises Failure (or any exception) to fail; the run
ends with the line "interop_sip: N passed, M failed"."""

import json
import os
import re
import signal
import socket
import sys
import time
import traceback

import harness as h
import sipedge
import sipua
import xmppuser

EDGE_IP = "127.0.0.5"
UA_IP = "127.0.0.6"
STUNNEL_IP = "127.0.0.7"      # TLS hop with the edge's certificate (edge.test)
STUNNEL_BAD_IP = "127.0.0.8"  # TLS hop with a certificate of the same CA for wrong.test
STUNNEL_PORT = 5062
SIP_DOMAIN = "sip.test"
# its next hop edge2.test is the same Kamailio, whose certificate names edge.test only
BAD_DOMAIN = "other.test"
ALICE = ("alice@prosody.test", "alice-pw-1")
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sip")
XMPP_TIMEOUT = 10.0


class Failure(Exception):
	pass


def check(cond, msg):
	if not cond:
		raise Failure(msg)


def soft(ctx, cond, msg):
	"""A failed expectation that lets the scenario go on (it still fails at the end)."""
	if not cond:
		ctx.soft.append(msg)


def first_line(m):
	return m.first if m is not None else "no final response"


class Ctx:
	def __init__(self, args):
		self.args = args
		self.work = args.work
		self.procs = h.Procs()
		self.fedgw = None
		self.kam = None
		self.alice = None
		self.bob = None
		self.notes = []
		self.soft = []

	def base(self):
		h.dnsmasq_start(self.procs, self.work, [
			"--host-record=prosody.test,%s" % h.PROSODY_IP,
			"--host-record=gw.test,%s" % h.GW_IP,
			"--host-record=edge.test,%s" % EDGE_IP,
			"--host-record=edge2.test,%s" % EDGE_IP,
			"--host-record=dead.test,%s" % h.DEAD_IP,
			"--srv-host=_xmpp-server._tcp.prosody.test,prosody.test,5269",
			# the SIP domain's XMPP side is served by the gateway
			"--srv-host=_xmpp-server._tcp.%s,gw.test,5269" % SIP_DOMAIN,
			"--srv-host=_xmpp-server._tcp.gw.test,gw.test,5269",
			# the edge reaches the gateway's Contact (no port) through RFC 3263 SRV
			"--srv-host=_sips._tcp.gw.test,gw.test,5061",
			"--srv-host=_sip._tls.gw.test,gw.test,5061",
			# SRV to an address where nothing listens: TCP refused
			"--srv-host=_xmpp-server._tcp.unreachable.test,dead.test,5269",
		])
		ca = self.ca = h.TestCA(self.work, "ca")
		self.certs = {
			"gw": ca.leaf("gw", ["gw.test"]),
			"edge": ca.leaf("edge", ["edge.test"]),
			"wrong": ca.leaf("wrongname", ["wrong.test"]),
		}
		# XMPP side: Prosody with dialback, no TLS (the TLS under test is the SIP edge's)
		self.prosody = h.Prosody(self.procs, self.work, "prosody.test", h.PROSODY_IP)
		self.prosody.configure("plain")
		self.prosody.register("alice", ALICE[1])
		self.prosody.start()
		# the edge first: fedgw connects to its next hop at once instead of retrying later
		c, k = self.certs["edge"]
		self.kam = sipedge.Kamailio(self.procs, self.work, EDGE_IP, "edge.test", "gw.test",
		                            SIP_DOMAIN, c, k, ca.cert)
		self.kam.check()
		self.kam.start()
		self.fedgw_start()
		self.stunnel = sipedge.Stunnel(self.procs, self.work, STUNNEL_IP, STUNNEL_PORT, h.GW_IP,
		                               "gw.test", c, k, ca.cert)
		self.stunnel.start()
		wc, wk = self.certs["wrong"]
		self.stunnel_bad = sipedge.Stunnel(self.procs, os.path.join(self.work, "bad"),
		                                   STUNNEL_BAD_IP, STUNNEL_PORT, h.GW_IP, "gw.test",
		                                   wc, wk, ca.cert)
		self.stunnel_bad.start()
		self.alice = xmppuser.XmppUser(h.PROSODY_IP, ALICE[0], ALICE[1])
		self.bob = sipua.UA("bob", SIP_DOMAIN, UA_IP, 5070, (EDGE_IP, 5060))
		self.bob.handler = answer_subscribe
		r = self.bob.register()
		if r is None or r.code != 200:
			raise h.HarnessError("REGISTER with Kamailio: %s\n%s" % (first_line(r),
			                                                         self.kam.tail()))

	def fedgw_start(self):
		f = self.fedgw = h.Fedgw(self.procs, self.work, self.args.fedgw)
		f.init()
		f.cli("xmpp", "set", "dns_servers=%s" % h.DNS_IP, "dns_transparent_zones=test",
		      "bind=%s" % h.GW_IP, "port=5269", "allow_system_ca=false", "tls_mode=off",
		      "require_client_cert=false", "sasl_external_in=false", "sasl_external_out=false",
		      "connect_timeout_s=3")
		f.cli("xmpp", "allow", "add", "prosody.test", "--auth", "dialback", "--tls", "off")
		c, k = self.certs["gw"]
		rc, _, _ = f.cli("sip", "--help", check=False)
		if rc == 0:
			# the product's own path: fedgw pki and fedgw sip
			f.cli("pki", "import", "sipgw", c, k)
			f.cli("pki", "import-ca", "sipca", self.ca.cert)
			f.cli("sip", "set", "fqdn=gw.test", "bind=" + h.GW_IP, "tls_port=5061",
			      "tcp_port=5060")
			f.cli("sip", "domain", "add", SIP_DOMAIN, "--next-hop", "edge.test", "--port",
			      "5061", "--transport", "tls", "--cert", "sipgw", "--ca", "sipca",
			      "--xmpp-domain", SIP_DOMAIN)
			# a second domain whose next hop name is not on the edge's certificate
			f.cli("sip", "domain", "add", BAD_DOMAIN, "--next-hop", "edge2.test", "--port",
			      "5061", "--transport", "tls", "--cert", "sipgw", "--ca", "sipca")
		else:
			# a fedgw without the sip verb: the records straight into the store
			seed = "\n".join([
				"set sip.fqdn gw.test", "set sip.bind " + h.GW_IP, "set sip.tls_port 5061",
				"set sip.tcp_port 5060",
				"cert sipgw gateway-sip %s %s" % (c, k),
				"ca sipca sip-test-ca " + self.ca.cert,
				"domain %s edge.test 5061 tls sipgw sipca %s" % (SIP_DOMAIN, SIP_DOMAIN),
				"domain %s edge2.test 5061 tls sipgw sipca -" % BAD_DOMAIN,
			]) + "\n"
			h.run([self.args.seed, f.data], input_bytes=seed.encode())
		f.start()
		if not h.wait_port(h.GW_IP, 5061, proc=f.proc):
			raise h.HarnessError("fedgw does not listen on SIP TLS 5061:\n" + f.tail())

	def status_object(self, oid):
		_, st, _ = self.fedgw.cli_json("status", "--json")
		for o in (st or {}).get("objects") or []:
			if o.get("id") == oid:
				return o
		return None

	def cleanup(self):
		for c in (self.alice,):
			if c is not None:
				c.close()
		if self.bob is not None:
			self.bob.close()
		self.procs.stop_all()


def answer_subscribe(ua, req):
	"""The UA's handler: SUBSCRIBE gets 200 with the Expires it asked for (or the shorter
	ua.grant_expires, RFC 6665 §4.2.1.1); the rest 200."""
	if req.method == "SUBSCRIBE":
		exp = req.get("expires") or "600"
		grant = getattr(ua, "grant_expires", None)
		if grant is not None and exp.strip() != "0":
			exp = str(grant)
		return (200, "OK", "Expires: %s\r\n" % exp, None, b"")
	return None


def pidf(entity, basic, note=None, away=False):
	person = ""
	if away or note:
		person = ("<dm:person id='p1'>%s%s</dm:person>" %
		          ("<rpid:activities><rpid:away/></rpid:activities>" if away else "",
		           "<dm:note>%s</dm:note>" % note if note else ""))
	return ("<?xml version='1.0' encoding='UTF-8'?>\n"
	        "<presence xmlns='urn:ietf:params:xml:ns:pidf' "
	        "xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' "
	        "xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='%s'>"
	        "<tuple id='t1'><status><basic>%s</basic></status>%s</tuple>%s</presence>"
	        % (entity, basic, "<note>%s</note>" % note if note else "", person)).encode()


def prosody_log_wait(ctx, text, timeout=XMPP_TIMEOUT):
	end = time.monotonic() + timeout
	while time.monotonic() < end:
		if text in ctx.prosody.logtext():
			return True
		time.sleep(0.2)
	return text in ctx.prosody.logtext()


def wait_until(pred, timeout):
	end = time.monotonic() + timeout
	while time.monotonic() < end:
		if pred():
			return True
		time.sleep(0.2)
	return pred()


def bare(jid):
	return jid.split("/")[0]


# ---- raw SIP over the TLS hop (stunnel) ---------------------------------------------------

def read_sip(sock, timeout):
	"""One SIP message (head + Content-Length body) from a stream, or None."""
	buf = b""
	end = time.monotonic() + timeout
	while True:
		while buf.startswith(b"\r\n"):
			buf = buf[2:]
		i = buf.find(b"\r\n\r\n")
		if i >= 0:
			m = re.search(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)", buf[:i + 2], re.I)
			cl = int(m.group(1)) if m else 0
			if len(buf) >= i + 4 + cl:
				return buf[:i + 4 + cl]
		left = end - time.monotonic()
		if left <= 0:
			return None
		sock.settimeout(left)
		try:
			data = sock.recv(65536)
		except OSError:
			return None
		if not data:
			return None
		buf += data


def tls_exchange(addr, raw, timeout=5.0, half_close=False):
	s = socket.create_connection(addr, timeout=5)
	try:
		s.sendall(raw)
		if half_close:
			s.shutdown(socket.SHUT_WR)
		return read_sip(s, timeout)
	finally:
		s.close()


def edge_message(to, text, call_id, frm="sip:bob@sip.test"):
	body = text.encode()
	return ("MESSAGE %s SIP/2.0\r\nVia: SIP/2.0/TLS edge.test:5061;branch=z9hG4bK%s\r\n"
	        "Max-Forwards: 70\r\nFrom: <%s>;tag=e1\r\nTo: <%s>\r\nCall-ID: %s\r\n"
	        "CSeq: 1 MESSAGE\r\nContent-Type: text/plain;charset=UTF-8\r\n"
	        "Content-Length: %d\r\n\r\n" % (to, sipua.rand(10), frm, to, call_id,
	                                        len(body))).encode() + body


# ---- scenarios ------------------------------------------------------------------------------

def s_edge_up(ctx):
	"""fedgw connects to Kamailio over mutual TLS and its OPTIONS are answered."""
	end = time.monotonic() + 20
	o = None
	while time.monotonic() < end:
		o = ctx.status_object("sip:" + SIP_DOMAIN)
		if o and o.get("state") == "up":
			break
		time.sleep(0.5)
	check(o and o.get("state") == "up", "status sip:%s not up: %s\nkamailio:\n%s"
	      % (SIP_DOMAIN, json.dumps(o), ctx.kam.tail(15)))


def fault(ctx, fid):
	_, st, _ = ctx.fedgw.cli_json("status", "--json")
	for f in ((st or {}).get("faults") or {}).get("active") or []:
		if f.get("id") == fid:
			return f
	return None


def s_validate(ctx):
	"""fedgw sip validate: every step passes for sip.test through Kamailio; for other.test
	(next hop edge2.test, Kamailio's certificate names edge.test) the name step fails with
	the seed-000 words, the names found and a fix, and fault sip.cert.other.test is up."""
	rc, js, err = ctx.fedgw.cli_json("sip", "validate", SIP_DOMAIN, "--json", timeout=60)
	with open(os.path.join(ctx.work, "validate-%s.json" % SIP_DOMAIN), "w") as f:
		f.write(json.dumps(js, indent=1) if js is not None else err)
	states = {s.get("id"): str(s.get("state")).lower() for s in find_steps(js)}
	check(rc == 0, "validate %s: exit %d, steps %s %s" % (SIP_DOMAIN, rc, states, err[-300:]))
	for sid in ("dns", "tcp", "tls", "cert", "options"):
		check(states.get(sid) == "pass", "validate %s: step %s is %s" % (SIP_DOMAIN, sid,
		                                                               states.get(sid)))
	rc, js, err = ctx.fedgw.cli_json("sip", "validate", BAD_DOMAIN, "--json", timeout=60)
	with open(os.path.join(ctx.work, "validate-%s.json" % BAD_DOMAIN), "w") as f:
		f.write(json.dumps(js, indent=1) if js is not None else err)
	steps = {s.get("id"): s for s in find_steps(js)}
	cert = steps.get("cert") or {}
	text = json.dumps(cert)
	check(rc == 1, "validate %s: exit %d, want 1" % (BAD_DOMAIN, rc))
	check(str(cert.get("state")).lower() == "fail" and
	      "does not contain a matching FQDN" in text and "edge.test" in text and
	      "edge2.test" in text and cert.get("fix"),
	      "validate %s: the name step does not say what is wrong: %s" % (BAD_DOMAIN, text))
	end = time.monotonic() + 15
	while fault(ctx, "sip.cert." + BAD_DOMAIN) is None and time.monotonic() < end:
		time.sleep(0.5)
	fl = fault(ctx, "sip.cert." + BAD_DOMAIN)
	check(fl is not None and "edge.test" in json.dumps(fl),
	      "fault sip.cert.%s: %s" % (BAD_DOMAIN, fl))
	check(fault(ctx, "sip.cert." + SIP_DOMAIN) is None, "a certificate fault for sip.test")


def find_steps(js):
	out = []
	if isinstance(js, dict):
		if "id" in js and "state" in js:
			out.append(js)
		for v in js.values():
			out += find_steps(v)
	elif isinstance(js, list):
		for v in js:
			out += find_steps(v)
	return out


def s_message_sip_to_xmpp(ctx):
	"""Page-mode MESSAGE from a SIP UA through Kamailio: 202, and alice reads it."""
	m = ctx.alice.mark()
	text = "Hello from SIP, caf\u00e9 \u2713 <&>"
	r = ctx.bob.message("sip:alice@prosody.test", text)
	check(r is not None and r.code == 202, "MESSAGE to alice@prosody.test: %s" % first_line(r))
	st = ctx.alice.wait(lambda s: s.kind == "message" and s.body == text, XMPP_TIMEOUT, m)
	check(st is not None, "alice did not receive the message; she got: %s"
	      % ctx.alice.stanzas[m:])
	check(bare(st.frm) == "bob@sip.test", "from is %r, want bob@sip.test" % st.frm)
	check(bare(st.to) == "alice@prosody.test", "to is %r" % st.to)
	# RFC 7572 §5: a pager-mode MESSAGE MUST become a message with no type or 'normal'
	# (slixmpp reports an absent type as 'normal')
	check(st.type == "normal", "type is %r, want none or normal (RFC 7572 §5): %s"
	      % (st.type, st.xml))


def s_message_xmpp_to_sip(ctx):
	"""alice's chat message reaches the SIP UA as a MESSAGE with her address."""
	i = len(ctx.bob.requests)
	m = ctx.alice.mark()
	text = "Hello from XMPP \u00e9\u00e8 <&> 'quoted'"
	ctx.alice.chat("bob@sip.test", text)
	req = ctx.bob.wait_request(lambda r: r.method == "MESSAGE" and r.text() == text,
	                           XMPP_TIMEOUT, i)
	check(req is not None, "the UA got no MESSAGE; requests seen: %s"
	      % [r.first for r in ctx.bob.requests[i:]])
	check(req.uri("from").startswith("sip:alice@prosody.test"), "From: %s" % req.get("from"))
	check(req.uri("to") == "sip:bob@sip.test", "To: %s" % req.get("to"))
	check((req.get("content-type") or "").lower().startswith("text/plain"),
	      "Content-Type: %s" % req.get("content-type"))
	err = ctx.alice.wait(lambda s: s.type == "error", 1.0, m)
	check(err is None, "alice got an error for a delivered message: %s" % err)


SIPSAK_MESSAGE = ("MESSAGE sip:alice@prosody.test SIP/2.0\r\n"
                  "From: <sip:carol@sip.test>;tag=sipsak1\r\n"
                  "To: <sip:alice@prosody.test>\r\n"
                  "Call-ID: sipsak-%d@127.0.0.6\r\n"
                  "CSeq: 1 MESSAGE\r\n"
                  "Max-Forwards: 70\r\n"
                  "Content-Type: text/plain;charset=UTF-8\r\n"
                  "Content-Length: %d\r\n\r\n%s")


def s_message_sipsak(ctx):
	"""sipsak (a real UA) sends a MESSAGE file through Kamailio: 202, and alice reads it."""
	m = ctx.alice.mark()
	text = "sipsak says hello"
	f = os.path.join(ctx.work, "sipsak-message.txt")
	with open(f, "w", newline="") as fp:
		fp.write(SIPSAK_MESSAGE % (os.getpid(), len(text), text))
	rc, out, err = h.run(["sipsak", "-f", f, "-s", "sip:alice@prosody.test", "-p",
	                      "%s:5060" % EDGE_IP, "-H", UA_IP, "-l", "5071", "-vv"],
	                     check=False, timeout=30)
	check(re.search(r"SIP/2\.0 202", out + err) is not None,
	      "sipsak got no 202 (exit %d):\n%s%s" % (rc, out[-1500:], err[-500:]))
	st = ctx.alice.wait(lambda s: s.kind == "message" and s.body == text, XMPP_TIMEOUT, m)
	check(st is not None and bare(st.frm) == "carol@sip.test",
	      "alice did not receive sipsak's message from carol@sip.test: %s" % st)


SIPP_MESSAGE = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="fedgw interop page-mode MESSAGE">
  <send retrans="500">
    <![CDATA[
MESSAGE sip:alice@prosody.test SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:dave@sip.test>;tag=[pid]SIPpTag00[call_number]
To: <sip:alice@prosody.test>
Call-ID: [call_id]
CSeq: 1 MESSAGE
Max-Forwards: 70
Content-Type: text/plain;charset=UTF-8
Content-Length: [len]

sipp message [call_number]
    ]]>
  </send>
  <recv response="202" />
</scenario>
"""


SIPP_CALLS = 50


def s_message_sipp(ctx):
	"""sipp sends 50 MESSAGEs over UDP to Kamailio at 100/s: each 202, alice gets every one
	exactly once."""
	m = ctx.alice.mark()
	sf = os.path.join(ctx.work, "sipp-message.xml")
	with open(sf, "w") as f:
		f.write(SIPP_MESSAGE)
	rc, out, err = h.run(["sipp", "%s:5060" % EDGE_IP, "-sf", sf, "-m", str(SIPP_CALLS),
	                      "-r", "100", "-i", UA_IP, "-p", "5072", "-nostdin", "-timeout", "30s",
	                      "-timeout_error", "-trace_err", "-error_file",
	                      os.path.join(ctx.work, "sipp-errors.log")],
	                     check=False, timeout=60)
	check(rc == 0, "sipp exit %d (not every MESSAGE got 202):\n%s" % (rc, (out + err)[-1500:]))
	want = ["sipp message %d" % n for n in range(1, SIPP_CALLS + 1)]
	ctx.alice.wait(lambda s: s.body and s.body.strip() == want[-1], XMPP_TIMEOUT, m)
	time.sleep(0.5)  # a duplicate would come right behind
	got = [s.body.strip() for s in ctx.alice.stanzas[m:] if s.kind == "message" and s.body and
	       s.body.startswith("sipp message")]
	missing = [w for w in want if w not in got]
	dups = sorted(set(g for g in got if got.count(g) > 1))
	check(not missing and not dups, "alice lacks %s, has duplicates %s" % (missing, dups))
	froms = set(bare(s.frm) for s in ctx.alice.stanzas[m:] if s.body and
	            s.body.startswith("sipp message"))
	check(froms == {"dave@sip.test"}, "senders %s" % froms)


def s_message_sipp_tcp(ctx):
	"""sipp over TCP to Kamailio (-t t1): 5 MESSAGEs, each 202 and delivered once."""
	m = ctx.alice.mark()
	sf = os.path.join(ctx.work, "sipp-message-tcp.xml")
	with open(sf, "w") as f:
		f.write(SIPP_MESSAGE.replace("sipp message [call_number]",
		                             "sipp tcp message [call_number]"))
	rc, out, err = h.run(["sipp", "%s:5060" % EDGE_IP, "-sf", sf, "-t", "t1", "-m", "5",
	                      "-r", "50", "-i", UA_IP, "-p", "5073", "-nostdin", "-timeout", "30s",
	                      "-timeout_error"], check=False, timeout=60)
	check(rc == 0, "sipp over TCP exit %d:\n%s" % (rc, (out + err)[-1500:]))
	want = ["sipp tcp message %d" % n for n in range(1, 6)]
	ctx.alice.wait(lambda s: s.body and s.body.strip() == want[-1], XMPP_TIMEOUT, m)
	time.sleep(0.3)
	got = [s.body.strip() for s in ctx.alice.stanzas[m:] if s.body and
	       s.body.startswith("sipp tcp message")]
	check(sorted(got) == sorted(want), "alice got %s" % got)


def s_message_fields(ctx):
	"""Subject and Content-Language -> <subject/> and xml:lang; a 6 KB text intact;
	alice's <thread/> -> Call-ID (RFC 7572 §5)."""
	bob, alice = ctx.bob, ctx.alice
	m = alice.mark()
	r = bob.message("sip:alice@prosody.test", "Bonjour",
	                extra="Subject: Salutations\r\nContent-Language: fr\r\n")
	check(r is not None and r.code == 202, "MESSAGE with Subject: %s" % first_line(r))
	st = alice.wait(lambda s: s.kind == "message" and s.body == "Bonjour", XMPP_TIMEOUT, m)
	check(st is not None, "alice did not get the message with a subject")
	check(st.child_text("subject") == "Salutations", "subject %r" % st.child_text("subject"))
	lang = st.elem.get("{http://www.w3.org/XML/1998/namespace}lang")
	check(lang == "fr", "xml:lang %r, want fr: %s" % (lang, st))
	big = "".join("%05d " % n for n in range(1000))
	m = alice.mark()
	r = bob.message("sip:alice@prosody.test", big)
	check(r is not None and r.code == 202, "6 KB MESSAGE: %s" % first_line(r))
	st = alice.wait(lambda s: s.kind == "message" and s.body and s.body.startswith("00000"),
	                XMPP_TIMEOUT, m)
	check(st is not None and st.body == big, "the 6 KB text did not arrive intact (%s chars)"
	      % (len(st.body) if st else None))
	i = len(bob.requests)
	alice.chat("bob@sip.test", "threaded", thread="thread-4711")
	req = bob.wait_request(lambda q: q.method == "MESSAGE" and q.text() == "threaded",
	                       XMPP_TIMEOUT, i)
	check(req is not None, "the threaded message did not reach the UA")
	check(req.get("call-id") == "thread-4711", "Call-ID %r, want the thread" % req.get("call-id"))


CPIM = ("From: <sip:bob@sip.test>\r\nTo: <sip:alice@prosody.test>\r\n"
        "DateTime: 2026-01-01T00:00:00Z\r\n\r\n"
        "Content-Type: text/plain;charset=UTF-8\r\n\r\n%s")


def s_message_cpim(ctx):
	"""A message/cpim MESSAGE (RFC 3862, RFC 7572 §5): alice reads the inner text only."""
	m = ctx.alice.mark()
	text = "wrapped in CPIM \u00e9"
	r = ctx.bob.message("sip:alice@prosody.test", CPIM % text, ctype="message/cpim")
	check(r is not None and r.code == 202, "CPIM MESSAGE: %s" % first_line(r))
	st = ctx.alice.wait(lambda s: s.kind == "message" and s.body is not None and
	                    text in s.body, XMPP_TIMEOUT, m)
	check(st is not None, "alice did not get the CPIM text: %s" % ctx.alice.stanzas[m:])
	check(st.body == text, "body %r, want only the inner text %r" % (st.body, text))


ISCOMPOSING = ("<?xml version='1.0' encoding='UTF-8'?>\n"
               "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'>"
               "<state>active</state><contenttype>text/plain</contenttype>"
               "<refresh>60</refresh></isComposing>")
CHATSTATES = "{http://jabber.org/protocol/chatstates}"


def s_chat_states(ctx):
	"""XEP-0085 <composing/> <-> RFC 3994 isComposing, both ways."""
	bob, alice = ctx.bob, ctx.alice
	i = len(bob.requests)
	alice.send_raw("<message to='bob@sip.test' type='chat'>"
	               "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	req = bob.wait_request(lambda q: q.method == "MESSAGE", XMPP_TIMEOUT, i)
	check(req is not None, "the UA got no MESSAGE for alice's <composing/>")
	check((req.get("content-type") or "").startswith("application/im-iscomposing+xml") and
	      "<state>active</state>" in req.text().replace(" ", ""),
	      "not an isComposing active: %s\n%s" % (req.get("content-type"), req.text()))
	m = alice.mark()
	r = bob.message("sip:alice@prosody.test", ISCOMPOSING,
	                ctype="application/im-iscomposing+xml")
	check(r is not None and 200 <= r.code < 300, "isComposing MESSAGE: %s" % first_line(r))
	st = alice.wait(lambda s: s.kind == "message" and s.has(CHATSTATES + "composing"),
	                XMPP_TIMEOUT, m)
	check(st is not None, "alice got no <composing/>: %s" % alice.stanzas[m:])
	check(st.body is None, "a chat state arrived with a body: %s" % st)
	# RFC 3994 §3.5: an unknown state token is idle; RFC 7573 §6 Table 3: idle -> active
	m = alice.mark()
	r = bob.message("sip:alice@prosody.test", ISCOMPOSING.replace("active", "typing"),
	                ctype="application/im-iscomposing+xml")
	check(r is not None and 200 <= r.code < 300,
	      "isComposing with an unknown state (RFC 3994 §3.5: idle): %s" % first_line(r))
	st = alice.wait(lambda s: s.kind == "message" and s.has(CHATSTATES + "active"),
	                XMPP_TIMEOUT, m)
	check(st is not None, "alice got no <active/> for isComposing idle: %s" % alice.stanzas[m:])


def s_im_session(ctx):
	"""INVITE with m=message, MESSAGE inside the dialog both ways, BYE <-> XMPP chat."""
	bob, alice = ctx.bob, ctx.alice
	sdp = ("v=0\r\no=bob 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
	       "m=message 5070 sip sip:bob@sip.test\r\na=accept-types:text/plain\r\n"
	       % (UA_IP, UA_IP)).encode()
	txn = bob.request("INVITE", "sip:alice@prosody.test", ctype="application/sdp", body=sdp)
	r = bob.final(txn, 10)
	check(r is not None and r.code == 200, "INVITE: %s" % first_line(r))
	check(b"m=message" in r.body, "200 without an m=message answer: %r" % r.body)
	soft(ctx, r.all("record-route"), "fedgw's 200 OK to the INVITE does not copy the edge's "
	     "Record-Route (RFC 3261 §12.1.1), so in-dialog requests lose the edge:\n%s" % r)
	d = bob.dialog_from_response(txn, r, "sip:alice@prosody.test")
	bob.request("ACK", None, dialog=d, cseq=txn[1])
	m = alice.mark()
	text = "inside the IM session"
	t2 = bob.request("MESSAGE", None, dialog=d, ctype="text/plain;charset=UTF-8",
	                 body=text.encode())
	r2 = bob.final(t2, 15)
	check(r2 is not None and 200 <= r2.code < 300, "MESSAGE in the dialog: %s" % first_line(r2))
	st = alice.wait(lambda s: s.kind == "message" and s.body == text, XMPP_TIMEOUT, m)
	check(st is not None, "alice did not get the session's message: %s" % alice.stanzas[m:])
	check(bare(st.frm) == "bob@sip.test", "from %r" % st.frm)
	check(st.type == "chat", "a message inside the IM session has type %r, want chat (RFC 7573)"
	      % st.type)
	thread = st.child_text("thread")
	check(thread == d.call_id, "thread %r, want the Call-ID %r" % (thread, d.call_id))
	i = len(bob.requests)
	reply = "alice answers in the session"
	alice.chat(st.frm, reply, thread=thread)
	req = bob.wait_request(lambda q: q.method == "MESSAGE" and q.text() == reply,
	                       XMPP_TIMEOUT, i)
	check(req is not None, "alice's reply did not reach the UA: %s"
	      % [q.first for q in bob.requests[i:]])
	check(req.get("call-id") == d.call_id and req.tag("to") == d.local_tag,
	      "the reply is not inside the dialog (Call-ID %s, To tag %s; dialog %s/%s)"
	      % (req.get("call-id"), req.tag("to"), d.call_id, d.local_tag))
	# a reply without <thread/> from the same user also belongs to the open session
	i = len(bob.requests)
	alice.chat(st.frm, "no thread this time")
	req = bob.wait_request(lambda q: q.method == "MESSAGE" and q.text() == "no thread this time",
	                       XMPP_TIMEOUT, i)
	check(req is not None, "alice's reply without a thread did not reach the UA")
	soft(ctx, req.get("call-id") == d.call_id and req.tag("to") == d.local_tag,
	     "a reply without <thread/> went outside the session (Call-ID %s)" % req.get("call-id"))
	m = alice.mark()
	t3 = bob.request("BYE", None, dialog=d)
	r3 = bob.final(t3, 10)
	check(r3 is not None and r3.code == 200, "BYE: %s" % first_line(r3))
	gone = alice.wait(lambda s: s.kind == "message" and
	                  s.has("{http://jabber.org/protocol/chatstates}gone"), XMPP_TIMEOUT, m)
	check(gone is not None, "alice got no <gone/> after BYE: %s" % alice.stanzas[m:])
	# RFC 7573 §6.1: alice's <gone/> ends a session from her side: bob's UA gets a BYE
	txn = bob.request("INVITE", "sip:alice@prosody.test", ctype="application/sdp", body=sdp)
	r = bob.final(txn, 10)
	check(r is not None and r.code == 200, "second INVITE: %s" % first_line(r))
	check("presence" in (r.get("allow-events") or ""),
	      "the INVITE's 200 has no Allow-Events: presence (RFC 6665 §4.4.4)")
	d2 = bob.dialog_from_response(txn, r, "sip:alice@prosody.test")
	bob.request("ACK", None, dialog=d2, cseq=txn[1])
	i = len(bob.requests)
	alice.send_raw("<message to='bob@sip.test' type='chat'><thread>%s</thread>"
	               "<gone xmlns='http://jabber.org/protocol/chatstates'/></message>" % d2.call_id)
	req = bob.wait_request(lambda q: q.method == "BYE" and q.get("call-id") == d2.call_id,
	                       XMPP_TIMEOUT, i)
	check(req is not None, "alice's <gone/> did not end the session with a BYE: %s"
	      % [q.first for q in bob.requests[i:]])


def s_presence_sip_watches_xmpp(ctx):
	"""SIP SUBSCRIBE to alice: NOTIFY with PIDF, her status text, unsubscribe."""
	bob, alice = ctx.bob, ctx.alice
	i, m = len(bob.requests), alice.mark()
	txn = bob.request("SUBSCRIBE", "sip:alice@prosody.test",
	                  extra="Event: presence\r\nAccept: application/pidf+xml\r\nExpires: 600\r\n")
	r = bob.final(txn, 10)
	check(r is not None and r.code in (200, 202), "SUBSCRIBE: %s" % first_line(r))
	soft(ctx, r.all("record-route"), "fedgw's %s to the SUBSCRIBE does not copy the edge's "
	     "Record-Route (RFC 3261 §12.1.1, RFC 6665 §4.1):\n%s" % (r.code, r))
	d = bob.dialog_from_response(txn, r, "sip:alice@prosody.test")
	n1 = bob.wait_request(lambda q: q.method == "NOTIFY" and q.get("call-id") == d.call_id,
	                      10, i)
	check(n1 is not None, "no NOTIFY after SUBSCRIBE: %s" % [q.first for q in bob.requests[i:]])
	sub = alice.wait(lambda s: s.kind == "presence" and s.type == "subscribe" and
	                 bare(s.frm) == "bob@sip.test", XMPP_TIMEOUT, m)
	check(sub is not None, "alice got no subscription request: %s" % alice.stanzas[m:])
	alice.presence(ptype="subscribed", to="bob@sip.test")

	def notify_with(pred, start):
		return bob.wait_request(lambda q: q.method == "NOTIFY" and
		                        q.get("call-id") == d.call_id and pred(q), XMPP_TIMEOUT, start)
	act = notify_with(lambda q: "active" in (q.get("subscription-state") or "") and
	                  b"<basic>open</basic>" in q.body.replace(b" ", b""), i)
	check(act is not None, "no NOTIFY active with PIDF open after alice approved: %s" %
	      [(q.get("subscription-state"), q.text()[:300]) for q in bob.requests[i:]
	       if q.method == "NOTIFY"])
	check((act.get("content-type") or "").startswith("application/pidf+xml"),
	      "NOTIFY Content-Type %s" % act.get("content-type"))
	j = len(bob.requests)
	status = "In a meeting until 3 \u2013 caf\u00e9"
	alice.presence(show="away", status=status)
	chg = notify_with(lambda q: status in q.text(), j)
	check(chg is not None, "alice's status text did not reach the watcher: %s" %
	      [q.text()[:400] for q in bob.requests[j:] if q.method == "NOTIFY"])
	check("away" in chg.text(), "the NOTIFY lost show=away: %s" % chg.text())
	alice.presence(status="back")  # available again for the later scenarios
	# a refresh (RFC 6665 §4.2.1.1): 2xx, a NOTIFY, and no second request to alice
	j, m = len(bob.requests), alice.mark()
	tr = bob.request("SUBSCRIBE", None, dialog=d,
	                 extra="Event: presence\r\nAccept: application/pidf+xml\r\nExpires: 600\r\n")
	rr = bob.final(tr, 10)
	soft(ctx, rr is not None and rr.code in (200, 202),
	     "refresh SUBSCRIBE in the dialog: %s" % first_line(rr))
	if rr is not None and rr.code in (200, 202):
		soft(ctx, notify_with(lambda q: True, j) is not None,
		     "no NOTIFY after the refresh (RFC 6665 §4.2.1.2)")
		again = alice.wait(lambda s: s.kind == "presence" and s.type == "subscribe", 1.0, m)
		soft(ctx, again is None, "the refresh asked alice again: %s" % again)
	j, m = len(bob.requests), alice.mark()
	unsub = "Event: presence\r\nAccept: application/pidf+xml\r\nExpires: 0\r\n"
	t2 = bob.request("SUBSCRIBE", None, dialog=d, extra=unsub)
	r2 = bob.final(t2, 10)
	soft(ctx, r2 is not None and r2.code in (200, 202),
	     "in-dialog SUBSCRIBE Expires: 0 with the Request-URI set to fedgw's Contact %s "
	     "(RFC 3261 §12.2.1.1): %s" % (d.target, first_line(r2)))
	if r2 is None or r2.code not in (200, 202):
		# go on with the Request-URI fedgw accepts (the presentity) to test the rest
		# (without the Route set: the edge sends what comes from its UAs to the gateway)
		d.target = "sip:alice@prosody.test"
		d.routes = []
		t2 = bob.request("SUBSCRIBE", None, dialog=d, extra=unsub)
		r2 = bob.final(t2, 10)
		check(r2 is not None and r2.code in (200, 202),
		      "SUBSCRIBE Expires 0 to sip:alice@prosody.test: %s" % first_line(r2))
	term = notify_with(lambda q: "terminated" in (q.get("subscription-state") or ""), j)
	check(term is not None, "no NOTIFY terminated after unsubscribing")
	# RFC 8048 §5.3.3: the final NOTIFY says closed (reason timeout), alice sees bob
	# unavailable, and her authorization of bob stays: no unsubscribe
	check("reason=timeout" in (term.get("subscription-state") or "") and
	      b"<basic>closed</basic>" in term.body.replace(b" ", b""),
	      "the final NOTIFY is not terminated;reason=timeout with PIDF closed: %s %s"
	      % (term.get("subscription-state"), term.body[:300]))
	una = alice.wait(lambda s: s.kind == "presence" and s.type == "unavailable" and
	                 bare(s.frm) == "bob@sip.test", XMPP_TIMEOUT, m)
	check(una is not None, "alice got no unavailable from bob (RFC 8048 §5.3.3): %s"
	      % alice.stanzas[m:])
	uns = alice.wait(lambda s: s.kind == "presence" and s.type == "unsubscribe" and
	                 bare(s.frm) == "bob@sip.test", 1.0, m)
	check(uns is None, "alice got an unsubscribe for the end of a notification dialog "
	      "(RFC 8048 §5.3.3: the authorization stays): %s" % uns)


def s_presence_xmpp_watches_sip(ctx):
	"""alice subscribes to bob@sip.test: SUBSCRIBE reaches the UA through the edge, its
	NOTIFY (PIDF with a note) comes back as subscribed + presence, then unsubscribe."""
	bob, alice = ctx.bob, ctx.alice
	i, m = len(bob.requests), alice.mark()
	alice.presence(ptype="subscribe", to="bob@sip.test")
	sub = bob.wait_request(lambda q: q.method == "SUBSCRIBE", XMPP_TIMEOUT, i)
	check(sub is not None, "no SUBSCRIBE reached the UA: %s" % [q.first for q in bob.requests[i:]])
	check((sub.get("event") or "").startswith("presence"), "Event: %s" % sub.get("event"))
	check("application/pidf+xml" in (sub.get("accept") or ""), "Accept: %s" % sub.get("accept"))
	check(sub.uri("from").startswith("sip:alice@prosody.test"), "From: %s" % sub.get("from"))
	check(sub.uri("to") == "sip:bob@sip.test", "To: %s" % sub.get("to"))
	d = bob.dialog_from_request(sub)
	note = "Available from SIP \u2713"
	t = bob.request("NOTIFY", None, dialog=d,
	                extra="Event: presence\r\nSubscription-State: active;expires=600\r\n",
	                ctype="application/pidf+xml", body=pidf("sip:bob@sip.test", "open", note))
	r = bob.final(t, 10)
	check(r is not None and r.code == 200, "NOTIFY active: %s" % first_line(r))
	ok = alice.wait(lambda s: s.kind == "presence" and s.type == "subscribed" and
	                bare(s.frm) == "bob@sip.test", XMPP_TIMEOUT, m)
	check(ok is not None, "alice got no subscribed (Prosody received it: %s): %s"
	      % (prosody_log_wait(ctx, "inbound presence subscribed from bob@sip.test", 0.1),
	         alice.stanzas[m:]))
	av = alice.wait(lambda s: s.kind == "presence" and s.type in ("", "available", None) and
	                bare(s.frm) == "bob@sip.test" and s.child_text("status") == note,
	                XMPP_TIMEOUT, m)
	check(av is not None, "alice got no presence with the note: %s" % alice.stanzas[m:])
	m = alice.mark()
	away = "Out to lunch"
	t = bob.request("NOTIFY", None, dialog=d,
	                extra="Event: presence\r\nSubscription-State: active;expires=600\r\n",
	                ctype="application/pidf+xml",
	                body=pidf("sip:bob@sip.test", "open", away, away=True))
	r = bob.final(t, 10)
	check(r is not None and r.code == 200, "NOTIFY change: %s" % first_line(r))
	chg = alice.wait(lambda s: s.kind == "presence" and bare(s.frm) == "bob@sip.test" and
	                 s.child_text("status") == away, XMPP_TIMEOUT, m)
	check(chg is not None, "the status change did not reach alice: %s" % alice.stanzas[m:])
	check(chg.child_text("show") == "away", "show %r, want away" % chg.child_text("show"))
	i = len(bob.requests)
	before = ctx.prosody.logtext().count("inbound presence unsubscribed from bob@sip.test")
	alice.presence(ptype="unsubscribe", to="bob@sip.test")
	uns = bob.wait_request(lambda q: q.method == "SUBSCRIBE" and q.get("call-id") == d.call_id
	                       and (q.get("expires") or "").strip() == "0", XMPP_TIMEOUT, i)
	check(uns is not None, "no SUBSCRIBE Expires: 0 after alice unsubscribed: %s"
	      % [(q.first, q.get("expires")) for q in bob.requests[i:]])
	t = bob.request("NOTIFY", None, dialog=d,
	                extra="Event: presence\r\nSubscription-State: terminated;reason=timeout\r\n")
	r = bob.final(t, 10)
	# RFC 6665 §4.1.2.3, §4.4.1: the subscription lasts until this final NOTIFY
	check(r is not None and r.code == 200, "final NOTIFY terminated: %s" % first_line(r))
	# RFC 8048 §5.2.3 (F21): 'unsubscribed' once the Expires 0 has its 2xx. Prosody takes
	# it but need not pass it on: alice's roster no longer subscribes to bob (RFC 6121
	# §3.2.3), so its log is the witness
	seen = "inbound presence unsubscribed from bob@sip.test"
	check(wait_until(lambda: ctx.prosody.logtext().count(seen) > before, XMPP_TIMEOUT),
	      "no unsubscribed from bob@sip.test reached Prosody after the 2xx to the Expires 0 "
	      "(RFC 8048 §5.2.3)")


def s_presence_refresh_to_sip(ctx):
	"""The UA grants only 10 s: fedgw refreshes the subscription inside the dialog before
	it ends (RFC 6665 §4.1.2.2; at 80% of the period, at least Timer F before its end, never
	before half of it: at 5 s)."""
	bob, alice = ctx.bob, ctx.alice
	i = len(bob.requests)
	bob.grant_expires = 10
	try:
		alice.presence(ptype="subscribe", to="bob@sip.test")
		sub = bob.wait_request(lambda q: q.method == "SUBSCRIBE" and q.tag("to") is None,
		                       XMPP_TIMEOUT, i)
		check(sub is not None, "no SUBSCRIBE reached the UA")
		t0 = time.monotonic()
		d = bob.dialog_from_request(sub)
		t = bob.request("NOTIFY", None, dialog=d,
		                extra="Event: presence\r\nSubscription-State: active;expires=10\r\n",
		                ctype="application/pidf+xml", body=pidf("sip:bob@sip.test", "open", "hi"))
		r = bob.final(t, 10)
		check(r is not None and r.code == 200, "NOTIFY active: %s" % first_line(r))
		ref = bob.wait_request(lambda q: q.method == "SUBSCRIBE" and
		                       q.get("call-id") == d.call_id and q.tag("to") == d.local_tag and
		                       (q.get("expires") or "").strip() != "0", 12.0, i + 1)
		took = time.monotonic() - t0
		check(ref is not None, "no refresh within 12 s of a 10 s subscription")
		# (t0 is a little before fedgw took the grant: half a second for the transit)
		check(took < 10.5, "the refresh came %.1f s after a 10 s grant (after the end)" % took)
		check(int(ref.get("cseq").split()[0]) > int(sub.get("cseq").split()[0]),
		      "CSeq did not grow: %s after %s" % (ref.get("cseq"), sub.get("cseq")))
	finally:
		bob.grant_expires = None
		j = len(bob.requests)
		alice.presence(ptype="unsubscribe", to="bob@sip.test")
		bob.wait_request(lambda q: q.method == "SUBSCRIBE" and
		                 (q.get("expires") or "").strip() == "0", 5.0, j)


def s_error_unknown_xmpp_user(ctx):
	"""MESSAGE to a user Prosody does not have: Prosody bounces service-unavailable; the SIP
	sender must learn it (RFC 7247 §7.1 note 5: mapped 403, never 503; or the error sent back
	after a 202)."""
	bob = ctx.bob
	i = len(bob.requests)
	text = "to nobody"
	r = bob.message("sip:nobody@prosody.test", text)
	check(r is not None, "no final response")
	check(r.code != 503, "MESSAGE to nobody@prosody.test: %s (RFC 7247 §7.1 note 5: "
	      "service-unavailable is not 503)" % first_line(r))
	if r.code == 403 or r.code == 404:
		return
	check(r.code == 202, "MESSAGE to nobody@prosody.test: %s" % first_line(r))
	back = bob.wait_request(lambda q: q.method == "MESSAGE" and
	                        "nobody@prosody.test" in (q.get("from") or ""), 5.0, i)
	bounce = [line for line in ctx.prosody.logtext().splitlines()
	          if "nobody" in line and "Sending[s2sout]" in line]
	check(back is not None, "202 for a MESSAGE to nobody@prosody.test, Prosody bounced it "
	      "to fedgw (%s) and nothing reached the SIP sender (RFC 7247 §7)"
	      % (bounce[-1].split("\t")[-1] if bounce else "no bounce in Prosody's log"))
	check(back.uri("to") == "sip:bob@sip.test" and "service-unavailable" in back.text(),
	      "the error notice does not name the condition Prosody sent (service-unavailable):"
	      "\n%s" % back)


def s_error_unknown_sip_user(ctx):
	"""alice writes to carol@sip.test, who is not registered: Kamailio 404 -> alice gets
	item-not-found (RFC 7247 §7 Table 3)."""
	m = ctx.alice.mark()
	ctx.alice.chat("carol@sip.test", "are you there?")
	err = ctx.alice.wait(lambda s: s.kind == "message" and s.type == "error" and
	                     bare(s.frm) == "carol@sip.test", XMPP_TIMEOUT, m)
	check(err is not None, "alice got no error: %s" % ctx.alice.stanzas[m:])
	check(err.error_condition() == "item-not-found",
	      "condition %s, want item-not-found: %s" % (err.error_condition(), err))


def s_error_unreachable_domain(ctx):
	"""MESSAGE to a domain with no XMPP server (SRV to a closed port; no DNS at all): 404."""
	for to in ("sip:bob@unreachable.test", "sip:bob@nosuchdomain.test"):
		r = ctx.bob.message(to, "anyone?", timeout=25)
		check(r is not None and r.code == 404, "MESSAGE to %s: %s, want 404" % (to, first_line(r)))


def s_error_policy_denied(ctx):
	"""fedgw xmpp policy denies denied.test: MESSAGE there gets 403, never 202."""
	ctx.fedgw.cli("xmpp", "policy", "add", "denied.test", "deny", "--description",
	              "interop_sip")
	try:
		time.sleep(1.0)  # the daemon applies configuration changes live
		r = ctx.bob.message("sip:bob@denied.test", "blocked?", timeout=15)
		check(r is not None and r.code == 403, "MESSAGE to a denied domain: %s, want 403"
		      % first_line(r))
	finally:
		ctx.fedgw.cli("xmpp", "policy", "delete", "denied.test", check=False)


def s_no_false_202_peer_down(ctx):
	"""With Prosody stopped, a MESSAGE to alice is refused (404: remote-server-not-found),
	never a 202; once Prosody is back the same MESSAGE is delivered."""
	ctx.alice.close()
	ctx.alice = None
	ctx.prosody.stop()
	try:
		time.sleep(0.5)  # fedgw sees the streams close
		r = ctx.bob.message("sip:alice@prosody.test", "while Prosody is down", timeout=25)
		check(r is not None and r.code != 202 and r.code >= 400,
		      "MESSAGE while Prosody is down: %s (want an error, never 202)" % first_line(r))
		check(r.code == 404, "MESSAGE while Prosody is down: %s, want 404 "
		      "(remote-server-not-found, RFC 7247 §7)" % first_line(r))
	finally:
		ctx.prosody.start()
		ctx.alice = xmppuser.XmppUser(h.PROSODY_IP, ALICE[0], ALICE[1])
	m = ctx.alice.mark()
	r = ctx.bob.message("sip:alice@prosody.test", "Prosody is back")
	check(r is not None and r.code == 202, "MESSAGE after Prosody came back: %s" % first_line(r))
	check(ctx.alice.wait(lambda s: s.body == "Prosody is back", XMPP_TIMEOUT, m) is not None,
	      "alice did not get the message after Prosody came back")


def s_tls_name_check(ctx):
	"""fedgw checks the edge's certificate name (RFC 5922 §7.1): the same CA but a
	certificate for wrong.test gets 403; the edge's own certificate is accepted."""
	m = ctx.alice.mark()
	good = tls_exchange((STUNNEL_IP, STUNNEL_PORT),
	                    edge_message("sip:alice@prosody.test", "via the TLS hop", "tn1@edge"), 15)
	check(good is not None and good.startswith(b"SIP/2.0 202"),
	      "MESSAGE over TLS with the edge's certificate: %r" % (good or b"")[:80])
	check(ctx.alice.wait(lambda s: s.body == "via the TLS hop", XMPP_TIMEOUT, m) is not None,
	      "alice did not get the message sent over the TLS hop")
	bad = tls_exchange((STUNNEL_BAD_IP, STUNNEL_PORT),
	                   edge_message("sip:alice@prosody.test", "wrong name", "tn2@edge"), 10)
	check(bad is not None and bad.startswith(b"SIP/2.0 403"),
	      "MESSAGE over TLS with a wrong.test certificate: %r, want 403" % (bad or b"")[:80])
	check(ctx.alice.wait(lambda s: s.body == "wrong name", 1.0, m) is None,
	      "a message from the wrong-name peer reached alice")


def s_torture_tls(ctx):
	"""RFC 4475 torture messages through the mutual TLS listener: valid ones answered,
	invalid ones 400 (505 for the version) or dropped, responses never answered."""
	bad = []
	for kind in ("valid", "invalid"):
		for name in sorted(os.listdir(os.path.join(DATA, kind))):
			raw = open(os.path.join(DATA, kind, name), "rb").read()
			rsp = tls_exchange((STUNNEL_IP, STUNNEL_PORT), raw, 3.0,
			                   half_close=(name == "clerr.dat"))
			got = rsp.split(b"\r\n")[0].decode("utf-8", "replace") if rsp else "nothing"
			if raw.startswith(b"SIP/2.0"):
				ok = rsp is None
			elif kind == "valid":
				# inv2543: no Content-Length on a stream is a 400 (RFC 3261 §18.3)
				ok = rsp is not None and rsp.startswith(b"SIP/2.0 ") and (
					name == "inv2543.dat" or not rsp.startswith(b"SIP/2.0 400"))
			elif name == "clerr.dat":
				ok = rsp is None or rsp.startswith(b"SIP/2.0 400")
			else:
				want = b"SIP/2.0 505" if name == "badvers.dat" else b"SIP/2.0 400"
				ok = rsp is not None and rsp.startswith(want)
			if not ok:
				bad.append("%s/%s -> %s" % (kind, name, got))
			check(ctx.fedgw.alive(), "fedgw died after %s/%s:\n%s" % (kind, name,
			                                                          ctx.fedgw.tail()))
	check(not bad, "torture answers wrong: " + "; ".join(bad))
	r = ctx.bob.message("sip:alice@prosody.test", "still here after the torture set")
	check(r is not None and r.code == 202, "MESSAGE after the torture set: %s" % first_line(r))


def subs_list(ctx):
	_, out, _ = h.run([ctx.args.seed, ctx.fedgw.data, "--subs"], check=False)
	return [line for line in out.splitlines() if line.strip()]


def s_presence_survives_restart(ctx):
	"""A SIP watcher's subscription is in the store: after fedgw restarts, alice's next
	status still reaches the same SIP dialog, and the store holds it once."""
	bob, alice = ctx.bob, ctx.alice
	i, m = len(bob.requests), alice.mark()
	txn = bob.request("SUBSCRIBE", "sip:alice@prosody.test",
	                  extra="Event: presence\r\nAccept: application/pidf+xml\r\nExpires: 600\r\n")
	r = bob.final(txn, 10)
	check(r is not None and r.code in (200, 202), "SUBSCRIBE: %s" % first_line(r))
	d = bob.dialog_from_response(txn, r, "sip:alice@prosody.test")
	if alice.wait(lambda s: s.kind == "presence" and s.type == "subscribe", 3.0, m):
		alice.presence(ptype="subscribed", to="bob@sip.test")
	act = bob.wait_request(lambda q: q.method == "NOTIFY" and q.get("call-id") == d.call_id and
	                       "active" in (q.get("subscription-state") or ""), XMPP_TIMEOUT, i)
	check(act is not None, "no NOTIFY active before the restart")
	mine = [x for x in subs_list(ctx) if x.startswith("sip-watcher") and
	        "sip:bob@sip.test alice@prosody.test" in x]
	check(len(mine) == 1, "stored subscriptions before the restart: %s" % subs_list(ctx))
	ctx.fedgw.stop()
	ctx.fedgw.start()
	end = time.monotonic() + 20
	while time.monotonic() < end:
		o = ctx.status_object("sip:" + SIP_DOMAIN)
		if o and o.get("state") == "up":
			break
		time.sleep(0.5)
	j = len(bob.requests)
	text = "after the gateway restarted"
	alice.presence(status=text)
	n = bob.wait_request(lambda q: q.method == "NOTIFY" and text in q.text(), 15.0, j)
	check(n is not None, "alice's status after the restart did not reach the SIP watcher: %s"
	      % [(q.first, q.get("call-id")) for q in bob.requests[j:]])
	check(n.get("call-id") == d.call_id, "the NOTIFY after the restart is in another dialog "
	      "(%s, want %s)" % (n.get("call-id"), d.call_id))
	mine = [x for x in subs_list(ctx) if x.startswith("sip-watcher") and
	        "sip:bob@sip.test alice@prosody.test" in x]
	check(len(mine) == 1, "stored subscriptions after the restart: %s" % subs_list(ctx))


def s_processes_alive(ctx):
	check(ctx.fedgw.alive(), "fedgw is not running:\n" + ctx.fedgw.tail())
	check(ctx.kam.proc.poll() is None, "Kamailio is not running:\n" + ctx.kam.tail())


SCENARIOS = [s_edge_up, s_validate, s_message_sip_to_xmpp, s_message_xmpp_to_sip, s_message_sipsak,
             s_message_sipp, s_message_sipp_tcp,
             s_message_fields, s_message_cpim, s_chat_states, s_im_session,
             s_presence_sip_watches_xmpp, s_presence_xmpp_watches_sip, s_presence_refresh_to_sip,
             s_error_unknown_xmpp_user, s_error_unknown_sip_user, s_error_unreachable_domain,
             s_error_policy_denied, s_no_false_202_peer_down, s_tls_name_check, s_torture_tls,
             s_presence_survives_restart, s_processes_alive]


def sanitizer_report(ctx):
	if ctx.fedgw is None:
		return ""
	try:
		text = open(ctx.fedgw.logfile, errors="replace").read()
	except OSError:
		return ""
	for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
		i = text.find(marker)
		if i >= 0:
			return text[max(0, i - 200):i + 2500]
	return ""


def inner(args):
	ctx = Ctx(args)
	passed, failed = 0, 0

	def stop(_s, _f):
		ctx.cleanup()
		sys.exit(1)
	signal.signal(signal.SIGTERM, stop)
	try:
		try:
			ctx.base()
		except Exception as e:  # noqa: BLE001 - a broken set-up fails the whole run
			failed += 1
			h.log("FAIL - setup: %s" % (e if isinstance(e, h.HarnessError)
			                            else traceback.format_exc(limit=4)))
			return 1
		names = SCENARIOS
		if args.k:
			names = [s for s in names if any(k in s.__name__ for k in args.k)]
		for s in names:
			name = s.__name__[2:]
			t0 = time.monotonic()
			ctx.soft = []
			try:
				s(ctx)
				check(not ctx.soft, "\n  ".join(ctx.soft))
				passed += 1
				h.log("ok   - %s (%.1fs)" % (name, time.monotonic() - t0))
			except h.HarnessError as e:
				failed += 1
				h.log("FAIL - %s: harness: %s" % (name, e))
			except Exception as e:  # noqa: BLE001 - every scenario reports, the run goes on
				failed += 1
				msg = str(e) if isinstance(e, Failure) else traceback.format_exc(limit=3)
				if ctx.soft and not msg.startswith(ctx.soft[0]):
					msg += "\n  also: " + "\n  also: ".join(ctx.soft)
				h.log("FAIL - %s: %s" % (name, msg))
				if ctx.fedgw is not None and ctx.fedgw.proc is not None:
					h.log("  fedgw log tail:\n    " + ctx.fedgw.tail(12).replace("\n", "\n    "))
	finally:
		if ctx.fedgw is not None:
			ctx.fedgw.stop()
		san = sanitizer_report(ctx)
		if san:
			failed += 1
			h.log("FAIL - sanitizer: " + san)
		for n in ctx.notes:
			h.log("note: " + n)
		ctx.cleanup()
		h.log("interop_sip: %d passed, %d failed" % (passed, failed))
	return 0 if failed == 0 else 1
