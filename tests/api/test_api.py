#!/usr/bin/python3
"""End-to-end test of the fedgw console API: starts `fedgw serve` on 127.0.0.1 and checks
setup, login, sessions, CSRF, hostile inputs, throttling and logout over HTTPS."""
import argparse
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fgclient import Client, check, error_code, serve, workspace, PASSWORD  # noqa: E402

CSP_START = "default-src 'self'"


def api_operations(yaml_path):
    """Tiny line parser: the paths and their methods from docs/api.yaml."""
    ops = []
    path = None
    in_paths = False
    with open(yaml_path) as f:
        for line in f:
            if line.startswith("paths:"):
                in_paths = True
                continue
            if in_paths and re.match(r"^\S", line):
                break
            m = re.match(r"^  (/api/\S+):\s*$", line)
            if m:
                path = m.group(1)
                continue
            m = re.match(r"^    (get|post|put|patch|delete):\s*$", line)
            if m and path:
                ops.append((m.group(1).upper(), path))
    return ops


def substitute(path):
    return path.replace("{name}", "nobody").replace("{id}", "0" * 32)


def has_security_headers(resp, api=True):
    ok = (resp.getheader("Content-Security-Policy", "").startswith(CSP_START)
          and "frame-ancestors 'none'" in resp.getheader("Content-Security-Policy", "")
          and resp.getheader("X-Frame-Options") == "DENY"
          and resp.getheader("X-Content-Type-Options") == "nosniff"
          and resp.getheader("Referrer-Policy") == "no-referrer"
          and resp.getheader("Strict-Transport-Security", "").startswith("max-age="))
    if api:
        ok = ok and resp.getheader("Cache-Control") == "no-store"
    return ok


PUBLIC = {("GET", "/api/v1/setup"), ("POST", "/api/v1/setup"), ("POST", "/api/v1/login")}


def run(port, yaml_path):
    ops = api_operations(yaml_path)
    check(len(ops) >= 20, "api.yaml lists the endpoints (%d operations)" % len(ops))
    c = Client(port)

    # -- first run -------------------------------------------------------------------
    st, resp, doc = c.json("GET", "/api/v1/setup")
    check(st == 200 and doc == {"needed": True}, "GET setup: needed on a new store")
    check(has_security_headers(resp), "security headers on API answers")

    # -- every protected endpoint refuses an unauthenticated request ------------------
    for method, path in ops:
        if (method, path) in PUBLIC:
            continue
        st, resp, doc = c.json(method, substitute(path), body={} if method != "GET" else None)
        check(st == 401 and error_code(doc) == "unauthenticated",
              "unauthenticated %s %s -> 401 (got %d)" % (method, path, st))

    # -- hostile setup requests --------------------------------------------------------
    good = {"name": "admin", "password": PASSWORD}
    st, _, doc = c.json("POST", "/api/v1/setup", good)
    check(st == 403 and error_code(doc) == "csrf", "setup without X-Requested-With -> 403")
    xrw = {"X-Requested-With": "fedgw"}
    st, _, doc = c.json("POST", "/api/v1/setup", raw=b'{"name":"admin",',
                        headers=xrw)
    check(st == 400 and error_code(doc) == "bad_json" and "line" in doc["error"]["message"],
          "bad JSON -> 400 bad_json with line/column")
    st, _, doc = c.json("POST", "/api/v1/setup", raw=json.dumps(good).encode(),
                        headers={"X-Requested-With": "fedgw", "Content-Type": "text/plain"})
    check(st == 415, "setup with text/plain -> 415")
    evil = "<script>alert(1)</script>"
    st, resp, body = c.request("POST", "/api/v1/setup", {"name": evil, "password": PASSWORD},
                               headers=xrw)
    check(st == 422 and b"<script" not in body and
          resp.getheader("Content-Type") == "application/json",
          "HTML in the admin name refused and not reflected")
    st, _, doc = c.json("POST", "/api/v1/setup", {"name": "admin", "password": "short"},
                        headers=xrw)
    check(st == 422 and doc["error"]["field"] == "password", "short password -> 422 password")
    st, _, doc = c.json("POST", "/api/v1/setup", raw=b'{"name":"' + b"a" * 70000 + b'"}',
                        headers=xrw)
    check(st == 413 and error_code(doc) == "too_large", "70 KB setup body -> 413")
    st, _, doc = c.json("GET", "/api/v1/setup")
    check(doc == {"needed": True}, "hostile setup requests created nothing")

    # -- setup ---------------------------------------------------------------------------
    st, resp, doc = c.json("POST", "/api/v1/setup", good, headers=xrw)
    check(st == 200 and doc and doc.get("admin") == "admin" and doc.get("csrf"),
          "setup creates the first admin")
    setcookie = resp.getheader("Set-Cookie") or ""
    check(all(a in setcookie for a in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/")),
          "session cookie is HttpOnly; Secure; SameSite=Strict; Path=/")
    c.take_session(resp, doc)
    st, _, doc = c.json("POST", "/api/v1/setup", {"name": "second", "password": PASSWORD},
                        headers=xrw, cookie=False)
    check(st == 409, "setup again -> 409")
    st, _, doc = c.json("GET", "/api/v1/setup")
    check(doc == {"needed": False}, "setup no longer needed")
    st, _, doc = c.json("GET", "/api/v1/session")
    check(st == 200 and doc["admin"] == "admin" and doc["csrf"] == c.csrf and
          doc["idle_timeout_s"] > 0, "GET session")

    # -- every state-changing endpoint refuses a missing or wrong CSRF token -------------
    _, _, before = c.json("GET", "/api/v1/admins")
    for method, path in ops:
        if method == "GET" or (method, path) in PUBLIC:
            continue
        for label, hdr in (("missing", {"X-CSRF-Token": None}),
                           ("wrong", {"X-CSRF-Token": "0" * 64})):
            st, _, doc = c.json(method, substitute(path), {"name": "x"}, headers=hdr,
                                csrf=False)
            check(st == 403 and error_code(doc) == "csrf",
                  "%s CSRF token: %s %s -> 403 (got %d)" % (label, method, path, st))
    st, _, doc = c.json("POST", "/api/v1/admins", {"name": "bob", "password": PASSWORD},
                        headers={"Origin": "https://evil.example"})
    check(st == 403 and error_code(doc) == "origin", "foreign Origin -> 403")
    _, _, after = c.json("GET", "/api/v1/admins")
    check(before == after and c.json("GET", "/api/v1/session")[0] == 200,
          "refused requests changed nothing (still logged in, same admins)")

    # -- routing -------------------------------------------------------------------------
    st, _, doc = c.json("GET", "/api/v1/nonexistent")
    check(st == 404 and error_code(doc) == "not_found", "unknown API path -> 404 JSON")
    st, resp, doc = c.json("PATCH", "/api/v1/admins", {})
    check(st == 405 and "GET" in (resp.getheader("Allow") or ""), "wrong method -> 405 Allow")

    # -- hostile bodies --------------------------------------------------------------------
    st, _, doc = c.json("POST", "/api/v1/admins",
                        raw=b'{"name":"x","password":"' + b"p" * 70000 + b'"}')
    check(st == 413, "70 KB JSON body -> 413")
    st, _, doc = c.json("POST", "/api/v1/certificates/import",
                        raw=b'{"name":"x","certificate_pem":"' + b"A" * (1100 * 1024) + b'"}')
    check(st == 413, "1.1 MB certificate upload -> 413")
    st, _, doc = c.json("POST", "/api/v1/admins", raw=b"{\"name\": nope}")
    check(st == 400 and error_code(doc) == "bad_json", "bad JSON (authenticated) -> 400")
    _, _, certs_before = c.json("GET", "/api/v1/certificates")
    st, _, doc = c.json("POST", "/api/v1/certificates/import",
                        {"name": "bad", "certificate_pem": "-----BEGIN CERTIFICATE-----\n"
                         "bm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"})
    check(st == 422, "bad PEM -> 422 (got %d)" % st)
    _, _, certs_after = c.json("GET", "/api/v1/certificates")
    check(certs_before == certs_after, "bad PEM stored nothing")
    st, resp, body = c.request("POST", "/api/v1/admins",
                               {"name": "<img src=x onerror=alert(1)>", "password": PASSWORD})
    check(st == 422 and b"<img" not in body, "HTML admin name refused, not reflected")

    # -- certificates ---------------------------------------------------------------------
    req = {"name": "xmpp", "common_name": "gw.example", "dns_names": ["gw.example"],
           "key_type": "ec-p256", "xmpp_srv_names": ["example.com"]}
    st, _, doc = c.json("POST", "/api/v1/certificates/csr", req)
    check(st == 201 and "BEGIN CERTIFICATE REQUEST" in doc.get("pem", ""), "create a CSR")
    csr_id = doc.get("id") if doc else None
    st, _, doc = c.json("POST", "/api/v1/certificates/selfsigned", dict(req, name="self", days=30))
    check(st == 201 and doc.get("id"), "create a self-signed certificate")
    ss_id = doc.get("id") if doc else None
    st, _, doc = c.json("POST", "/api/v1/certificates/selfsigned", dict(req, key_type="dsa"))
    check(st == 422 and doc["error"]["field"] == "key_type", "unknown key type -> 422")
    st, _, doc = c.json("POST", "/api/v1/certificates/csr", dict(req, dns_names="x"))
    check(st == 400 and doc["error"]["field"] == "dns_names", "dns_names not a list -> 400")
    st, _, doc = c.json("GET", "/api/v1/certificates")
    ids = [x.get("id") for x in doc.get("certificates", [])] if st == 200 else []
    check(csr_id in ids and ss_id in ids, "both listed")
    st, _, doc = c.json("GET", "/api/v1/certificates/%s" % ss_id)
    check(st == 200, "show a certificate")
    st, resp, body = c.request("GET", "/api/v1/certificates/%s/pem" % ss_id)
    check(st == 200 and resp.getheader("Content-Type") == "application/x-pem-file" and
          b"BEGIN CERTIFICATE" in body and b"PRIVATE KEY" not in body,
          "PEM download without the key")
    st, _, doc = c.json("GET", "/api/v1/certificates/" + "f" * 32)
    check(st == 404, "unknown certificate -> 404")
    st, _, doc = c.json("GET", "/api/v1/certificates/..%2f..%2fetc")
    check(st == 404, "odd certificate id -> 404")
    st, _, doc = c.json("PUT", "/api/v1/console/certificate", {"id": ss_id})
    check(st == 200, "select the console certificate")
    st, _, doc = c.json("DELETE", "/api/v1/certificates/%s" % ss_id)
    check(st == 409 and error_code(doc) == "in_use", "deleting the console's certificate -> 409")
    st, _, doc = c.json("PUT", "/api/v1/console/certificate", {"id": csr_id})
    check(st in (404, 422), "a CSR cannot be the console certificate (got %d)" % st)
    st, _, doc = c.json("DELETE", "/api/v1/certificates/%s" % csr_id)
    check(st == 204, "delete the CSR")
    st, _, doc = c.json("POST", "/api/v1/certificates/ca", {"name": "ca", "pem": "junk"})
    check(st == 422, "bad CA bundle -> 422")
    st, _, doc = c.json("GET", "/api/v1/audit?q=cert")
    check(st == 200 and doc["total"] >= 3, "certificate changes audited")

    # -- static console and path traversal ----------------------------------------------------
    st, resp, body = c.request("GET", "/")
    check(st == 200 and has_security_headers(resp, api=False), "GET / serves the console")
    etag = resp.getheader("ETag")
    if etag:
        st, _, _ = c.request("GET", "/", headers={"If-None-Match": etag})
        check(st == 304, "If-None-Match -> 304")
    for p in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
              "/static/../../../etc/passwd", "//etc/passwd", "/index.html/../../etc/passwd"):
        st, resp, body = c.request("GET", p)
        check(st in (400, 404) and b"root:" not in body and has_security_headers(resp, False),
              "path traversal %s -> 404, nothing leaked" % p)

    # -- status, logs, audit -------------------------------------------------------------------
    st, _, doc = c.json("GET", "/api/v1/status")
    keys = ("version", "started", "uptime_s", "data_dir", "hostname", "generation", "store",
            "listeners", "objects", "faults", "recent", "counters")
    check(st == 200 and all(k in doc for k in keys), "GET status has every field")
    st, _, doc = c.json("GET", "/api/v1/logs?level=info&limit=5")
    check(st == 200 and "total" in doc and len(doc["entries"]) <= 5, "GET logs")
    st, _, doc = c.json("GET", "/api/v1/logs?limit=abc")
    check(st == 400 and doc["error"]["field"] == "limit", "bad limit -> 400")
    st, _, doc = c.json("GET", "/api/v1/logs?level=loud")
    check(st == 400, "bad level -> 400")
    st, resp, body = c.request("GET", "/api/v1/logs/download")
    check(st == 200 and resp.getheader("Content-Type", "").startswith("text/plain") and
          "fedgw-log.txt" in (resp.getheader("Content-Disposition") or ""), "log download")
    st, _, doc = c.json("DELETE", "/api/v1/logs")
    check(st == 200 and isinstance(doc.get("removed"), int), "DELETE logs")
    st, _, doc = c.json("GET", "/api/v1/audit?q=log.clear")
    check(st == 200 and any(e["action"] == "log.clear" for e in doc["entries"]),
          "log clearing audited")
    time.sleep(0.3)
    st, _, doc = c.json("GET", "/api/v1/logs?q=cleared%20by")
    check(st == 200 and any("cleared by admin" in e["message"] for e in doc["entries"]),
          "log clearing logged")

    # -- admins -----------------------------------------------------------------------------
    st, _, doc = c.json("POST", "/api/v1/admins", {"name": "bob", "password": PASSWORD})
    check(st == 201 and doc["name"] == "bob", "add admin bob -> 201")
    st, _, doc = c.json("POST", "/api/v1/admins", {"name": "bob", "password": PASSWORD})
    check(st == 409, "add bob again -> 409")
    bob = Client(c.port)
    st, resp, doc = bob.json("POST", "/api/v1/login", {"name": "bob", "password": PASSWORD},
                             headers=xrw)
    check(st == 200, "bob logs in")
    bob.take_session(resp, doc)
    st, _, _ = c.json("POST", "/api/v1/admins/bob/password",
                      {"new_password": "another-long-password"})
    check(st == 204, "change bob's password -> 204")
    check(bob.json("GET", "/api/v1/session")[0] == 401, "bob's sessions ended")
    st, _, doc = c.json("POST", "/api/v1/admins/admin/password",
                        {"current_password": "wrong-password!", "new_password": PASSWORD + "2"})
    check(st == 422 and doc["error"]["field"] == "current_password",
          "own password change needs the current password")
    st, _, doc = c.json("DELETE", "/api/v1/admins/admin")
    check(st == 409, "deleting yourself -> 409")
    st, _, doc = c.json("DELETE", "/api/v1/admins/bob")
    check(st == 204, "delete bob -> 204")
    st, _, doc = c.json("DELETE", "/api/v1/admins/bob")
    check(st == 404, "delete bob again -> 404")
    st, _, doc = c.json("GET", "/api/v1/audit")
    actions = [e["action"] for e in doc["entries"]]
    check(all(a in actions for a in ("admin.setup", "login", "admin.add", "admin.password",
                                     "admin.delete")), "admin changes audited")

    # -- throttling ---------------------------------------------------------------------------
    t = Client(c.port)
    codes = []
    for _ in range(4):
        st, resp, doc = t.json("POST", "/api/v1/login", {"name": "admin", "password": "nope-nope-nope"},
                               headers=xrw)
        codes.append(st)
    check(codes[:3] == [401, 401, 401] and codes[3] == 429 and
          resp.getheader("Retry-After") == "1", "429 with Retry-After after 3 failures (%s)" % codes)
    st, _, doc = c.json("GET", "/api/v1/audit?q=login.failed")
    check(any(e["action"] == "login.failed" for e in doc["entries"]), "failed logins audited")
    time.sleep(1.2)
    st, resp, doc = t.json("POST", "/api/v1/login", {"name": "admin", "password": PASSWORD},
                           headers=xrw)
    check(st == 200, "login works again after the delay")

    # -- logout ------------------------------------------------------------------------------
    st, resp, _ = c.request("POST", "/api/v1/logout")
    check(st == 204 and "Max-Age=0" in (resp.getheader("Set-Cookie") or ""), "logout -> 204")
    st, _, doc = c.json("GET", "/api/v1/status")
    check(st == 401, "after logout the API refuses")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fedgw", required=True)
    ap.add_argument("--api-yaml", required=True)
    args = ap.parse_args()
    tmp, data, port, log, env = workspace("fedgw-api-")
    return serve(args.fedgw, tmp, data, port, log, env, lambda: run(port, args.api_yaml))


if __name__ == "__main__":
    sys.exit(main())
