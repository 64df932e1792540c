#!/usr/bin/python3
"""End-to-end test of the console's SIP API: starts `fedgw serve` on 127.0.0.1 and checks
that every SIP endpoint refuses unauthenticated and CSRF-less requests, that refusals name
the field with a fix, the round trips of settings and SIP domains (defaults, partial edits,
certificate warnings, the live state from the engine), that HTML comes back as JSON text,
validate connection (a next hop whose DNS fails, one whose TCP connection is refused, each
with its fix) and the `fedgw sip` CLI. No test process uses the machine's resolver: the
gateway's DNS server is a closed port on loopback; every listener is on 127.0.0.1."""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fgclient import (Client, check, error_code, field_of, free_port, serve,  # noqa: E402
                      setup_behind_auth, guarded, workspace)

HTML = '<img src=x onerror="alert(1)">.test'
ZERO_ID = "0" * 32

OPS = [
    ("GET", "/api/v1/sip/settings"),
    ("PUT", "/api/v1/sip/settings"),
    ("GET", "/api/v1/sip/domains"),
    ("POST", "/api/v1/sip/domains"),
    ("GET", "/api/v1/sip/domains/sip.test"),
    ("PUT", "/api/v1/sip/domains/sip.test"),
    ("DELETE", "/api/v1/sip/domains/sip.test"),
    ("POST", "/api/v1/sip/validate"),
    ("GET", "/api/v1/sip/validate/" + ZERO_ID),
]


def wait_validation(c, vid, seconds=60):
    v = {}
    deadline = time.time() + seconds
    while vid and time.time() < deadline:
        st, _, v = c.json("GET", "/api/v1/sip/validate/" + vid)
        if st != 200 or v.get("done"):
            break
        time.sleep(0.5)
    return v if isinstance(v, dict) else {}


def run(port, fedgw, data):
    c = Client(port)
    if not setup_behind_auth(c, OPS):
        return
    st, _, doc = c.json("GET", "/api/v1/sip/domains")
    check(st == 200 and doc == {"domains": []}, "refused requests added no SIP domain")

    # -- settings -------------------------------------------------------------------------
    st, _, doc = c.json("GET", "/api/v1/sip/settings")
    check(st == 200 and doc.get("bind") == "127.0.0.1" and doc.get("enabled") is True and
          doc.get("fqdn_default") is True and doc.get("subscription_expires_s") == 3600 and
          doc.get("max_pending") == 1000 and doc.get("max_message_bytes") == 1300 and
          doc.get("keepalive_s") == 30,
          "GET settings: as set before the start, defaults")
    st, _, doc = c.json("PUT", "/api/v1/sip/settings", {"fqdn": "sipgw.test", "max_pending": 20})
    check(st == 200 and len(doc["changed"]) == 2 and "fqdn" in doc["message"] and
          doc["settings"]["fqdn"] == "sipgw.test" and doc["settings"]["fqdn_default"] is False,
          "PUT settings: saved, the answer says what changed")
    for body, field in (({"tcp_port": 70000}, "tcp_port"), ({"tls_port": "x"}, "tls_port"),
                        ({"fqdn": "Bad Name"}, "fqdn"), ({"bind": "example.com"}, "bind"),
                        ({"enabled": "perhaps"}, "enabled"),
                        ({"subscription_expires_s": 10}, "subscription_expires_s"),
                        ({"max_pending": 0}, "max_pending"),
                        ({"max_message_bytes": 100}, "max_message_bytes"),
                        ({"keepalive_s": 3601}, "keepalive_s"),
                        ({"colour": "red"}, "colour")):
        st, _, doc = c.json("PUT", "/api/v1/sip/settings", body)
        check(st == 422 and field_of(doc) == field and doc["error"]["fix"],
              "PUT settings %s -> 422 naming %s (got %d %s)" % (body, field, st, field_of(doc)))
    st, _, doc = c.json("PUT", "/api/v1/sip/settings", raw=b'{"fqdn": ')
    check(st == 400 and error_code(doc) == "bad_json", "PUT settings bad JSON -> 400")

    # -- certificates ------------------------------------------------------------------------
    st, _, doc = c.json("POST", "/api/v1/certificates/selfsigned",
                        {"name": "sipgw", "common_name": "sipgw.test",
                         "dns_names": ["sipgw.test"]})
    cert = (doc or {}).get("id", "")
    st, _, doc = c.json("POST", "/api/v1/certificates/selfsigned",
                        {"name": "edge-root", "common_name": "edge-ca.test"})
    root = (doc or {}).get("id", "")
    st, _, pem = c.request("GET", "/api/v1/certificates/%s/pem" % root)
    st, _, doc = c.json("POST", "/api/v1/certificates/ca",
                        {"name": "edge-ca", "pem": (pem or b"").decode()})
    ca = (doc or {}).get("id", "")
    check(cert and root and ca, "a SIP certificate and a CA bundle for the edge")

    # -- domains ----------------------------------------------------------------------------
    good = {"domain": "sip.test", "next_hop": "edge.sip.test", "cert_id": cert, "ca_id": ca}
    for change, field in (({"domain": "SIP.test"}, "domain"), ({"domain": HTML}, "domain"),
                          ({"domain": None}, "domain"), ({"next_hop": None}, "next_hop"),
                          ({"next_hop": "edge sip"}, "next_hop"), ({"port": 70000}, "port"),
                          ({"transport": "udp"}, "transport"), ({"cert_id": ZERO_ID}, "cert_id"),
                          ({"cert_id": ca}, "cert_id"), ({"ca_id": cert}, "ca_id"),
                          ({"ca_id": None}, "ca_id"), ({"bind": "eth0"}, "bind"),
                          ({"xmpp_domain": "-x.test"}, "xmpp_domain"),
                          ({"trusted_addrs": "10.0.0.1, edge.sip.test"}, "trusted_addrs"),
                          ({"colour": "red"}, "colour")):
        body = dict(good, **change)
        body = {k: v for k, v in body.items() if v is not None}
        st, _, doc = c.json("POST", "/api/v1/sip/domains", body)
        check(st == 422 and field_of(doc) == field and doc["error"]["fix"],
              "POST domains %s -> 422 naming %s (got %d %s)" % (change, field, st, field_of(doc)))
    # Text an admin typed comes back only as JSON text, never as markup.
    st, resp, raw = c.request("POST", "/api/v1/sip/domains", dict(good, **{HTML: 1}))
    doc = json.loads(raw or b"{}")
    check(st == 422 and resp.getheader("Content-Type") == "application/json" and
          resp.getheader("X-Content-Type-Options") == "nosniff" and
          doc.get("error", {}).get("field") == HTML,
          "an unknown field named with HTML: 422, the name returned as JSON text (nosniff)")
    st, resp, raw = c.request("POST", "/api/v1/sip/domains", dict(good, next_hop=HTML))
    check(st == 422 and resp.getheader("Content-Type") == "application/json" and
          b"<img" not in raw, "HTML as a next hop is refused and not reflected")
    st, resp, raw = c.request("POST", "/api/v1/sip/domains", good)
    doc = json.loads(raw or b"{}")
    dom = doc.get("domain", {})
    check(st == 201 and resp.getheader("Content-Type") == "application/json" and
          resp.getheader("X-Content-Type-Options") == "nosniff" and dom.get("port") == 5061 and
          dom.get("transport") == "tls" and dom.get("maps_to") == "sip.test" and
          dom.get("cert_name") == "sipgw" and dom.get("ca_name") == "edge-ca" and
          dom.get("cert_names_fqdn") is True and not doc.get("warnings"),
          "POST domains: added over TLS on 5061, mapped to the same XMPP domain, no warning")
    st, _, doc = c.json("POST", "/api/v1/sip/domains", good)
    check(st == 409 and field_of(doc) == "domain", "POST the same domain again -> 409")
    st, _, doc = c.json("PUT", "/api/v1/sip/settings", {"fqdn": "gw.elsewhere.test"})
    check(st == 200 and any("sip.test" in w and "does not name" in w for w in doc["warnings"]),
          "an FQDN the SIP certificate lacks: saved with a warning (seed 000)")
    st, _, doc = c.json("GET", "/api/v1/sip/domains/sip.test")
    check(st == 200 and doc.get("cert_names_fqdn") is False and
          any("matching FQDN" in w for w in doc.get("warnings", [])),
          "GET a domain: the certificate does not name the FQDN, in plain words")
    c.json("PUT", "/api/v1/sip/settings", {"fqdn": "sipgw.test"})
    st, _, doc = c.json("PUT", "/api/v1/sip/domains/sip.test",
                        {"transport": "tcp", "xmpp_domain": "chat.sip.test", "warnings": [],
                         "status": None, "trusted_addrs": "192.0.2.7 10.0.0.0/8"})
    check(st == 200 and doc["domain"]["port"] == 5060 and
          doc["domain"]["maps_to"] == "chat.sip.test" and
          doc["domain"]["trusted_addrs"] == "192.0.2.7, 10.0.0.0/8" and
          {c_["field"] for c_ in doc["changed"]} == {"port", "transport", "xmpp_domain",
                                                     "trusted_addrs"},
          "PUT a domain: partial edit, the default port follows the transport")
    st, _, doc = c.json("PUT", "/api/v1/sip/domains/sip.test", {"domain": "other.test"})
    check(st == 422 and field_of(doc) == "domain", "a SIP domain cannot be renamed")
    st, _, doc = c.json("PUT", "/api/v1/sip/domains/nope.test", {"port": 5070})
    check(st == 404, "PUT an unknown domain -> 404")
    st, _, doc = c.json("GET", "/api/v1/sip/domains/nope.test")
    check(st == 404, "GET an unknown domain -> 404")
    st, _, doc = c.json("POST", "/api/v1/xmpp/domains", {"domain": "chat.sip.test"})
    st, _, doc = c.json("GET", "/api/v1/sip/domains/sip.test")
    check(any("plain XMPP domains" in w for w in doc.get("warnings", [])),
          "the mapped XMPP domain is also a plain XMPP domain: warned")
    c.json("DELETE", "/api/v1/xmpp/domains/chat.sip.test")
    # A second domain toward a next hop that refuses TCP (a closed port on loopback).
    closed = free_port()
    st, _, doc = c.json("POST", "/api/v1/sip/domains",
                        {"domain": "tcp.test", "next_hop": "127.0.0.1", "port": closed,
                         "transport": "tcp"})
    check(st == 201 and doc["domain"]["port"] == closed, "POST a TCP domain with an address")
    st, _, doc = c.json("GET", "/api/v1/sip/domains")
    check(st == 200 and [d["domain"] for d in doc["domains"]] == ["sip.test", "tcp.test"],
          "GET domains round trip")
    # The engine reports each domain's live state.
    deadline = time.time() + 20
    state = None
    while time.time() < deadline:
        st, _, doc = c.json("GET", "/api/v1/sip/domains/tcp.test")
        state = (doc or {}).get("status")
        if isinstance(state, dict) and state.get("tcp") not in (None, "", "pending", "connecting"):
            break
        time.sleep(0.5)
    check(isinstance(state, dict) and {"state", "reason", "since", "dns", "tcp", "tls",
                                       "options", "cert_match", "messages_in", "messages_out",
                                       "errors", "subscriptions", "sessions",
                                       "last_error"} <= set(state),
          "GET a domain: the engine's live state (next hop DNS/TCP/TLS/OPTIONS, counters, "
          "last error) beside the configuration (%s)" % state)

    # -- validate connection ----------------------------------------------------------------
    st, _, doc = c.json("POST", "/api/v1/sip/validate", {})
    check(st in (400, 422) and field_of(doc) == "domain", "validate without a domain -> 4xx")
    st, _, doc = c.json("POST", "/api/v1/sip/validate", {"domain": "unknown.test"})
    check(st == 422 and field_of(doc) == "domain" and doc["error"]["fix"],
          "validate a domain that is not configured -> 422 domain")
    st, _, doc = c.json("GET", "/api/v1/sip/validate/" + ZERO_ID)
    check(st == 404, "an unknown validation -> 404")
    st, _, doc = c.json("POST", "/api/v1/sip/validate", {"domain": "tcp.test"})
    vid = (doc or {}).get("id", "")
    check(st == 202 and vid, "validate tcp.test -> 202 with an id (got %d)" % st)
    v = wait_validation(c, vid)
    steps = v.get("steps", [])
    ids = [s.get("id") for s in steps]
    tcp = [s for s in steps if s.get("id") == "tcp"]
    check(v.get("done") is True and v.get("ok") is False and v.get("domain") == "tcp.test",
          "validate tcp.test ends and fails")
    check(ids[:2] == ["dns", "tcp"] and tcp and tcp[0]["state"] == "fail" and tcp[0]["fix"] and
          all(set(s) >= {"id", "title", "state", "detail", "fix", "tech"} for s in steps),
          "its steps: DNS then TCP, which fails with a fix (%s)" % ids)
    st, _, doc = c.json("GET", "/api/v1/xmpp/validate/" + vid)
    check(st == 404, "a SIP validation id is not an XMPP one")
    c.json("PUT", "/api/v1/sip/domains/sip.test", {"transport": "tls", "ca_id": ca})
    st, _, doc = c.json("POST", "/api/v1/sip/validate", {"domain": "sip.test"})
    v = wait_validation(c, (doc or {}).get("id", ""))
    dns = [s for s in v.get("steps", []) if s.get("id") == "dns"]
    check(v.get("done") is True and v.get("ok") is False and dns and
          dns[0]["state"] == "fail" and dns[0]["fix"],
          "validate sip.test: the next hop's DNS step fails with its fix")

    # -- the CLI while the daemon runs, delete ---------------------------------------------
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
    r = subprocess.run([fedgw, "--data-dir", data, "sip", "domain", "list", "--json"],
                       capture_output=True, text=True, env=env, timeout=30)
    check(r.returncode == 0 and '"tcp.test"' in r.stdout, "fedgw sip domain list while serving")
    st, _, doc = c.json("DELETE", "/api/v1/sip/domains/tcp.test")
    check(st == 200 and "tcp.test" in doc["message"], "DELETE a domain")
    st, _, doc = c.json("DELETE", "/api/v1/sip/domains/tcp.test")
    check(st == 404, "DELETE it again -> 404")
    st, _, doc = c.json("GET", "/api/v1/audit?limit=500")
    text = str(doc)
    check(st == 200 and all(a in text for a in ("sip.settings", "sip.domain.add",
                                                 "sip.domain.edit", "sip.domain.delete")),
          "the audit trail records the SIP changes")


def cli_checks(fedgw, data):
    """`fedgw sip` on its own store: the commands the interop tests use and exit codes."""
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")

    def cli(*a):
        r = subprocess.run([fedgw, "--data-dir", data, *a], capture_output=True, text=True,
                           env=env, timeout=60)
        return r.returncode, r.stdout, r.stderr

    rc, out, _ = cli("sip", "--help")
    check(rc == 0 and all(w in out for w in ("show", "set KEY=VALUE", "domain add",
                                             "--next-hop", "--transport", "--ca",
                                             "--xmpp-domain", "validate", "fqdn=",
                                             "Exit codes")),
          "fedgw sip --help explains every command and setting")
    check(cli("sip")[0] == 2 and cli("sip", "frobnicate")[0] == 2 and
          cli("sip", "set")[0] == 2 and cli("sip", "set", "fqdn")[0] == 2 and
          cli("sip", "domain", "add", "s.test")[0] == 2 and
          cli("sip", "domain", "add", "s.test", "--next-hop", "e.test", "--speed", "9")[0] == 2,
          "usage errors exit 2")
    rc, out, err = cli("sip", "set", "tls_port=x")
    check(rc == 1 and "field: tls_port" in err and "fix:" in err, "a refused setting exits 1")
    rc, out, err = cli("xmpp", "set", "dns_servers=127.0.0.1@%d" % free_port(),
                       "dns_transparent_zones=test", "enabled=false")
    rc, out, err = cli("sip", "set", "fqdn=sipgw.test", "bind=127.0.0.1",
                       "tcp_port=%d" % free_port(), "tls_port=0")
    check(rc == 0 and "fqdn" in out, "fedgw sip set KEY=VALUE...")
    cli("pki", "selfsign", "sipgw", "CN:sipgw.test")
    cli("pki", "selfsign", "edge-root", "CN:edge-ca.test")
    rc, pem, _ = cli("pki", "pem", "edge-root")
    path = os.path.join(data, "..", "edge-ca.pem")
    with open(path, "w") as f:
        f.write(pem)
    cli("pki", "import-ca", "edge-ca", path)
    rc, out, err = cli("sip", "domain", "add", "sip.test", "--next-hop", "edge.sip.test")
    check(rc == 1 and "field: ca_id" in err, "TLS without --ca is refused with the fix")
    rc, out, err = cli("sip", "domain", "add", "sip.test", "--next-hop", "edge.sip.test",
                       "--cert", "sipgw", "--ca", "edge-ca")
    check(rc == 0 and "edge.sip.test:5061" in out and not err, "domain add (TLS, 5061)")
    check(cli("sip", "domain", "add", "x.test", "--next-hop", "e.test", "--cert", "nope")[0] == 3,
          "an unknown certificate name exits 3")
    check(cli("sip", "domain", "edit", "missing.test", "--port", "5080")[0] == 3,
          "editing an unknown domain exits 3")
    closed = free_port()
    rc, out, _ = cli("sip", "domain", "add", "tcp.test", "--next-hop", "127.0.0.1", "--port",
                     str(closed), "--transport", "tcp", "--xmpp-domain", "chat.tcp.test",
                     "--trusted", "192.0.2.7,2001:db8::/32")
    check(rc == 0, "domain add with every option")
    rc, out, _ = cli("sip", "domain", "edit", "tcp.test", "--xmpp-domain", "none")
    check(rc == 0 and "xmpp_domain" in out, "domain edit --xmpp-domain none")
    rc, out, _ = cli("sip", "domain", "list", "--json")
    try:
        doms = json.loads(out)
    except ValueError:
        doms = []
    check(rc == 0 and [d["domain"] for d in doms] == ["sip.test", "tcp.test"] and
          doms[1]["maps_to"] == "tcp.test" and doms[1]["port"] == closed,
          "domain list --json round trip")
    rc, out, _ = cli("sip", "show")
    check(rc == 0 and "Settings:" in out and "sip.test -> XMPP sip.test" in out and
          "edge.sip.test:5061 tls" in out and
          "requests over TCP from: the next hop, 192.0.2.7, 2001:db8::/32" in out, "show (text)")
    rc, _, err = cli("sip", "domain", "edit", "tcp.test", "--trusted", "10.0.0.1/8")
    check(rc == 1 and "10.0.0.1/8" in err and "first address" in err,
          "--trusted with a host address as a prefix: refused, with the fix (%r)" % err)
    rc, out, _ = cli("sip", "show", "--json")
    try:
        shown = json.loads(out)
    except ValueError:
        shown = {}
    check(rc == 0 and shown.get("settings", {}).get("fqdn") == "sipgw.test" and
          len(shown.get("domains", [])) == 2, "show --json: settings and domains")
    check(cli("sip", "validate", "Not A Domain")[0] == 2, "validate refuses a bad name (exit 2)")
    check(cli("sip", "validate", "unknown.test")[0] == 3, "validate an unknown domain exits 3")
    rc, out, err = cli("sip", "validate", "tcp.test", "--json")
    try:
        v = json.loads(out)
    except ValueError:
        v = {}
    steps = v.get("steps", [])
    check(rc == 1 and v.get("ok") is False and v.get("done") is True and
          [s.get("id") for s in steps][:2] == ["dns", "tcp"] and
          steps[1].get("state") == "fail" and steps[1].get("fix"),
          "validate --json toward a closed port: exit 1, the TCP step fails with its fix")
    rc, out, err = cli("sip", "validate", "tcp.test")
    check(rc == 1 and "[fail]" in out and "fix:" in out, "validate (text): the fix is printed")
    check(cli("sip", "domain", "delete", "tcp.test")[0] == 0 and
          cli("sip", "domain", "delete", "tcp.test")[0] == 3, "domain delete; again exits 3")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fedgw", required=True)
    args = ap.parse_args()
    tmp, data, port, log, env = workspace("fedgw-sip-api-")
    guarded("the CLI checks", lambda: cli_checks(args.fedgw, os.path.join(tmp, "cli-data")))
    # Before the first start: XMPP federation off, the gateway's DNS a closed port, SIP
    # listeners on loopback only (a free port for TCP, TLS off).
    subprocess.run([args.fedgw, "--data-dir", data, "xmpp", "set", "enabled=false",
                    "bind=127.0.0.1", "port=%d" % free_port(),
                    "dns_servers=127.0.0.1@%d" % free_port(), "dns_transparent_zones=test"],
                   capture_output=True, text=True, env=env, timeout=30)
    r = subprocess.run([args.fedgw, "--data-dir", data, "sip", "set", "bind=127.0.0.1",
                        "tcp_port=%d" % free_port(), "tls_port=0"],
                       capture_output=True, text=True, env=env, timeout=30)
    check(r.returncode == 0, "fedgw sip set on a new store")
    return serve(args.fedgw, tmp, data, port, log, env, lambda: run(port, args.fedgw, data))


if __name__ == "__main__":
    sys.exit(main())
