#!/usr/bin/python3
"""sipgw_loopback: the real fedgw with SIP domains whose next hops are small SIP edges written
here (mutual TLS with certificates from a CA made with openssl), inside a network namespace
with its own dnsmasq. Checks: the OPTIONS keepalive reaches the edge; a MESSAGE from the edge
to an XMPP domain that does not exist gets 404 (remote-server-not-found), never a false 202;
the RFC 4475 torture messages on the TCP listener are answered (invalid ones 400) and the
process stays up; a next hop whose certificate names another host raises sip.cert.<domain>.
Root only (exit 77 otherwise). Never uses the machine's resolver."""
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

FEDGW, SEED, PROBE, XPROBE = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sip")
GW_IP, EDGE_IP, EDGE2_IP, DNS_IP = "127.0.0.10", "127.0.0.20", "127.0.0.21", "127.0.0.53"
# an edge of an SRV set (RFC 3263 §4.4), and an address where nothing listens
EDGE3_IP, DEAD_IP = "127.0.0.22", "127.0.0.23"
# a target that accepts TCP and never speaks: its TLS handshake times out
SILENT_IP = "127.0.0.24"


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


if os.geteuid() != 0:
    skip("needs root to create a network namespace")
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
if not os.path.exists(DNSMASQ):
    skip("dnsmasq is not installed (apt-get install dnsmasq)")

INNER = len(sys.argv) > 5 and sys.argv[5] == "--inner"
if INNER:
    NS, TMP = sys.argv[6], sys.argv[7]
else:
    NS = "fgw-sipgw-%d-%d" % (os.getpid(), random.randint(0, 65535))
    TMP = tempfile.mkdtemp(prefix="sipgw-")
PROCS = []
FAILS = []


def cleanup():
    stop_procs()
    subprocess.call(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL)
    shutil.rmtree("/etc/netns/" + NS, ignore_errors=True)
    shutil.rmtree(TMP, ignore_errors=True)


def stop_procs():
    for p in PROCS:
        if p.poll() is None:
            p.terminate()
    for p in PROCS:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


# ---- certificates -------------------------------------------------------------------------

def make_certs():
    p = lambda n: os.path.join(TMP, n)
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("ca.key"))
    run("openssl", "req", "-x509", "-new", "-key", p("ca.key"), "-subj", "/CN=SIP Test CA",
        "-days", "30", "-out", p("ca.crt"), "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, dns in (("gw", "gw.sip.test"), ("edge", "edge.sip.test"),
                      ("wrong", "wrong.sip.test"), ("pool", "pool.sip.test")):
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
            p(name + ".key"))
        run("openssl", "req", "-new", "-key", p(name + ".key"), "-subj", "/CN=" + dns,
            "-out", p(name + ".csr"))
        ext = p(name + ".ext")
        # the pool edge serves two SRV sets (pool.sip.test and slow.sip.test)
        sans = "DNS:" + dns + (",DNS:slow.sip.test" if name == "pool" else "")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" % sans)
        run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.crt"), "-CAkey",
            p("ca.key"), "-CAcreateserial", "-days", "30", "-out", p(name + ".crt"),
            "-extfile", ext)
        # BearSSL and the store take PKCS#8
        run("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", p(name + ".key"), "-out",
            p(name + ".p8"))


# ---- a small SIP edge ---------------------------------------------------------------------

def read_msg(sock, buf, timeout, on_ping=None):
    """Reads one SIP message (head + Content-Length body); returns (msg or None, rest).
    A CRLFCRLF ping is answered with the CRLF pong (RFC 5626), or handed to on_ping."""
    end = time.time() + timeout
    while True:
        while buf.startswith(b"\r\n"):
            if buf.startswith(b"\r\n\r\n"):
                buf = buf[4:]
                if on_ping is None:
                    sock.sendall(b"\r\n")
                else:
                    on_ping(sock)
                continue
            buf = buf[2:]
        i = buf.find(b"\r\n\r\n")
        if i >= 0:
            head = buf[:i].decode("utf-8", "replace")
            cl = 0
            for line in head.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() in ("content-length", "l"):
                    cl = int(v.strip())
            if len(buf) >= i + 4 + cl:
                return buf[:i + 4 + cl], buf[i + 4 + cl:]
        left = end - time.time()
        if left <= 0:
            return None, buf
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return None, buf
        try:
            data = sock.recv(65536)
        except (ssl.SSLError, OSError):
            return None, buf
        if not data:
            return None, buf
        buf += data


def header(msg, name):
    for line in msg.decode("utf-8", "replace").split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def answer(req, code, reason):
    lines = req.decode("utf-8", "replace").split("\r\n\r\n")[0].split("\r\n")[1:]
    out = ["SIP/2.0 %d %s" % (code, reason)]
    for line in lines:
        k = line.partition(":")[0].strip().lower()
        if k in ("via", "v", "from", "f", "call-id", "i", "cseq"):
            out.append(line)
        elif k in ("to", "t"):
            out.append(line + (";tag=edge1" if ";tag=" not in line else ""))
    out.append("Content-Length: 0")
    return ("\r\n".join(out) + "\r\n\r\n").encode()


PIDF = (b"<?xml version='1.0' encoding='UTF-8'?><presence xmlns='urn:ietf:params:xml:ns:pidf' "
        b"xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' "
        b"xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='sip:romeo@sip.test'>"
        b"<tuple id='t1'><status><basic>open</basic></status></tuple>"
        b"<dm:person id='p1'><rpid:activities><rpid:away/></rpid:activities>"
        b"<dm:note>in a meeting</dm:note></dm:person></presence>")
NOTIFY_SEQ = [0]


def edge_notify(sub, expires, pending=False, state=None, bodyless=False):
    """The edge's NOTIFY in the dialog its 200 to SUBSCRIBE made (RFC 6665 §4.2.2)."""
    NOTIFY_SEQ[0] += 1
    frm, to = header(sub, "From"), header(sub, "To")
    active = expires != "0"
    body = PIDF if active and not bodyless else b""
    if pending:
        body = PIDF.replace(b"in a meeting", b"still pending")
    lines = ["NOTIFY %s SIP/2.0" % (header(sub, "Contact") or "<sip:gw.sip.test>").strip("<>"),
             "Via: SIP/2.0/TLS edge.sip.test:5061;branch=z9hG4bKn%d" % NOTIFY_SEQ[0],
             "Max-Forwards: 70", "From: %s;tag=edge1" % to, "To: %s" % frm,
             "Call-ID: %s" % header(sub, "Call-ID"), "CSeq: %d NOTIFY" % NOTIFY_SEQ[0],
             "Contact: <sip:romeo@edge.sip.test;transport=tls>", "Event: presence",
             "Subscription-State: " + (state or ("%s;expires=%s" % (
                 "pending" if pending else "active", expires) if active
                 else "terminated;reason=timeout"))]
    if body:
        lines.append("Content-Type: application/pidf+xml")
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Edge(threading.Thread):
    """A TLS SIP edge: requires a client certificate, answers OPTIONS 200 and counts them."""

    def __init__(self, ip, cert, key):
        super().__init__(daemon=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.load_verify_locations(os.path.join(TMP, "ca.crt"))
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((ip, 5061))
        self.srv.listen(8)
        self.options = 0
        self.peer_cn = None
        self.handshakes = 0
        self.notifies = []
        self.requests = []
        self.sni = []  # RFC 6066 §3 names the clients asked for
        self.grant = None  # Expires granted to a SUBSCRIBE (None: as asked)
        self.sub_times = []  # (time, SUBSCRIBE) as they arrived
        self.fetch = False  # send a fetch SUBSCRIBE after the next OPTIONS
        self.pending_first = False  # a NOTIFY pending with a PIDF before the first active
        self.bodyless_refresh = False  # romeo's refresh NOTIFY is active without a body
        self.fetch_cached = False  # a fetch of bob once his presence reached the edge
        self.composer = False  # isComposing from alice once the XMPP message arrives
        self.notify_fail = {}  # Call-ID -> the status its NOTIFYs get (RFC 6665 §4.2.2)
        self.responses = []  # responses to the edge's own requests (its NOTIFYs)
        self.overlap = None  # a second MESSAGE came before the first was answered
        # the gateway's CRLF pings (RFC 5626 §4.4.1) as (connection, answer, time); answered
        # with "none" (ignored, as RFC 3261 §7.5 allows), "pong", "request" (an OPTIONS), or
        # "silent" (ignored, and OPTIONS are not answered either)
        self.pings = []
        self.ping_answer = "none"
        self.closes = []  # connections the gateway closed
        self.ctx.sni_callback = lambda sock, name, ctx: self.sni.append(name)

    def run(self):
        while True:
            try:
                s, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(s,), daemon=True).start()

    def serve(self, raw):
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.handshakes += 1
        conn = self.handshakes
        cert = s.getpeercert()
        self.peer_cn = dict(x[0] for x in cert.get("subject", ())).get("commonName")

        def ping(sock):
            answer = self.ping_answer
            self.pings.append((conn, answer, time.time()))
            if answer == "pong":
                sock.sendall(b"\r\n")
            elif answer == "request":
                n = len(self.pings)
                sock.sendall(sip_req("OPTIONS", "sip:gw.sip.test", "ka%d@edge" % n,
                                     "z9hG4bKka%d" % n, 1, None))
        buf = b""
        while True:
            msg, buf = read_msg(s, buf, 120, ping)
            if msg is None:
                self.closes.append(conn)
                return
            if msg.startswith(b"OPTIONS "):
                self.options += 1
                if self.ping_answer != "silent":
                    s.sendall(answer(msg, 200, "OK"))
                if self.fetch:
                    # RFC 6665 §4.4.3 fetch of an XMPP user's presence
                    self.fetch = False
                    s.sendall(sip_req("SUBSCRIBE", "sip:carol@nowhere.test", "fetch1@edge",
                                      "z9hG4bKfx1", 1, None,
                                      "Event: presence\r\nExpires: 0\r\n"))
            elif msg.startswith(b"SIP/2.0"):
                self.responses.append(msg)
            else:
                self.requests.append(msg)
                if msg.startswith(b"NOTIFY "):
                    self.notifies.append(msg)
                fail = self.notify_fail.get(header(msg, "Call-ID")) \
                    if msg.startswith(b"NOTIFY ") else None
                if fail:
                    s.sendall(answer(msg, fail, "Failed"))
                    continue
                if msg.startswith(b"NOTIFY ") and b"busy now" in msg and self.fetch_cached:
                    # RFC 6665 §4.4.3: alice's fetch of bob, whose presence her active
                    # subscription just brought: answered at once from what is known
                    self.fetch_cached = False
                    s.sendall(answer(msg, 200, "OK"))
                    s.sendall(sip_req("SUBSCRIBE", "sip:bob@nowhere.test", "fetch2@edge",
                                      "z9hG4bKfx2", 1, None,
                                      "Event: presence\r\nExpires: 0\r\n"))
                    continue
                if msg.startswith(b"MESSAGE sip:romeo@") and b"hi from XMPP" in msg and \
                        self.composer:
                    # RFC 3994 §3.3: alice types to juliet with a 1 s refresh and then
                    # says nothing more; to tybalt she types and sends the text
                    self.composer = False
                    s.sendall(answer(msg, 200, "OK"))
                    isc = (b"<?xml version='1.0' encoding='UTF-8'?><isComposing "
                           b"xmlns='urn:ietf:params:xml:ns:im-iscomposing'><state>active"
                           b"</state><refresh>1</refresh></isComposing>")
                    for n, (to, cid) in enumerate((("juliet", "isc1@edge"),
                                                   ("tybalt", "isc2@edge"))):
                        s.sendall(sip_req("MESSAGE", "sip:%s@capulet.test" % to, cid,
                                          "z9hG4bKic%d" % n, 1, None,
                                          ctype="application/im-iscomposing+xml", body=isc))
                    s.sendall(sip_req("MESSAGE", "sip:tybalt@capulet.test", "isc2@edge",
                                      "z9hG4bKic9", 2, None, ctype="text/plain",
                                      body=b"text after typing"))
                    continue
                if msg.startswith(b"MESSAGE sip:nobody@"):
                    s.sendall(answer(msg, 404, "Not Found"))
                elif msg.startswith(b"SUBSCRIBE sip:busy@"):
                    s.sendall(answer(msg, 503, "Service Unavailable"))  # transient
                elif msg.startswith(b"SUBSCRIBE sip:denied@"):
                    s.sendall(answer(msg, 403, "Forbidden"))  # RFC 8048 §5.2.2: permanent
                elif (msg.startswith(b"MESSAGE sip:noisc@") and
                      b"application/im-iscomposing+xml" in msg):
                    s.sendall(answer(msg, 415, "Unsupported Media Type")[:-2].replace(
                        b"Content-Length: 0\r\n",
                        b"Accept: text/plain\r\nContent-Length: 0\r\n") + b"\r\n")
                elif msg.startswith(b"MESSAGE ") and msg.endswith(b"slow-first"):
                    # RFC 3428 §8: while this one is unanswered, the gateway must not
                    # start another MESSAGE to the same URI; see what arrives meanwhile
                    time.sleep(1.0)
                    while select.select([s], [], [], 0.3)[0] or s.pending():
                        try:
                            data = s.recv(65536)
                        except (ssl.SSLError, OSError):
                            break
                        if not data:
                            break
                        buf += data
                    self.overlap = b"queued-second" in buf
                    s.sendall(answer(msg, 200, "OK"))
                elif msg.startswith(b"MESSAGE ") and msg.endswith(b"queued-second"):
                    s.sendall(answer(msg, 200, "OK"))
                    # a reply in the same conversation: its Call-ID maps back to the thread
                    s.sendall(sip_req("MESSAGE", "sip:juliet@capulet.test",
                                      header(msg, "Call-ID"), "z9hG4bKtr1", 1, None,
                                      ctype="text/plain", body=b"reply in thread"))
                    # RFC 7572 §7: text/html, alone and inside message/cpim, as XHTML-IM
                    s.sendall(sip_req("MESSAGE", "sip:juliet@capulet.test", "html1@edge",
                                      "z9hG4bKth1", 1, None, ctype="text/html;charset=UTF-8",
                                      body=HTML_BODY))
                    s.sendall(sip_req("MESSAGE", "sip:juliet@capulet.test", "html2@edge",
                                      "z9hG4bKth2", 1, None, ctype="message/cpim",
                                      body=b"From: <sip:alice@sip.test>\r\n\r\n"
                                      b"Content-Type: text/html\r\n\r\n<i>cpim</i> html"))
                elif msg.startswith(b"SUBSCRIBE "):
                    self.sub_times.append((time.time(), msg))
                    exp = header(msg, "Expires") or "600"
                    if self.grant and exp != "0":
                        exp = self.grant  # the notifier may shorten (RFC 6665 §4.2.1.1)
                    s.sendall(answer(msg, 200, "OK")[:-2] .replace(
                        b"Content-Length: 0\r\n", b"Expires: " + exp.encode() +
                        b"\r\nContact: <sip:romeo@edge.sip.test;transport=tls>\r\n"
                        b"Content-Length: 0\r\n") + b"\r\n")
                    if self.pending_first and exp != "0":
                        # RFC 8048 §5.2.1: answered, but no presence to the XMPP user
                        self.pending_first = False
                        s.sendall(edge_notify(msg, exp, pending=True))
                    ends = {b"SUBSCRIBE sip:prob@": "terminated;reason=probation;retry-after=30",
                            b"SUBSCRIBE sip:moved@": "terminated;reason=deactivated"}
                    end = [v for k, v in ends.items() if msg.startswith(k)]
                    # RFC 8048 §5.2.1: a NOTIFY without a body is no state ("closed")
                    bodyless = (self.bodyless_refresh and exp != "0" and
                                msg.startswith(b"SUBSCRIBE sip:romeo@") and
                                ";tag=" in (header(msg, "To") or ""))
                    s.sendall(edge_notify(msg, exp, state=end[0] if end else None,
                                          bodyless=bodyless))
                else:
                    s.sendall(answer(msg, 200, "OK"))


# ---- the test -----------------------------------------------------------------------------

HTML_BODY = (b"<html><head><style>p{}</style></head><body><p onclick='x()'>Hello <b>there</b> "
             b"&amp; <a href='https://example.com/'>site</a><script>alert(1)</script>"
             b"<a href='javascript:alert(2)'>!</a></body></html>")

def wait_for(pred, timeout, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def status_json(data):
    r = subprocess.run([FEDGW, "--data-dir", data, "status", "--json"], capture_output=True)
    try:
        return json.loads(r.stdout.decode())
    except ValueError:
        return {}


def fault_active(data, fid):
    st = status_json(data)
    for f in (st.get("faults") or {}).get("active", []):
        if f.get("id") == fid:
            return f
    return None


def object_state(data, oid):
    for o in status_json(data).get("objects") or []:
        if o.get("id") == oid:
            return o
    return None


def listening(ip, port):
    try:
        socket.create_connection((ip, port), timeout=1).close()
        return True
    except OSError:
        return False


def subs(data):
    r = subprocess.run([SEED, data, "--subs"], capture_output=True)
    return [l for l in r.stdout.decode().splitlines() if l.strip()]


def sip_req(method, ruri, call_id, branch, cseq, to_tag, extra="", ctype=None, body=b""):
    head = ("%s %s SIP/2.0\r\nVia: SIP/2.0/TLS edge.sip.test:5061;branch=%s\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: <%s>%s\r\n"
            "Call-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:alice@edge.sip.test;transport=tls>\r\n"
            % (method, ruri, branch, ruri, ";tag=" + to_tag if to_tag else "", call_id, cseq,
               method))
    head += extra
    if ctype:
        head += "Content-Type: %s\r\n" % ctype
    head += "Content-Length: %d\r\n\r\n" % len(body)
    return head.encode() + body


def subscribe_req(call_id, branch, cseq, to_tag, expires=600, event="presence"):
    return sip_req("SUBSCRIBE", "sip:bob@nowhere.test", call_id, branch, cseq, to_tag,
                   "Event: %s\r\nAccept: application/pidf+xml\r\nExpires: %d\r\n"
                   % (event, expires))


def to_tag_of(rsp):
    to = header(rsp, "To") or header(rsp, "t") or ""
    return to.split(";tag=", 1)[1].split(";")[0] if ";tag=" in to else None


def im_session(tls):
    sdp = (b"v=0\r\no=- 1 1 IN IP4 edge.sip.test\r\ns=-\r\nc=IN IP4 127.0.0.20\r\n"
           b"t=0 0\r\nm=message 5061 sip null\r\na=accept-types:text/plain\r\n")
    rsp = sip_exchange(tls, sip_req("INVITE", "sip:bob@nowhere.test", "im1@edge", "z9hG4bKi1",
                                    1, None, ctype="application/sdp", body=sdp), 5)
    ok = rsp is not None and rsp.startswith(b"SIP/2.0 200") and b"m=message" in rsp
    check(ok, "INVITE with an m=message offer: 200 with an SDP answer")
    check(ok and b"\r\nt=0 0\r\n" in rsp and "presence" in (header(rsp, "Allow-Events") or ""),
          "the 200 keeps the offer's t= line (RFC 3264 §6) and has Allow-Events: presence "
          "(RFC 6665 §4.4.4)")
    tag = to_tag_of(rsp) if rsp else None
    tls.sendall(sip_req("ACK", "sip:bob@nowhere.test", "im1@edge", "z9hG4bKi2", 1, tag))
    body = b"in the session"
    rsp = sip_exchange(tls, sip_req("MESSAGE", "sip:bob@nowhere.test", "im1@edge", "z9hG4bKi3",
                                    2, tag, ctype="text/plain", body=body), 15)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 404"),
          "MESSAGE inside the session to an unknown domain: 404 (%s)"
          % (rsp.split(b"\r\n")[0] if rsp else None))
    # the session's dialog is not ended from plain TCP: sip.test is a TLS domain
    s = socket.create_connection((GW_IP, 5060), timeout=5)
    rsp = sip_exchange(s, sip_req("BYE", "sip:bob@nowhere.test", "im1@edge", "z9hG4bKi4t", 3,
                                  tag).replace(b"SIP/2.0/TLS", b"SIP/2.0/TCP"), 5)
    s.close()
    check(rsp is not None and rsp.startswith(b"SIP/2.0 403"),
          "BYE for the session over plain TCP: 403 (%s)"
          % (rsp.split(b"\r\n")[0] if rsp else None))
    rsp = sip_exchange(tls, sip_req("BYE", "sip:bob@nowhere.test", "im1@edge", "z9hG4bKi4", 3,
                                    tag), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200"), "BYE ends the session: 200")
    rsp = sip_exchange(tls, sip_req("BYE", "sip:bob@nowhere.test", "im1@edge", "z9hG4bKi5", 4,
                                    tag), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 481"), "BYE again: 481")
    audio = sdp.replace(b"m=message 5061 sip null", b"m=audio 4000 RTP/AVP 0")
    rsp = sip_exchange(tls, sip_req("INVITE", "sip:bob@nowhere.test", "im2@edge", "z9hG4bKi6",
                                    1, None, ctype="application/sdp", body=audio), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 488") and
          (header(rsp, "Warning") or "").startswith("304 "),
          "INVITE for audio: 488 with Warning 304 (RFC 3261 §13.3.1.3)")
    # RFC 3264 §6: an MSRP-only offer (RFC 4975, RFC 7573) cannot be answered: 488, 302
    msrp = sdp.replace(b"m=message 5061 sip null",
                       b"m=message 7394 TCP/MSRP *\r\na=path:msrp://edge.sip.test:7394/x;tcp")
    rsp = sip_exchange(tls, sip_req("INVITE", "sip:bob@nowhere.test", "im3@edge", "z9hG4bKi7",
                                    1, None, ctype="application/sdp", body=msrp), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 488") and
          (header(rsp, "Warning") or "").startswith("302 "),
          "INVITE with an MSRP-only offer: 488 with Warning 302 (%s)"
          % (header(rsp, "Warning") if rsp else None))
    # audio + message: the answer has both m= lines, audio rejected with port 0
    both = sdp.replace(b"m=message 5061 sip null",
                       b"m=audio 4000 RTP/AVP 0 8\r\nm=message 5061 sip null")
    rsp = sip_exchange(tls, sip_req("INVITE", "sip:bob@nowhere.test", "im4@edge", "z9hG4bKi8",
                                    1, None, ctype="application/sdp", body=both), 5)
    body = rsp.split(b"\r\n\r\n", 1)[1] if rsp else b""
    mlines = [l for l in body.split(b"\r\n") if l.startswith(b"m=")]
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200") and len(mlines) == 2 and
          mlines[0] == b"m=audio 0 RTP/AVP 0 8" and mlines[1].startswith(b"m=message "),
          "INVITE audio + message: 200 answering both m= lines, audio at port 0 (%s)" % mlines)
    tag = to_tag_of(rsp) if rsp else None
    tls.sendall(sip_req("ACK", "sip:bob@nowhere.test", "im4@edge", "z9hG4bKi9", 1, tag))
    rsp = sip_exchange(tls, sip_req("BYE", "sip:bob@nowhere.test", "im4@edge", "z9hG4bKia", 2,
                                    tag), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200"), "BYE of the audio+message session")
    # RFC 3428 §7: 415 with an Accept that lists every type taken, isComposing included
    # (RFC 3994); a media type is matched whole, never by prefix
    for n, ctype in enumerate(("text/enriched", "application/im-iscomposing+xmlfoo")):
        rsp = sip_exchange(tls, sip_req("MESSAGE", "sip:bob@nowhere.test", "ct%d@edge" % n,
                                        "z9hG4bKc%d" % n, 1, None, ctype=ctype, body=b"<b/>"), 5)
        accept = (header(rsp, "Accept") or "") if rsp else ""
        check(rsp is not None and rsp.startswith(b"SIP/2.0 415") and
              "application/im-iscomposing+xml" in accept and "text/plain" in accept and
              "text/html" in accept,
              "MESSAGE %s: 415 with Accept listing isComposing (%s)" % (ctype, accept))


def subscribe_from_sip(tls, data, edge):
    rsp = sip_exchange(tls, subscribe_req("s1@edge", "z9hG4bKs1", 1, None, event="dialog"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 489"), "SUBSCRIBE for another event: 489")
    rsp = sip_exchange(tls, subscribe_req("s2@edge", "z9hG4bKs2", 1, None), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200") and header(rsp, "Expires") == "600",
          "SUBSCRIBE Event: presence: 200 (RFC 6665 §8.3.1: never 202) with Expires")
    s2_tag = to_tag_of(rsp) if rsp else None
    check(wait_for(lambda: any(b"Subscription-State: pending" in n for n in edge.notifies), 5),
          "the edge got NOTIFY pending at once")
    n = edge.notifies[-1] if edge.notifies else b""
    check(b"Event: presence" in n and b"s2@edge" in n, "the NOTIFY is in the subscription's dialog")
    check(len(subs(data)) == 1 and subs(data)[0].startswith("sip-watcher 0 sip:alice@sip.test "
                                                            "bob@nowhere.test"),
          "the subscription is in the store (%s)" % subs(data))
    # a fetch (Expires 0 outside a dialog): 200, a NOTIFY terminated, nothing stored
    count = len(edge.notifies)
    rsp = sip_exchange(tls, sip_req("SUBSCRIBE", "sip:carol@nowhere.test", "f1@edge", "z9hG4bKf1",
                                    1, None, "Event: presence\r\nExpires: 0\r\n"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200"), "fetch SUBSCRIBE: 200")
    check(wait_for(lambda: any(b"f1@edge" in n and b"terminated" in n
                               for n in edge.notifies[count:]), 5),
          "fetch SUBSCRIBE: NOTIFY terminated in its dialog")
    check(len(subs(data)) == 1, "a fetch stores no subscription")
    # a fetch of the same pair is its own dialog: the subscription stays (RFC 6665 §4.4.3)
    count = len(edge.notifies)
    rsp = sip_exchange(tls, sip_req("SUBSCRIBE", "sip:bob@nowhere.test", "f2@edge", "z9hG4bKf2",
                                    1, None, "Event: presence\r\nExpires: 0\r\n"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200"), "fetch of a subscribed pair: 200")
    check(wait_for(lambda: any(b"f2@edge" in n and b"terminated" in n
                               for n in edge.notifies[count:]), 5),
          "fetch of a subscribed pair: NOTIFY terminated in the fetch's dialog")
    check(not any(b"s2@edge" in n and b"terminated" in n for n in edge.notifies[count:]),
          "the fetch did not end the subscription's dialog")
    rsp = sip_exchange(tls, subscribe_req("s2@edge", "z9hG4bKs3", 2, s2_tag), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200"),
          "a refresh after a fetch of the same pair: 200, not 481 (%s)"
          % (rsp.split(b"\r\n")[0] if rsp else None))
    check(len(subs(data)) == 1, "the subscription is still stored after the fetch")
    # no Expires: the presence default, 3600 s at most (RFC 3856 §6.4, RFC 6665 §3.1.1)
    rsp = sip_exchange(tls, sip_req("SUBSCRIBE", "sip:dave@nowhere.test", "s5@edge", "z9hG4bKs5",
                                    1, None, "Event: presence\r\n"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200") and
          header(rsp, "Expires") == "3600", "SUBSCRIBE without Expires: 200 with Expires 3600 "
          "(%s)" % (header(rsp, "Expires") if rsp else None))
    # RFC 8048 §5.3.3: Expires 0 in the dialog ends it with a PIDF closed, the record goes
    tag5 = to_tag_of(rsp) if rsp else None
    count = len(edge.notifies)
    rsp = sip_exchange(tls, sip_req("SUBSCRIBE", "sip:dave@nowhere.test", "s5@edge", "z9hG4bKs6",
                                    2, tag5, "Event: presence\r\nExpires: 0\r\n"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200"), "in-dialog Expires 0: 200")
    check(wait_for(lambda: any(b"s5@edge" in n and b"terminated;reason=timeout" in n and
                               b"<basic>closed</basic>" in n for n in edge.notifies[count:]), 5),
          "in-dialog Expires 0: NOTIFY terminated;reason=timeout with PIDF closed")
    check(wait_for(lambda: len(subs(data)) == 1, 3), "in-dialog Expires 0: the record goes")
    # RFC 6665 §4.2.2: a NOTIFY that times out (408, Timer F) removes the subscription
    edge.notify_fail["s7@edge"] = 408
    rsp = sip_exchange(tls, sip_req("SUBSCRIBE", "sip:erin@nowhere.test", "s7@edge",
                                    "z9hG4bKs7", 1, None,
                                    "Event: presence\r\nExpires: 600\r\n"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200"), "SUBSCRIBE to erin: 200")
    check(wait_for(lambda: any(b"s7@edge" in n for n in edge.notifies), 5) and
          wait_for(lambda: len(subs(data)) == 1, 5),
          "its NOTIFY answered 408 ends the subscription (RFC 6665 §4.2.2): %s" % subs(data))
    # RFC 6665 §4.1.3: a NOTIFY needs Subscription-State (400); another package gets 489
    rsp = sip_exchange(tls, sip_req("NOTIFY", "sip:alice@sip.test", "n1@edge", "z9hG4bKn1", 1,
                                    "x1", "Event: presence\r\n"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 400"),
          "NOTIFY without Subscription-State: 400 (%s)" % (rsp.split(b"\r\n")[0] if rsp else None))
    rsp = sip_exchange(tls, sip_req("NOTIFY", "sip:alice@sip.test", "n2@edge", "z9hG4bKn2", 1,
                                    "x1", "Event: dialog\r\nSubscription-State: active\r\n"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 489") and
          header(rsp, "Allow-Events") == "presence", "NOTIFY for another package: 489 with "
          "Allow-Events (%s)" % (rsp.split(b"\r\n")[0] if rsp else None))
    rsp = sip_exchange(tls, sip_req("NOTIFY", "sip:alice@sip.test", "n3@edge", "z9hG4bKn3", 1,
                                    "x1", "Event: presence\r\nSubscription-State: active\r\n"),
                       5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 481"),
          "NOTIFY outside any subscription: 481")


def overload(tls):
    body = b"slow"
    m1 = sip_req("MESSAGE", "sip:bob@slow.test", "ov1@edge", "z9hG4bKv1", 1, None,
                 ctype="text/plain", body=body)
    m2 = sip_req("MESSAGE", "sip:bob@slow.test", "ov2@edge", "z9hG4bKv2", 1, None,
                 ctype="text/plain", body=body)
    tls.sendall(m1)
    time.sleep(0.3)
    rsp = sip_exchange(tls, m2, 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 503") and header(rsp, "Retry-After"),
          "past sip.max_pending: 503 with Retry-After")
    rsp, _ = read_msg(tls, b"", 40)
    code = rsp.split(b"\r\n")[0].decode() if rsp else None
    check(rsp is not None and header(rsp, "Call-ID") == "ov1@edge" and
          rsp.startswith(b"SIP/2.0 408"), "a router timeout: 408, never 202 (%s)" % code)


def domain_status(data, domain):
    """(state, extra JSON) of the status object sip:<domain>, read from the store."""
    r = subprocess.run([SEED, data, "--status", "sip:" + domain], capture_output=True)
    state, _, extra = r.stdout.decode(errors="replace").strip().partition("\t")
    try:
        return state, json.loads(extra) if extra else {}
    except ValueError:
        return state, {"unparsable": extra}


def failover(data, edge3):
    """RFC 3263 §4.4: the SRV targets are tried in order until one works."""
    check(wait_for(lambda: domain_status(data, "pool.sip.test")[0] == "up", 20, 0.3),
          "pool.sip.test is up through its third SRV target (%s)"
          % (domain_status(data, "pool.sip.test"),))
    state, extra = domain_status(data, "pool.sip.test")
    check(extra.get("target") == "edge3.sip.test:5061",
          "the status names the target in use (%s)" % extra.get("target"))
    failed = extra.get("targets_failed", "")
    check("dead.sip.test:5061" in failed and "edge2.sip.test:5061" in failed and
          "wrong.sip.test" in failed, "the status lists the targets that failed (%s)" % failed)
    check(edge3.sni == ["pool.sip.test"] * len(edge3.sni) and edge3.sni,
          "SNI toward an SRV target is the next hop's name (%s)" % edge3.sni)
    f = fault_active(data, "sip.cert.pool.sip.test")
    check(f is not None and "wrong.sip.test" in f.get("cause", "") and
          "edge3.sip.test:5061" in f.get("cause", "") and f.get("severity") == "warning",
          "the wrong-name target stays reported as a warning (%s)" % f)
    check(fault_active(data, "sip.connect.pool.sip.test") is None,
          "no connect fault while a target works")
    check(wait_for(lambda: fault_active(data, "sip.cert.allbad.sip.test") is not None, 15, 0.3),
          "every target of allbad.sip.test failed: a fault")
    f = fault_active(data, "sip.cert.allbad.sip.test") or {}
    text = f.get("cause", "") + " " + f.get("detail", "")
    check("dead.sip.test:5061" in text and "edge2.sip.test:5061" in text and
          "refused" in text and "wrong.sip.test" in text,
          "the fault names each target tried and why (%s)" % text)


def sip_exchange(sock, payload, timeout=3.0):
    sock.sendall(payload)
    msg, _ = read_msg(sock, b"", timeout)
    return msg


def gw_log():
    with open(os.path.join(TMP, "fedgw.log"), "rb") as f:
        return f.read()


def speaks_for(data, tls, msg):
    """RFC 5922 §7.3: over TLS, the client's certificate must name the sender domain's next
    hop. Plain TCP carries no name to check: it speaks for the domains set to TCP only, from
    their next hop's addresses and their trusted addresses."""
    rsp = sip_exchange(tls, msg.replace(b"alice@sip.test", b"alice@bad.sip.test")
                       .replace(b"m1@edge", b"b1@edge").replace(b"bKm1", b"bKb1"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 403"),
          "MESSAGE for bad.sip.test from a client whose certificate names another next hop: "
          "403 (%s)" % (rsp.split(b"\r\n")[0] if rsp else None))
    text = gw_log()
    check(b"requests for SIP domain bad.sip.test from 127.0.0.1" in text and
          b"certificate names DNS:edge.sip.test" in text and
          b"not the next hop edge2.sip.test" in text,
          "the log says whose name the certificate lacks")
    over_tcp = msg.replace(b"SIP/2.0/TLS", b"SIP/2.0/TCP")
    s = socket.create_connection((GW_IP, 5060), timeout=5)
    rsp = sip_exchange(s, over_tcp.replace(b"m1@edge", b"t1@edge").replace(b"bKm1", b"bKt1"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 403"),
          "MESSAGE for a TLS domain over plain TCP answered 403 (%s)"
          % (rsp.split(b"\r\n")[0] if rsp else None))
    rsp = sip_exchange(s, over_tcp.replace(b"m1@edge", b"t2@edge").replace(b"bKm1", b"bKt2"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 403"), "... and again: 403")
    said = gw_log().count(b"requests for SIP domain sip.test from 127.0.0.1")
    check(said == 1, "the log says once for the connection why they were refused (%d)" % said)
    # A domain set to TCP takes requests over plain TCP from its next hop's addresses
    # (dead.sip.test: DEAD_IP, where nothing listens) and from its trusted addresses.
    subprocess.run([SEED, data], input=b"domain tcp.sip.test dead.sip.test 5060 tcp - - -\n",
                   check=True)
    from_tcp = over_tcp.replace(b"alice@sip.test", b"alice@tcp.sip.test")

    def answer(sock):
        n = time.monotonic_ns()
        rsp = sip_exchange(sock, from_tcp.replace(b"m1@edge", b"t%d@edge" % n)
                           .replace(b"bKm1", b"bKt%d" % n), 15)
        return rsp.split(b"\r\n")[0] if rsp else None
    # 404: routed, and the XMPP domain is unknown; 403: refused
    routed = b"SIP/2.0 404 Not Found"
    # (403 also before the domain is loaded: the log says when it is refused for the address)
    check(wait_for(lambda: answer(s) == b"SIP/2.0 403 Forbidden" and
                   b"requests for SIP domain tcp.sip.test from 127.0.0.1" in gw_log(), 10, 0.5),
          "MESSAGE for a TCP domain from an address it does not trust: 403")
    text = gw_log()
    check(b"127.0.0.1 is neither an address of the next hop dead.sip.test nor among the "
          b"domain's trusted addresses" in text and
          b'fedgw sip domain edit tcp.sip.test --trusted "127.0.0.1"' in text,
          "the log says which address was refused and the command that trusts it")
    check(wait_for(lambda: domain_status(data, "tcp.sip.test")[1].get("refused", 0) >= 1 and
                   "127.0.0.1 is neither" in domain_status(data, "tcp.sip.test")[1]
                   .get("last_refused", ""), 10, 0.3),
          "the domain's status counts the refusal and says why (%s)"
          % (domain_status(data, "tcp.sip.test")[1],))
    hop = socket.create_connection((GW_IP, 5060), timeout=5, source_address=(DEAD_IP, 0))
    check(wait_for(lambda: answer(hop) == routed, 10, 0.5),
          "MESSAGE for a TCP domain from its next hop's address (found by DNS): routed")
    hop.close()
    subprocess.run([SEED, data], input=b"domain tcp.sip.test dead.sip.test 5060 tcp - - - "
                   b"192.0.2.0/24,127.0.0.0/30\n", check=True)
    check(wait_for(lambda: answer(s) == routed, 10, 0.5),
          "MESSAGE for a TCP domain from one of its trusted addresses: routed")
    subprocess.run([SEED, data], input=b"deldomain tcp.sip.test\n", check=True)
    s.close()


def set_keepalive(data, secs):
    r = subprocess.run([FEDGW, "--data-dir", data, "sip", "set", "keepalive_s=%d" % secs],
                       capture_output=True)
    check(r.returncode == 0,
          "sip set keepalive_s=%d (%s)" % (secs, r.stderr.decode(errors="replace")))


def keepalive(data, edge):
    """RFC 5626 §4.4.1 CRLF pings on the gateway's connections to the edge, every
    sip.keepalive_s, and what a missing pong means."""
    set_keepalive(data, 2)

    def pings(conn=None, answer=None, since=0):
        return [p for p in edge.pings if (conn is None or p[0] == conn) and
                (answer is None or p[1] == answer) and p[2] >= since]

    def ignored_twice():
        conns = [p[0] for p in pings(answer="none")]
        return next((c for c in conns if conns.count(c) >= 2 and c not in edge.closes), None)

    # a peer that has never answered a ping ignores them (RFC 3261 §7.5): not cut off
    check(wait_for(lambda: ignored_twice() is not None, 25),
          "a connection whose peer ignores the pings is pinged again 10 s later and kept "
          "(pings %s, closed %s of %d)" % (edge.pings, edge.closes, edge.handshakes))
    # once it has answered one, an answer may also be any message (RFC 5626 §4.4.1)
    edge.ping_answer = "pong"
    check(wait_for(lambda: pings(answer="pong"), 15), "a ping answered with a pong")
    if not pings(answer="pong"):
        return
    conn = pings(answer="pong")[0][0]
    edge.ping_answer = "request"
    check(wait_for(lambda: pings(conn, "request"), 5), "a ping answered with a request")
    if not pings(conn, "request"):
        return
    first = pings(conn, "request")[0][2]
    time.sleep(max(0.0, first + 11.5 - time.time()))
    check(conn not in edge.closes and len(pings(conn, "request")) >= 3,
          "a request instead of the pong keeps the connection, pings go on every 2 s "
          "(%d pings, closed %s)" % (len(pings(conn, "request")), edge.closes))
    # keepalive_s=0 turns the pings off, live, and the idle connection stays up
    set_keepalive(data, 0)
    time.sleep(2.5)
    before = len(pings(conn))
    time.sleep(8)
    check(len(pings(conn)) == before and conn not in edge.closes,
          "sip.keepalive_s=0: no ping in 8 s on the idle connection, which stays open "
          "(%d pings after %d, closed %s)" % (len(pings(conn)), before, edge.closes))
    set_keepalive(data, 2)
    check(wait_for(lambda: len(pings(conn)) > before, 5),
          "sip.keepalive_s=2 again: the pings start again")
    # and a peer that answered before and now stays silent is cut off after 10 s
    edge.ping_answer = "silent"
    silent = time.time()
    check(wait_for(lambda: conn in edge.closes, 16),
          "a peer that answered pings and stops is cut off 10 s after the ping it ignored")
    closed = time.time()
    edge.ping_answer = "none"
    gone = pings(conn, "silent", silent)
    check(gone and closed - gone[0][2] >= 9.5,
          "not before the 10 s are up (closed %.1f s after the ping)"
          % (closed - gone[0][2] if gone else -1))
    check(b"closed: no answer to the CRLF keepalive" in gw_log(),
          "the log says why the connection was closed")


def outer():
    """Makes the namespace and the certificates, then runs the test inside the namespace."""
    if subprocess.call(["ip", "netns", "add", NS]) != 0:
        skip("cannot create a network namespace here")
    subprocess.check_call(["ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up"])
    os.makedirs("/etc/netns/" + NS, exist_ok=True)
    with open("/etc/netns/%s/resolv.conf" % NS, "w") as f:
        f.write("nameserver %s\n" % DNS_IP)
    with open("/etc/netns/%s/hosts" % NS, "w") as f:
        f.write("127.0.0.1 localhost\n")
    make_certs()
    return subprocess.call(["ip", "netns", "exec", NS, sys.executable, os.path.abspath(__file__),
                            FEDGW, SEED, PROBE, XPROBE, "--inner", NS, TMP])


def main():
    dlog = os.path.join(TMP, "dnsmasq.log")
    PROCS.append(subprocess.Popen([
        DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--bind-interfaces", "--listen-address=" + DNS_IP, "--port=53", "--user=root",
        "--pid-file=" + os.path.join(TMP, "dnsmasq.pid"), "--log-facility=" + dlog,
        "--local=/test/", "--host-record=edge.sip.test," + EDGE_IP,
        "--host-record=edge2.sip.test," + EDGE2_IP, "--host-record=gw.sip.test," + GW_IP,
        # slow.test is forwarded where nothing answers: lookups time out (router timeout)
        "--server=/slow.test/127.0.0.2#9",
        # a next hop found by SRV (RFC 3263 §4.2): _sips._tcp.srv.sip.test -> edge.sip.test
        "--srv-host=_sips._tcp.srv.sip.test,edge.sip.test,5061,0,0",
        # RFC 3263 §4.4 failover: a dead target, a wrong-name edge, then a good one
        "--host-record=edge3.sip.test," + EDGE3_IP, "--host-record=dead.sip.test," + DEAD_IP,
        "--srv-host=_sips._tcp.pool.sip.test,dead.sip.test,5061,10,0",
        "--srv-host=_sips._tcp.pool.sip.test,edge2.sip.test,5061,20,0",
        "--srv-host=_sips._tcp.pool.sip.test,edge3.sip.test,5061,30,0",
        # every target fails
        "--srv-host=_sips._tcp.allbad.sip.test,dead.sip.test,5061,10,0",
        "--srv-host=_sips._tcp.allbad.sip.test,edge2.sip.test,5061,20,0",
        # a target that never answers the handshake, then a good one
        "--host-record=silent.sip.test," + SILENT_IP,
        "--srv-host=_sips._tcp.slow.sip.test,silent.sip.test,5061,10,0",
        "--srv-host=_sips._tcp.slow.sip.test,edge3.sip.test,5061,20,0"]))
    check(wait_for(lambda: os.path.exists(dlog) and "started" in open(dlog).read(), 5),
          "dnsmasq started")

    edge = Edge(EDGE_IP, os.path.join(TMP, "edge.crt"), os.path.join(TMP, "edge.key"))
    edge.start()
    edge2 = Edge(EDGE2_IP, os.path.join(TMP, "wrong.crt"), os.path.join(TMP, "wrong.key"))
    edge2.start()
    edge3 = Edge(EDGE3_IP, os.path.join(TMP, "pool.crt"), os.path.join(TMP, "pool.key"))
    edge3.start()
    silent = socket.socket()
    silent.bind((SILENT_IP, 5061))
    silent.listen(8)  # accepted by the kernel, never read: no TLS handshake

    data = os.path.join(TMP, "store")
    t = lambda n: os.path.join(TMP, n)
    seed = "\n".join([
        "set console.bind " + GW_IP, "set console.port 18443",
        "set xmpp.bind " + GW_IP, "set xmpp.dns_servers " + DNS_IP,
        "set xmpp.dns_transparent_zones test", "set xmpp.connect_timeout_s 2",
        "set sip.fqdn gw.sip.test", "set sip.bind " + GW_IP,
        "cert gwcert gateway %s %s" % (t("gw.crt"), t("gw.p8")),
        "ca testca test-ca " + t("ca.crt"),
        "domain sip.test edge.sip.test 5061 tls gwcert testca -",
        "domain bad.sip.test edge2.sip.test 5061 tls gwcert testca -",
        "domain srv.sip.test srv.sip.test 0 tls gwcert testca -",
        "domain pool.sip.test pool.sip.test 0 tls gwcert testca -",
        "domain allbad.sip.test allbad.sip.test 0 tls gwcert testca -",
        "domain slow.sip.test slow.sip.test 0 tls gwcert testca -",
    ]) + "\n"
    subprocess.run([SEED, data], input=seed.encode(), check=True)
    log = open(os.path.join(TMP, "fedgw.log"), "wb")
    gw = subprocess.Popen([FEDGW, "--data-dir", data, "serve"], stdout=log, stderr=log)
    PROCS.append(gw)
    global GWPROC
    GWPROC = (data, log)

    # 1. the gateway connects to the edge with its certificate and pings it with OPTIONS
    check(wait_for(lambda: edge.options > 0, 15), "OPTIONS keepalive reached the edge")
    check(edge.peer_cn == "gw.sip.test", "the gateway presented its SIP certificate")
    check(wait_for(lambda: (object_state(data, "sip:sip.test") or {}).get("state") == "up", 10,
                   0.3), "status object sip:sip.test is up (%s)" % object_state(data, "sip:sip.test"))
    o = object_state(data, "sip:sip.test") or {}
    check(o.get("kind") == "sip-domain", "its kind is sip-domain")
    check("edge.sip.test" in edge.sni, "SNI toward the next hop names it (%s)" % edge.sni)
    failover(data, edge3)

    # 2. MESSAGE from the edge (mutual TLS to the gateway's listener) to an unknown domain
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(t("ca.crt"))
    ctx.load_cert_chain(t("edge.crt"), t("edge.key"))
    ctx.check_hostname = True
    tls = ctx.wrap_socket(socket.create_connection((GW_IP, 5061), timeout=5),
                          server_hostname="gw.sip.test")
    body = b"hello from SIP"
    msg = ("MESSAGE sip:bob@nowhere.test SIP/2.0\r\n"
           "Via: SIP/2.0/TLS edge.sip.test:5061;branch=z9hG4bKm1\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\n"
           "To: <sip:bob@nowhere.test>\r\nCall-ID: m1@edge\r\nCSeq: 1 MESSAGE\r\n"
           "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n\r\n"
           % len(body)).encode() + body
    rsp = sip_exchange(tls, msg, 15)
    code = int(rsp.split(b" ")[1]) if rsp else 0
    check(code == 404, "MESSAGE to an unknown XMPP domain answered 404 (got %s)" % code)
    time.sleep(1.0)
    check(not any(m.startswith(b"MESSAGE ") and b"bob@nowhere.test" in (header(m, "From") or "")
                  .encode() for m in edge.requests),
          "the router's bounce is not reported a second time as a MESSAGE")
    # a sender from a domain the gateway does not serve is refused
    rsp = sip_exchange(tls, msg.replace(b"alice@sip.test", b"alice@other.test")
                       .replace(b"m1@edge", b"m2@edge").replace(b"bKm1", b"bKm2"), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 403"),
          "MESSAGE from a foreign SIP domain answered 403")
    speaks_for(data, tls, msg)
    opt = ("OPTIONS sip:gw.sip.test SIP/2.0\r\nVia: SIP/2.0/TLS edge.sip.test;branch=z9hG4bKo1\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:edge.sip.test>;tag=o1\r\nTo: <sip:gw.sip.test>\r\n"
           "Call-ID: o1@edge\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()
    rsp = sip_exchange(tls, opt, 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200"), "OPTIONS over mutual TLS: 200")
    check(rsp is not None and header(rsp, "Allow-Events") == "presence",
          "OPTIONS 200 lists Allow-Events: presence (RFC 6665 §4.4.4)")
    tls.sendall(b"\r\n\r\n")
    tls.settimeout(3)
    try:
        pong = tls.recv(16)
    except OSError:
        pong = b""
    check(pong == b"\r\n", "CRLFCRLF keepalive answered with CRLF")
    tls.close()

    # 3a. IM session (INVITE with m=message, MESSAGE inside, BYE) and presence from SIP
    tls = ctx.wrap_socket(socket.create_connection((GW_IP, 5061), timeout=5),
                          server_hostname="gw.sip.test")
    im_session(tls)
    subscribe_from_sip(tls, data, edge)
    tls.close()

    # 3b. restart: the subscription survives and is not duplicated
    gw.send_signal(signal.SIGTERM)
    try:
        gw.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    subprocess.run([SEED, data], input=b"set sip.max_pending 1\n", check=True)
    gw = subprocess.Popen([FEDGW, "--data-dir", data, "serve"], stdout=log, stderr=log)
    PROCS.append(gw)
    check(wait_for(lambda: listening(GW_IP, 5061), 10), "fedgw listens again after a restart")
    check(len(subs(data)) == 1, "the subscription is still stored after the restart")
    tls = ctx.wrap_socket(socket.create_connection((GW_IP, 5061), timeout=5),
                          server_hostname="gw.sip.test")
    rsp = sip_exchange(tls, subscribe_req("s9@edge", "z9hG4bKs9", 1, None), 5)
    check(rsp is not None and rsp.startswith(b"SIP/2.0 200"), "SUBSCRIBE again: 200")
    check(len(subs(data)) == 1, "the same subscription again is not duplicated")
    overload(tls)
    tls.close()

    # 3. RFC 4475 torture messages on the TCP listener
    for kind in ("valid", "invalid"):
        for name in sorted(os.listdir(os.path.join(DATA, kind))):
            raw = open(os.path.join(DATA, kind, name), "rb").read()
            s = socket.create_connection((GW_IP, 5060), timeout=5)
            s.sendall(raw)
            if name == "clerr.dat":
                s.shutdown(socket.SHUT_WR)
            rsp, _ = read_msg(s, b"", 2.0)
            s.close()
            is_rsp = raw.startswith(b"SIP/2.0")
            got = rsp.split(b"\r\n")[0].decode("utf-8", "replace") if rsp else "nothing"
            if is_rsp:
                check(rsp is None, "%s/%s (a response) is not answered (%s)" % (kind, name, got))
            elif kind == "valid":
                ok = rsp is not None and rsp.startswith(b"SIP/2.0 ")
                if name == "inv2543.dat":
                    ok = ok  # no Content-Length on a stream: 400 is right (RFC 3261 §18.3)
                else:
                    ok = ok and not rsp.startswith(b"SIP/2.0 400")
                check(ok, "%s/%s answered (%s)" % (kind, name, got))
            elif name == "clerr.dat":
                check(rsp is None or rsp.startswith(b"SIP/2.0 400"),
                      "%s/%s incomplete on a stream (%s)" % (kind, name, got))
            else:
                want = b"SIP/2.0 505" if name == "badvers.dat" else b"SIP/2.0 400"
                check(rsp is not None and rsp.startswith(want),
                      "%s/%s answered %s (%s)" % (kind, name, want[8:].decode(), got))
    check(gw.poll() is None, "fedgw still running after the torture messages")

    # 4. the second edge's certificate names wrong.sip.test: the fault says so
    f = None
    if wait_for(lambda: fault_active(data, "sip.cert.bad.sip.test") is not None, 15, 0.3):
        f = fault_active(data, "sip.cert.bad.sip.test")
    check(f is not None, "fault sip.cert.bad.sip.test raised")
    if f:
        text = json.dumps(f)
        check("wrong.sip.test" in text and "edge2.sip.test" in text,
              "the fault names the certificate's names and the expected one")
    check(fault_active(data, "sip.cert.sip.test") is None, "no certificate fault for sip.test")
    check(wait_for(lambda: domain_status(data, "slow.sip.test")[0] == "up", 25, 0.3),
          "slow.sip.test is up through its second SRV target after the first timed out")
    failed = domain_status(data, "slow.sip.test")[1].get("targets_failed", "")
    check("silent.sip.test:5061" in failed and "timed out" in failed,
          "the status says the first target timed out (%s)" % failed)

    # 5. validate connection, step by step
    r = subprocess.run([PROBE, data, "sip.test"], capture_output=True, timeout=40)
    out = r.stdout.decode(errors="replace")
    for sid in ("dns", "tcp", "tls", "cert", "options"):
        check(("\n" + out).find("\n%s pass " % sid) >= 0, "validate sip.test: %s passes" % sid)
    check(r.returncode == 0, "validate sip.test succeeds")
    r = subprocess.run([PROBE, data, "bad.sip.test"], capture_output=True, timeout=40)
    out = r.stdout.decode(errors="replace")
    check(r.returncode == 1 and "\ncert fail peer's certificate does not contain a matching FQDN"
          in "\n" + out and "wrong.sip.test" in out,
          "validate bad.sip.test: the name step fails with the names and the fix")
    check("\noptions skip" in "\n" + out, "validate bad.sip.test: OPTIONS not reached")
    r = subprocess.run([PROBE, data, "srv.sip.test"], capture_output=True, timeout=40)
    out = r.stdout.decode(errors="replace")
    check("\ndns pass edge.sip.test has " + EDGE_IP + " (port 5061)" in "\n" + out,
          "validate srv.sip.test: the next hop is found with _sips._tcp SRV")
    # RFC 5922 §4: the name checked is the configured next hop, not the SRV target
    check("\ncert fail " in "\n" + out and "expected srv.sip.test" in out,
          "validate srv.sip.test: the certificate must name srv.sip.test")
    r = subprocess.run([PROBE, data, "pool.sip.test"], capture_output=True, timeout=40)
    pout = r.stdout.decode(errors="replace")
    check(r.returncode == 0 and "\ntcp warn 127.0.0.23:5061" in "\n" + pout and
          "\ncert warn peer's certificate does not contain a matching FQDN" in "\n" + pout and
          "\ncert pass the certificate names pool.sip.test" in "\n" + pout and
          "\noptions pass" in "\n" + pout,
          "validate pool.sip.test: each SRV target reported, the third one works")
    check("\ndns.srv pass dead.sip.test port 5061 (priority 10, weight 0), edge2.sip.test port "
          "5061 (priority 20, weight 0), edge3.sip.test" in "\n" + pout,
          "validate pool.sip.test: the SRV targets in the order they are tried")
    r = subprocess.run([PROBE, data, "slow.sip.test"], capture_output=True, timeout=40)
    sout = r.stdout.decode(errors="replace")
    check(r.returncode == 0 and "\ntls warn no answer in time" in "\n" + sout and
          "\noptions pass" in "\n" + sout,
          "validate slow.sip.test: a silent target is given up, the next one checked")
    if FAILS:
        print(out)
        print(pout)
        print(sout)
    keepalive(data, edge)

    gw.send_signal(signal.SIGTERM)
    try:
        rc = gw.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    log.flush()
    text = open(os.path.join(TMP, "fedgw.log"), errors="replace").read()
    check(rc == 0, "fedgw stopped cleanly (exit %s)" % rc)
    report = text.split("ERROR: AddressSanitizer", 1)[1] if "ERROR: Address" in text else ""
    check(" in sipgw_" not in report, "no sanitizer report in the SIP gateway")
    if FAILS:
        log.flush()
        sys.stdout.write(open(os.path.join(TMP, "fedgw.log"), errors="replace").read()[-6000:])

    # 6. XMPP -> SIP with the engine alone (its XMPP side printed by the probe)
    edge.notifies.clear()
    edge.requests.clear()
    edge.grant = "10"  # a short grant: refreshed at 5 s (RFC 6665 §4.1.2.2), not late
    edge.fetch = True
    edge.pending_first = True
    edge.bodyless_refresh = True
    edge.fetch_cached = True
    edge.composer = True
    edge.responses.clear()
    # a TLS domain without a certificate: its MESSAGEs fail as they start
    subprocess.run([SEED, data], input=b"domain nocert.sip.test edge.sip.test 5061 tls - testca -\n",
                   check=True)
    r = subprocess.run([XPROBE, data], capture_output=True, timeout=60)
    out = r.stdout.decode(errors="replace")
    nocert = [l for l in out.splitlines() if "from='x@nocert.sip.test" in l]
    check(len(nocert) == 2 and all("type='error'" in l and "remote-server-not-found" in l and
                                   "no SIP certificate is chosen" in l for l in nocert) and
          "id='nc1'" in nocert[0] and "id='nc2'" in nocert[1],
          "a TLS domain without a certificate: each MESSAGE fails as it starts and comes back "
          "remote-server-not-found with the reason (%s)" % nocert)
    check(r.returncode == 0 and "\nup\n" in "\n" + out, "the engine alone reaches the edge")
    reqs = [m.decode(errors="replace") for m in edge.requests]
    msgs = [m for m in reqs if m.startswith("MESSAGE sip:romeo@sip.test ")]
    check(any("hi from XMPP" in m and "<sip:juliet@capulet.test;gr=balcony>" in m and
              "Call-ID: th-1" in m for m in msgs),
          "XMPP message -> MESSAGE sip:romeo@sip.test (From with gr=, Call-ID = thread)")
    check(any("application/im-iscomposing+xml" in m for m in msgs),
          "XMPP chat state -> isComposing MESSAGE")
    slow = [m for m in msgs if m.endswith("slow-first")]
    second = [m for m in msgs if m.endswith("queued-second")]
    check(len(slow) == 1 and len(second) == 1 and edge.overlap is False,
          "RFC 3428 §8: the second MESSAGE to a URI waits for the answer to the first "
          "(overlap %s)" % edge.overlap)
    cid = header(second[0].encode(), "Call-ID") if second else None
    check(cid is not None and re.fullmatch(r"th-[0-9a-f]{32}@[A-Za-z0-9.-]+", cid),
          "a thread that is no Call-ID ('a b\u00e9') gets a valid derived one (%s)" % cid)
    check("<body>reply in thread</body><thread>a b\u00e9</thread>" in out,
          "the reply's Call-ID maps back to the thread (RFC 7572 Table 2)")
    xhtml = ("<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/"
             "1999/xhtml'><p>Hello <strong>there</strong> &amp; <a href='https://example.com/'>"
             "site</a>!</p></body></html>")
    htmls = [l for l in out.split("\n") if "<thread>html1@edge</thread>" in l]
    check(len(htmls) == 1 and "<body>Hello there &amp; site &lt;https://example.com/&gt;!"
          "</body>" + xhtml + "<thread>" in htmls[0] and "script" not in htmls[0] and
          "alert" not in htmls[0] and "onclick" not in htmls[0],
          "RFC 7572 §7: MESSAGE text/html -> <body/> text + sanitised XHTML-IM (%s)" % htmls)
    cpim = [l for l in out.split("\n") if "<thread>html2@edge</thread>" in l]
    check(len(cpim) == 1 and "<body>cpim html</body><html xmlns='http://jabber.org/protocol/"
          "xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><em>cpim</em> html</body>"
          "</html>" in cpim[0], "message/cpim with text/html inside -> XHTML-IM (%s)" % cpim)
    check("policy-violation" in out and "id='big1'" in out and
          not any(m.endswith("x" * 50) for m in msgs),
          "RFC 3428 §8 / RFC 7572 §6: a message over 1300 bytes as SIP -> <policy-violation/>")
    noisc = [m for m in reqs if m.startswith("MESSAGE sip:noisc@sip.test ")]
    check(len([m for m in noisc if "im-iscomposing" in m]) == 1 and
          any(m.endswith("text after 415") for m in noisc),
          "RFC 3994 §4: after a 415 no more isComposing to that URI; text still goes (%d)"
          % len(noisc))
    check(len([m for m in msgs if "im-iscomposing" in m]) == 1,
          "RFC 7573 Table 4: <gone/> outside a session sends no isComposing")
    plain = [m for m in msgs if "hi from XMPP" in m]
    check(len(plain) == 1, "the message with a valid thread went out once")
    check("type='error'" in out and "item-not-found" in out and "id='m2'" in out and
          "to='juliet@capulet.test/balcony'" in out,
          "SIP 404 -> stanza error item-not-found to the sender")
    subs_sent = [m for m in reqs if m.startswith("SUBSCRIBE ")]
    check(len(subs_sent) >= 1 and "Event: presence" in subs_sent[0] and
          "Accept: application/pidf+xml" in subs_sent[0], "XMPP subscribe -> SUBSCRIBE")
    check("type='subscribed'" in out and "from='romeo@sip.test'" in out,
          "NOTIFY active -> presence subscribed")
    check("<show>away</show>" in out and "in a meeting" in out,
          "PIDF -> presence with show and status")
    romeo = [l for l in out.splitlines() if "from='romeo@sip.test" in l]
    away = [i for i, l in enumerate(romeo) if "<show>away</show>" in l]
    gone = [i for i, l in enumerate(romeo) if "type='unavailable'" in l]
    check(away and gone and gone[-1] > away[0],
          "an active NOTIFY without a body after open presence -> unavailable "
          "(RFC 8048 §5.2.1)")
    check("still pending" not in out,
          "a NOTIFY pending with a PIDF sends no presence (RFC 8048 §5.2.1)")
    check("from='romeo@sip.test' to='juliet@capulet.test' type='unsubscribed'" in out,
          "after the 2xx to the Expires 0, the XMPP user gets unsubscribed (RFC 8048 §5.2.3)")
    unsub_ids = [header(m.encode(), "Call-ID") for m in subs_sent if "Expires: 0" in m]
    final = [r for r in edge.responses if b" NOTIFY" in (header(r, "CSeq") or "").encode() and
             header(r, "Call-ID") in unsub_ids]
    check(final and all(r.startswith(b"SIP/2.0 200") for r in final),
          "the final NOTIFY after the Expires 0 gets 200, not 481 (RFC 6665 §4.1.2.3): %s"
          % [r.split(b"\r\n")[0] for r in final])
    check(any("Expires: 0" in m and "To: <sip:romeo@sip.test>;tag=edge1" in m
              for m in subs_sent), "XMPP unsubscribe -> SUBSCRIBE Expires: 0 in the dialog")
    nots = [m.decode(errors="replace") for m in edge.notifies]
    check(any("Subscription-State: active" in n for n in nots) and
          any("busy now" in n and "application/pidf+xml" in n for n in nots),
          "XMPP presence -> NOTIFY with PIDF to the SIP watcher")
    pidfs = [n for n in nots if "busy now" in n]
    check(any("<tuple id='ID-r'>" in n and "<show xmlns='jabber:client'>dnd</show>" in n and
              "<contact priority='0.039'>" in n and "entity='pres:bob@nowhere.test'" in n
              for n in pidfs),
          "the NOTIFY's PIDF: pres: entity, tuple id from the resource, jabber:client show, "
          "priority (RFC 3863 §4.1.1; RFC 8048 §6.2 notes 2, 6, 7)")
    check(any("terminated;reason=rejected" in n for n in nots),
          "XMPP unsubscribed -> NOTIFY terminated;reason=rejected")
    check(any("fetch1@edge" in n and "Subscription-State: terminated" in n and
              "application/pidf+xml" in n and "fetched state" in n for n in nots),
          "a fetch SUBSCRIBE gets a NOTIFY terminated with the PIDF the probe brought")
    check("from='denied@sip.test' to='juliet@capulet.test' type='unsubscribed'" in out,
          "SUBSCRIBE refused 403 -> unsubscribed (RFC 8048 §5.2.2)")
    check("from='busy@sip.test' to='juliet@capulet.test' type='unsubscribed'" not in out and
          any(m.startswith("SUBSCRIBE sip:busy@sip.test ") for m in subs_sent),
          "SUBSCRIBE answered 503 -> no unsubscribed, the authorization stays (RFC 8048 §5.2.2)")
    # RFC 6665 §4.1.3: retry-after is waited for; deactivated means subscribe again now
    # (once: the next one meets the backoff); neither cancels the authorization
    prob = [m for m in subs_sent if m.startswith("SUBSCRIBE sip:prob@sip.test ")]
    moved = [m for m in subs_sent if m.startswith("SUBSCRIBE sip:moved@sip.test ")]
    check(len(prob) == 1, "terminated;reason=probation;retry-after=30: no new SUBSCRIBE "
          "before 30 s (%d)" % len(prob))
    check(len(moved) == 2 and header(moved[0].encode(), "Call-ID") !=
          header(moved[1].encode(), "Call-ID"),
          "terminated;reason=deactivated: a new SUBSCRIBE at once, in a fresh dialog (%d)"
          % len(moved))
    check("type='unsubscribed'" not in "".join(l for l in out.splitlines()
                                               if "from='prob@" in l or "from='moved@" in l),
          "probation and deactivated keep the authorization (no unsubscribed)")
    check(any("fetch2@edge" in n and "Subscription-State: terminated" in n and
              "application/pidf+xml" in n and "busy now" in n for n in nots),
          "a fetch by a watcher with an active subscription is answered at once from the "
          "last presence it brought (RFC 6665 §4.4.3)")
    lines = out.splitlines()
    isc = [(i, l) for i, l in enumerate(lines) if "from='alice@sip.test" in l and
           "<thread>isc1@edge</thread>" in l]
    typing = [i for i, l in isc if "<composing " in l]
    idle = [i for i, l in isc if "<active xmlns='http://jabber.org/protocol/chatstates'/>" in l]
    check(typing and idle and idle[0] > typing[0],
          "isComposing active with refresh 1 and nothing after it -> <active/> to the XMPP "
          "user once the refresh ran out (RFC 3994 §3.3)")
    tyb = [l for l in lines if "from='alice@sip.test" in l and "to='tybalt@capulet.test" in l]
    check(any("<composing " in l for l in tyb) and
          any("text after typing" in l for l in tyb) and
          not any("<active xmlns=" in l for l in tyb),
          "a content message after active ends the composer's wait: no <active/> later")
    check("<presence from='sip.test' to='juliet@capulet.test' type='probe'>" in out,
          "before a refresh, a probe of the XMPP user's bare JID from the gateway (RFC 8048 §8.1)")
    fetches = [m for m in subs_sent if m.startswith("SUBSCRIBE sip:mercutio@sip.test ")]
    check(any("Expires: 0" in m and ";tag=" not in (header(m.encode(), "To") or ";tag=")
              for m in fetches),
          "an XMPP probe with no subscription -> SUBSCRIBE Expires 0 in a new dialog "
          "(RFC 8048 §7.1): %s" % [m.split("\r\n")[0] for m in fetches])
    times = [t for t, m in edge.sub_times
             if b"Expires: 0" not in m and m.startswith(b"SUBSCRIBE sip:romeo@")]
    late = [round(b - a, 2) for a, b in zip(times, times[1:])]
    check(len(times) >= 2 and 4.5 <= times[1] - times[0] <= 6.0,
          "a 10 s grant is refreshed at 5 s, on time (intervals %s)" % late)
    if FAILS:
        print(out)
        print("\n----\n".join(reqs))


if not INNER:
    try:
        rc = outer()
    finally:
        cleanup()
    sys.exit(rc)
try:
    main()
finally:
    stop_procs()
print("%d failure(s)" % len(FAILS))
sys.exit(1 if FAILS else 0)
