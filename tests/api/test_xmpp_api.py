#!/usr/bin/python3
"""End-to-end test of the console's XMPP API: starts `fedgw serve` on 127.0.0.1 and checks
that every XMPP endpoint refuses unauthenticated and CSRF-less requests, that validation
errors name the field, the round trips of settings, domains, allow list and policy, that
HTML in descriptions comes back as JSON text, that the dialback secret appears in no answer
but the regenerate one (nor in the audit trail or the log), validate connection, and the
`fedgw xmpp` CLI working while the daemon runs. No test process uses the machine's
resolver: the gateway's DNS server is a closed port on loopback."""
import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fgclient import (Client, check, error_code, field_of, free_port, serve,  # noqa: E402
                      setup_behind_auth, guarded, workspace)

HTML = '<img src=x onerror="alert(1)"><script>alert(2)</script> & partner'
ZERO_ID = "0" * 32

# Every XMPP operation with a sample path (the path parameters filled in).
OPS = [
    ("GET", "/api/v1/xmpp/settings"),
    ("PUT", "/api/v1/xmpp/settings"),
    ("POST", "/api/v1/xmpp/settings/dialback-secret"),
    ("GET", "/api/v1/xmpp/domains"),
    ("POST", "/api/v1/xmpp/domains"),
    ("PUT", "/api/v1/xmpp/domains/gw.test"),
    ("DELETE", "/api/v1/xmpp/domains/gw.test"),
    ("GET", "/api/v1/xmpp/allow"),
    ("POST", "/api/v1/xmpp/allow"),
    ("PUT", "/api/v1/xmpp/allow/peer.test"),
    ("DELETE", "/api/v1/xmpp/allow/peer.test"),
    ("GET", "/api/v1/xmpp/policy"),
    ("PUT", "/api/v1/xmpp/policy"),
    ("POST", "/api/v1/xmpp/policy/rules"),
    ("PUT", "/api/v1/xmpp/policy/rules/" + ZERO_ID),
    ("DELETE", "/api/v1/xmpp/policy/rules/" + ZERO_ID),
    ("GET", "/api/v1/xmpp/peers"),
    ("POST", "/api/v1/xmpp/validate"),
    ("GET", "/api/v1/xmpp/validate/" + ZERO_ID),
]


class Recorder(Client):
    """A client that keeps every answer body, to look for the secret afterwards."""

    def __init__(self, port):
        super().__init__(port)
        self.bodies = []

    def request(self, *a, **kw):
        st, resp, payload = super().request(*a, **kw)
        self.bodies.append(payload or b"")
        return st, resp, payload


def run(port, fedgw, data):
    c = Recorder(port)
    if not setup_behind_auth(c, OPS):
        return
    st, _, doc = c.json("GET", "/api/v1/xmpp/domains")
    check(st == 200 and doc["domains"] == [], "refused requests added no domain")

    # -- settings -------------------------------------------------------------------------
    st, _, doc = c.json("GET", "/api/v1/xmpp/settings")
    check(st == 200 and doc["bind"] == ["127.0.0.1"] and doc["tls_mode"] == "required" and
          "dialback_secret" not in doc and isinstance(doc.get("dialback_secret_set"), bool),
          "GET settings: defaults, no secret")
    # The gateway asks only a closed port on loopback: nothing reaches the system resolver.
    dns_port = free_port()
    st, _, doc = c.json("PUT", "/api/v1/xmpp/settings",
                        {"dns_servers": ["127.0.0.1@%d" % dns_port],
                         "dns_transparent_zones": "test", "connect_timeout_s": 2,
                         "tls_mode": "optional"})
    check(st == 200 and len(doc["changed"]) == 4 and "tls_mode" in doc["message"] and
          doc["settings"]["tls_mode"] == "optional",
          "PUT settings: saved, the answer says what changed")
    for body, field in (({"port": 0}, "port"), ({"port": "http"}, "port"),
                        ({"tls_mode": "sometimes"}, "tls_mode"),
                        ({"max_stanza_bytes": 100}, "max_stanza_bytes"),
                        ({"bind": ["example.com"]}, "bind"),
                        ({"dns_servers": "127.0.0.1@70000"}, "dns_servers"),
                        ({"enabled": "perhaps"}, "enabled"),
                        ({"colour": "red"}, "colour"),
                        ({"dialback_secret": "00" * 32}, "dialback_secret")):
        st, _, doc = c.json("PUT", "/api/v1/xmpp/settings", body)
        check(st == 422 and field_of(doc) == field and doc["error"]["fix"],
              "PUT settings %s -> 422 naming %s (got %d %s)" % (body, field, st, field_of(doc)))
    st, _, doc = c.json("PUT", "/api/v1/xmpp/settings", raw=b'{"port": ')
    check(st == 400 and error_code(doc) == "bad_json", "PUT settings bad JSON -> 400")

    # -- the dialback secret: once, in the regenerate answer only ---------------------------
    st, _, doc = c.json("POST", "/api/v1/xmpp/settings/dialback-secret", {})
    secret = (doc or {}).get("secret", "")
    check(st == 200 and re.fullmatch(r"[0-9a-f]{64}", secret or ""),
          "regenerate returns a 64-hex secret once")
    first_seen = len(c.bodies)
    st, _, doc = c.json("GET", "/api/v1/xmpp/settings")
    check(doc["dialback_secret_set"] is True, "settings say the secret is set")

    # -- certificates for the domains -----------------------------------------------------
    st, _, doc = c.json("POST", "/api/v1/certificates/selfsigned",
                        {"name": "gw", "common_name": "gw.test", "dns_names": ["gw.test"]})
    cert_gw = (doc or {}).get("id", "")
    check(st == 201 and cert_gw, "self-signed certificate for gw.test")
    st, _, doc = c.json("POST", "/api/v1/certificates/selfsigned",
                        {"name": "other", "common_name": "other.test"})
    cert_other = (doc or {}).get("id", "")

    # -- domains --------------------------------------------------------------------------
    for body, field in (({"domain": "GW.test"}, "domain"), ({"domain": "gw.test."}, "domain"),
                        ({"domain": "a b"}, "domain"), ({}, "domain"),
                        ({"domain": "gw.test", "cert_id": ZERO_ID}, "cert_id"),
                        ({"domain": 5}, "domain")):
        st, _, doc = c.json("POST", "/api/v1/xmpp/domains", body)
        check(st == 422 and field_of(doc) == field,
              "POST domains %s -> 422 naming %s (got %d)" % (body, field, st))
    st, _, doc = c.json("POST", "/api/v1/xmpp/domains", {"domain": "gw.test", "cert_id": cert_gw})
    rec = (doc or {}).get("domain", {}).get("records", [{}])[0].get("text", "")
    check(st == 201 and re.fullmatch(r"_xmpp-server\._tcp\.gw\.test\. SRV 0 5 \d+ \S+\.", rec),
          "POST domains: added with the SRV record to publish (%s)" % rec)
    st, _, doc = c.json("POST", "/api/v1/xmpp/domains", {"domain": "gw.test"})
    check(st == 409, "POST the same domain again -> 409")
    st, _, doc = c.json("PUT", "/api/v1/xmpp/domains/gw.test", {"cert_id": cert_other})
    check(st == 200 and doc["domain"]["cert_covers"] is False and doc["warnings"],
          "PUT a certificate that does not name the domain: saved with a warning")
    st, _, doc = c.json("PUT", "/api/v1/xmpp/domains/gw.test", {"cert_id": ZERO_ID})
    check(st == 422 and field_of(doc) == "cert_id", "PUT an unknown certificate -> 422 cert_id")
    st, _, doc = c.json("PUT", "/api/v1/xmpp/domains/nope.test", {"cert_id": cert_gw})
    check(st == 404, "PUT an unknown domain -> 404")
    st, _, doc = c.json("GET", "/api/v1/xmpp/domains")
    check(st == 200 and [d["domain"] for d in doc["domains"]] == ["gw.test"] and
          doc["domains"][0]["cert_name"] == "other", "GET domains round trip")
    st, _, doc = c.json("POST", "/api/v1/xmpp/domains", {"domain": "gone.test"})
    st, _, doc = c.json("DELETE", "/api/v1/xmpp/domains/gone.test")
    check(st == 200 and "gone.test" in doc["message"], "DELETE a domain")
    st, _, doc = c.json("DELETE", "/api/v1/xmpp/domains/gone.test")
    check(st == 404, "DELETE it again -> 404")

    # -- allow list -----------------------------------------------------------------------
    for body, field in (({"domain": "peer.test", "port": 70000}, "port"),
                        ({"domain": "peer.test", "auth": "password"}, "auth"),
                        ({"domain": "peer.test", "tls": "sometimes"}, "tls"),
                        ({"domain": "peer.test", "server": "a b"}, "server"),
                        ({"domain": "peer.test", "auth": "sasl_external", "tls": "off"}, "tls"),
                        ({"domain": "peer.test", "cert_id": ZERO_ID}, "cert_id"),
                        ({"domain": "peer.test", "description": "a\nb"}, "description"),
                        ({"domain": "-peer.test"}, "domain")):
        st, _, doc = c.json("POST", "/api/v1/xmpp/allow", body)
        check(st == 422 and field_of(doc) == field,
              "POST allow %s -> 422 naming %s (got %d %s)" % (body, field, st, field_of(doc)))
    st, resp, raw = c.request("POST", "/api/v1/xmpp/allow",
                              {"domain": "peer.test", "server": "xmpp.peer.test", "port": 5299,
                               "auth": "dialback", "tls": "optional", "description": HTML})
    check(st == 201 and resp.getheader("Content-Type") == "application/json" and
          resp.getheader("X-Content-Type-Options") == "nosniff",
          "POST allow: added, answered as JSON (nosniff)")
    st, _, doc = c.json("GET", "/api/v1/xmpp/allow")
    entry = (doc or {}).get("allow", [{}])[0]
    check(entry.get("description") == HTML and entry.get("port") == 5299 and
          entry.get("auth") == "dialback" and entry.get("connection", {}).get("state"),
          "GET allow: HTML description returned as the same text, with a connection state")
    st, _, doc = c.json("PUT", "/api/v1/xmpp/allow/peer.test", {"tls": "required"})
    check(st == 200 and doc["entry"]["tls"] == "required" and doc["entry"]["port"] == 5299 and
          doc["changed"] == [{"field": "tls", "from": "optional", "to": "required"}],
          "PUT allow: partial edit, the answer says what changed")
    st, _, doc = c.json("PUT", "/api/v1/xmpp/allow/none.test", {"tls": "required"})
    check(st == 404, "PUT an unknown allow entry -> 404")
    st, _, doc = c.json("POST", "/api/v1/xmpp/allow", {"domain": "drop.test"})
    st, _, doc = c.json("DELETE", "/api/v1/xmpp/allow/drop.test")
    check(st == 200, "DELETE an allow entry")

    # -- policy ---------------------------------------------------------------------------
    st, _, doc = c.json("PUT", "/api/v1/xmpp/policy", {"default": "maybe"})
    check(st == 422 and field_of(doc) == "default", "PUT policy default maybe -> 422 default")
    st, _, doc = c.json("PUT", "/api/v1/xmpp/policy", {"default": "deny"})
    check(st == 200 and any("peer.test" in w for w in doc["warnings"]),
          "default deny warns about the allow-listed peer.test")
    for body, field in (({"pattern": "a b", "verdict": "allow"}, "pattern"),
                        ({"pattern": "*.*.test", "verdict": "allow"}, "pattern"),
                        ({"pattern": "peer.test", "verdict": "maybe"}, "verdict"),
                        ({"pattern": "peer.test", "verdict": "allow", "direction": "up"},
                         "direction"),
                        ({"verdict": "allow"}, "pattern")):
        st, _, doc = c.json("POST", "/api/v1/xmpp/policy/rules", body)
        check(st == 422 and field_of(doc) == field,
              "POST rule %s -> 422 naming %s (got %d %s)" % (body, field, st, field_of(doc)))
    st, _, doc = c.json("POST", "/api/v1/xmpp/policy/rules",
                        {"pattern": "*.peer.test", "verdict": "allow", "description": HTML})
    rule_id = (doc or {}).get("rule", {}).get("id", "")
    check(st == 201 and re.fullmatch(r"[0-9a-f]{32}", rule_id) and not doc["warnings"],
          "POST an allow exception: added, the warning is gone")
    st, _, doc = c.json("POST", "/api/v1/xmpp/policy/rules",
                        {"pattern": "*.peer.test", "verdict": "deny"})
    check(st == 409, "the same pattern and direction again -> 409")
    st, _, doc = c.json("PUT", "/api/v1/xmpp/policy/rules/" + rule_id, {"direction": "incoming"})
    check(st == 200 and doc["rule"]["direction"] == "incoming" and
          any("outgoing" in w for w in doc.get("warnings", [])) is False,
          "PUT a rule: direction changed")
    st, _, doc = c.json("GET", "/api/v1/xmpp/policy")
    check(st == 200 and doc["default"] == "deny" and doc["rules"][0]["description"] == HTML and
          any("peer.test" in w for w in doc["warnings"]),
          "GET policy round trip (outgoing to peer.test now denied: warned)")
    st, _, doc = c.json("PUT", "/api/v1/xmpp/policy/rules/" + ZERO_ID, {"verdict": "deny"})
    check(st == 404, "PUT an unknown rule -> 404")
    st, _, doc = c.json("DELETE", "/api/v1/xmpp/policy/rules/" + rule_id)
    check(st == 200, "DELETE a rule")
    st, _, doc = c.json("DELETE", "/api/v1/xmpp/policy/rules/" + rule_id)
    check(st == 404, "DELETE it again -> 404")

    # -- peers ----------------------------------------------------------------------------
    st, _, doc = c.json("GET", "/api/v1/xmpp/peers")
    check(st == 200 and isinstance(doc.get("peers"), list) and
          [a["domain"] for a in doc.get("allow", [])] == ["peer.test"],
          "GET peers: peers and the allow list with connection states")

    # -- validate connection --------------------------------------------------------------
    st, _, doc = c.json("POST", "/api/v1/xmpp/validate", {"domain": "not a domain"})
    check(st == 422 and field_of(doc) == "domain", "validate a bad name -> 422 domain")
    st, _, doc = c.json("POST", "/api/v1/xmpp/validate", {})
    check(st in (400, 422) and field_of(doc) == "domain", "validate without a domain -> 4xx")
    st, _, doc = c.json("GET", "/api/v1/xmpp/validate/" + ZERO_ID)
    check(st == 404, "an unknown validation -> 404")
    st, _, doc = c.json("POST", "/api/v1/xmpp/validate", {"domain": "nowhere.test"})
    vid = (doc or {}).get("id", "")
    check(st == 202 and vid, "validate nowhere.test -> 202 with an id (got %d)" % st)
    v = {}
    deadline = time.time() + 60
    while vid and time.time() < deadline:
        st, _, v = c.json("GET", "/api/v1/xmpp/validate/" + vid)
        if st != 200 or v.get("done"):
            break
        time.sleep(0.5)
    steps = v.get("steps", []) if isinstance(v, dict) else []
    check(v.get("done") is True and v.get("ok") is False and v.get("domain") == "nowhere.test",
          "the validation of an unknown domain ends and fails")
    dns_fail = [s for s in steps if s.get("id", "").startswith("dns") and s["state"] == "fail"]
    check(bool(dns_fail) and all(s.get("fix") for s in dns_fail) and
          all(set(s) >= {"id", "title", "state", "detail", "fix", "tech"} for s in steps),
          "its DNS step fails with a fix; every step has id/title/state/detail/fix/tech")
    # At most 8 are kept: the first of nine is dropped.
    ids = [vid]
    for i in range(8):
        st, _, doc = c.json("POST", "/api/v1/xmpp/validate", {"domain": "n%d.test" % i})
        ids.append((doc or {}).get("id", ""))
    st, _, _ = c.json("GET", "/api/v1/xmpp/validate/" + ids[0])
    st2, _, _ = c.json("GET", "/api/v1/xmpp/validate/" + ids[-1])
    check(st == 404 and st2 == 200, "nine validations: the oldest is dropped")

    # -- the CLI, while the daemon runs ---------------------------------------------------
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
    r = subprocess.run([fedgw, "xmpp", "domain", "list", "--json", "--data-dir", data],
                       capture_output=True, text=True, env=env, timeout=30)
    check(r.returncode == 0 and '"gw.test"' in r.stdout, "fedgw xmpp domain list while serving")
    r = subprocess.run([fedgw, "xmpp", "allow", "add", "cli.test", "--auth", "sasl",
                        "--data-dir", data], capture_output=True, text=True, env=env, timeout=30)
    st, _, doc = c.json("GET", "/api/v1/xmpp/allow")
    check(r.returncode == 0 and "cli.test" in [a["domain"] for a in doc["allow"]],
          "a CLI change shows in the API at once")
    r = subprocess.run([fedgw, "xmpp", "set", "port=0", "--data-dir", data],
                       capture_output=True, text=True, env=env, timeout=30)
    check(r.returncode == 1 and "field: port" in r.stderr and "fix:" in r.stderr,
          "fedgw xmpp set port=0: exit 1 naming the field and the fix")
    r = subprocess.run([fedgw, "xmpp", "show", "--json", "--data-dir", data],
                       capture_output=True, text=True, env=env, timeout=30)
    check(r.returncode == 0 and secret not in r.stdout, "fedgw xmpp show: no secret")

    # -- audit, and the secret nowhere else -------------------------------------------------
    st, _, doc = c.json("GET", "/api/v1/audit?limit=500")
    text = str(doc)
    check(st == 200 and all(a in text for a in (
        "xmpp.settings", "xmpp.secret.regenerate", "xmpp.domain.add", "xmpp.allow.add",
        "xmpp.policy.default", "xmpp.policy.rule.add")) and secret not in text,
        "the audit trail records the XMPP changes, without the secret")
    leaked = [i for i, b in enumerate(c.bodies) if secret and secret.encode() in b and
              i != first_seen - 1]
    check(secret and not leaked, "the secret is in no answer but the regenerate one")
    return secret


def cli_checks(fedgw, data):
    """`fedgw xmpp` on its own store: the commands the interop tests use, exit codes, the
    secret printed once, JSON shapes."""
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")

    def cli(*a):
        r = subprocess.run([fedgw, "--data-dir", data, *a], capture_output=True, text=True,
                           env=env, timeout=60)
        return r.returncode, r.stdout, r.stderr

    rc, out, _ = cli("xmpp", "--help")
    check(rc == 0 and all(w in out for w in ("show", "set KEY=VALUE", "secret regenerate",
                                             "domain add", "allow add", "policy default",
                                             "policy add", "peers", "validate",
                                             "max_stanza_bytes", "Exit codes")),
          "fedgw xmpp --help explains every command and setting")
    check(cli("xmpp")[0] == 2 and cli("xmpp", "frobnicate")[0] == 2 and
          cli("xmpp", "set")[0] == 2 and cli("xmpp", "set", "port")[0] == 2 and
          cli("xmpp", "allow", "add", "x.test", "--speed", "9")[0] == 2,
          "usage errors exit 2")
    rc, out, err = cli("xmpp", "set", "tls_mode=sometimes")
    check(rc == 1 and "field: tls_mode" in err and "fix:" in err, "a refused setting exits 1")
    rc, out, err = cli("xmpp", "set", "dns_servers=127.0.0.1@%d" % free_port(),
                       "dns_transparent_zones=test", "tls_mode=off", "sasl_external_in=false",
                       "sasl_external_out=false", "enabled=false")
    check(rc == 0 and "tls_mode: required -> off" in out, "fedgw xmpp set KEY=VALUE...")
    rc, out, _ = cli("pki", "selfsign", "gw", "CN:gw.test", "subAltName:gw.test")
    rc, out, err = cli("xmpp", "domain", "add", "gw.test", "--cert", "gw")
    check(rc == 0 and "_xmpp-server._tcp.gw.test. SRV 0 5 5269" in out,
          "domain add prints the records to publish")
    check(cli("xmpp", "domain", "add", "gw2.test", "--cert", "nope")[0] == 3,
          "an unknown certificate name exits 3")
    check(cli("xmpp", "domain", "edit", "missing.test", "--cert", "none")[0] == 3,
          "editing an unknown domain exits 3")
    rc, out, _ = cli("xmpp", "domain", "edit", "gw.test", "--cert", "none")
    check(rc == 0, "domain edit --cert none")
    rc, out, _ = cli("xmpp", "allow", "add", "prosody.test", "--auth", "sasl", "--tls",
                     "required", "--server", "127.0.0.9", "--port", "5299", "--description",
                     HTML)
    check(rc == 0, "allow add with every option")
    rc, out, _ = cli("xmpp", "allow", "edit", "prosody.test", "--auth", "dialback")
    check(rc == 0 and "Saved prosody.test" in out, "allow edit")
    rc, out, _ = cli("xmpp", "allow", "list", "--json")
    try:
        entries = json.loads(out)
    except ValueError:
        entries = []
    check(rc == 0 and entries and entries[0]["auth"] == "dialback" and
          entries[0]["port"] == 5299 and entries[0]["description"] == HTML,
          "allow list --json round trip")
    check(cli("xmpp", "policy", "default", "deny")[0] == 0, "policy default deny")
    rc, out, _ = cli("xmpp", "policy", "add", "prosody.test", "allow", "--direction", "both")
    m = re.search(r"^id ([0-9a-f]{32})$", out, re.M)
    check(rc == 0 and m, "policy add prints the new id")
    check(cli("xmpp", "policy", "add", "prosody.test", "deny")[0] == 1,
          "the same pattern again is refused (exit 1)")
    check(cli("xmpp", "policy", "add", "*.test", "deny", "--direction", "incoming")[0] == 0,
          "policy add a wildcard, incoming only")
    check(cli("xmpp", "policy", "delete", "prosody.test")[0] == 0, "policy delete PATTERN")
    check(m and cli("xmpp", "policy", "delete", m.group(1))[0] == 3,
          "policy delete of a deleted id exits 3")
    rc, out, _ = cli("xmpp", "policy", "list", "--json")
    check(rc == 0 and '"*.test"' in out and '"deny"' in out, "policy list --json")
    rc, out, err = cli("xmpp", "secret", "regenerate")
    secret = out.strip()
    check(rc == 0 and re.fullmatch(r"[0-9a-f]{64}", secret), "secret regenerate prints it once")
    rc, out, _ = cli("xmpp", "show", "--json")
    try:
        shown = json.loads(out)
    except ValueError:
        shown = {}
    check(rc == 0 and secret not in out and shown.get("settings", {}).get("dialback_secret_set")
          is True and shown["settings"]["tls_mode"] == "off" and
          [d["domain"] for d in shown.get("domains", [])] == ["gw.test"] and
          shown.get("policy", {}).get("default") == "deny",
          "show --json: settings (no secret), domains, allow list, policy")
    rc, out, _ = cli("xmpp", "show")
    check(rc == 0 and secret not in out and "Allow list:" in out, "show (text)")
    rc, out, _ = cli("xmpp", "peers", "--json")
    check(rc == 0 and json.loads(out).get("peers") == [], "peers --json with no daemon")
    rc, out, err = cli("xmpp", "validate", "Not A Domain")
    check(rc == 2, "validate refuses a bad name (exit 2)")
    rc, out, err = cli("xmpp", "validate", "nowhere.test", "--json")
    try:
        v = json.loads(out)
    except ValueError:
        v = {}
    check(rc == 1 and v.get("ok") is False and v.get("done") is True and
          any(s.get("state") == "fail" and s.get("fix") for s in v.get("steps", [])),
          "validate --json of an unknown domain: exit 1, a failed step with its fix")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fedgw", required=True)
    args = ap.parse_args()
    tmp, data, port, log, env = workspace("fedgw-xmpp-api-")
    guarded("the CLI checks", lambda: cli_checks(args.fedgw, os.path.join(tmp, "cli-data")))
    # Before the first start, through the CLI on the new store: no s2s listener (federation
    # off; the configuration API works the same) and loopback on a free port if turned on.
    r = subprocess.run([args.fedgw, "xmpp", "set", "enabled=false", "bind=127.0.0.1",
                        "port=%d" % free_port(), "--data-dir", data],
                       capture_output=True, text=True, env=env, timeout=30)
    check(r.returncode == 0 and "port" in r.stdout, "fedgw xmpp set on a new store")
    secret = []

    def body():
        secret.append(run(port, args.fedgw, data))

    def after(out):
        if secret and secret[0]:
            check(secret[0] not in out, "the secret is not in fedgw's log")

    return serve(args.fedgw, tmp, data, port, log, env, body, after)


if __name__ == "__main__":
    sys.exit(main())
