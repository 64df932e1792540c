#!/usr/bin/python3
"""End-to-end test of the console's backup and restore API: starts `fedgw serve` on
127.0.0.1, downloads a backup, changes the configuration, uploads the backup and checks the
restored state, the refusals (wrong passphrase, damaged file, content type, size caps) and
that the passphrase never reaches the log."""
import argparse
import http.client
import os
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fgclient import Client, check, error_code, serve, workspace, PASSWORD, XRW  # noqa: E402

PASSPHRASE = "p\u00e4ssphrase f\u00fcr backups %41"  # non-ASCII and a literal "%"


def restore(c, body, passphrase, content_type="application/octet-stream", **kw):
    hdr = {"Content-Type": content_type}
    if passphrase is not None:
        hdr["X-Backup-Passphrase"] = urllib.parse.quote(passphrase, safe="")
    return c.json("POST", "/api/v1/restore", raw=body, headers=hdr, **kw)


def declared_only(c, path, length, content_type):
    """Sends only the headers of a request declaring length bytes; the answer's status."""
    conn = http.client.HTTPSConnection("127.0.0.1", c.port, context=c.ctx, timeout=30)
    try:
        conn.putrequest("POST", path, skip_accept_encoding=True)
        for k, v in (("Cookie", "fedgw_session=" + c.cookie), ("X-CSRF-Token", c.csrf),
                     ("Content-Type", content_type), ("X-Backup-Passphrase", "x" * 12),
                     ("Content-Length", str(length))):
            conn.putheader(k, v)
        conn.endheaders()
        return conn.getresponse().status
    except OSError as e:
        return repr(e)
    finally:
        conn.close()


def login(port, name):
    c = Client(port)
    st, resp, doc = c.json("POST", "/api/v1/login", {"name": name, "password": PASSWORD},
                           headers=XRW)
    if st == 200:
        c.take_session(resp, doc)
    return st, c


def rsa_off_the_loop(c):
    """RSA keys are made on the thread pool: the console answers while one is made."""
    result = {}

    def make():
        result["csr"] = c.json("POST", "/api/v1/certificates/csr",
                               {"name": "rsa", "common_name": "rsa.example",
                                "key_type": "rsa-3072"})
        result["done"] = time.monotonic()

    t = threading.Thread(target=make)
    start = time.monotonic()
    t.start()
    time.sleep(0.05)
    answered = []
    while t.is_alive() and time.monotonic() - start < 60:
        st, _, _ = c.json("GET", "/api/v1/session")
        answered.append((st, time.monotonic()))
        time.sleep(0.05)
    t.join()
    st, _, doc = result["csr"]
    check(st == 201 and "BEGIN CERTIFICATE REQUEST" in (doc or {}).get("pem", ""),
          "RSA-3072 CSR made on the thread pool -> 201 with PEM")
    early = [a for a in answered if a[0] == 200 and a[1] < result["done"]]
    if result["done"] - start < 0.3:
        check(True, "RSA key made too fast to see the loop stay free (%.2f s)"
              % (result["done"] - start))
    else:
        check(len(early) > 0, "the console answered %d requests while the RSA key was made "
              "(%.2f s)" % (len(early), result["done"] - start))
    st, _, doc = c.json("GET", "/api/v1/certificates")
    keys = [x.get("key_type") for x in doc.get("certificates", []) if x.get("name") == "rsa"]
    check(keys == ["rsa-3072"], "the CSR's stored key is rsa-3072 (%s)" % keys)
    st, _, doc = c.json("POST", "/api/v1/certificates/selfsigned",
                        {"name": "rsa2", "common_name": "rsa2.example", "key_type": "rsa-2048"})
    check(st == 201 and doc.get("id"), "RSA-2048 self-signed certificate -> 201")
    st, _, doc = c.json("POST", "/api/v1/certificates/csr",
                        {"name": "bad", "common_name": "", "key_type": "rsa-3072"})
    check(st in (400, 422), "bad RSA request refused before any key is made (%d)" % st)


def run(port, log_path):
    c = Client(port)
    st, resp, doc = c.json("POST", "/api/v1/setup", {"name": "admin", "password": PASSWORD},
                           headers=XRW)
    if not check(st == 200, "setup creates the admin"):
        return
    c.take_session(resp, doc)

    # -- backup ---------------------------------------------------------------------------
    st, _, doc = c.json("POST", "/api/v1/backup", {"passphrase": "too short"})
    check(st == 422 and doc["error"]["field"] == "passphrase",
          "backup with a passphrase under 12 characters -> 422")
    st, resp, body = c.request("POST", "/api/v1/backup", {"passphrase": PASSPHRASE})
    disp = resp.getheader("Content-Disposition") or ""
    check(st == 200 and resp.getheader("Content-Type") == "application/octet-stream",
          "backup -> 200 application/octet-stream (got %d)" % st)
    check(re.match(r'attachment; filename="fedgw-[A-Za-z0-9.-]+-\d{4}-\d\d-\d\d\.fgbk"$', disp)
          is not None, "backup is an attachment fedgw-<host>-<date>.fgbk (%s)" % disp)
    check(body[:8] == b"FEDGWBK1", "backup file starts with FEDGWBK1")
    check(b"BEGIN PRIVATE KEY" not in body, "no private key in clear in the backup")
    backup = body

    # -- change the configuration after the backup --------------------------------------
    st, _, _ = c.json("POST", "/api/v1/admins", {"name": "bob", "password": PASSWORD})
    check(st == 201, "admin bob added after the backup")
    st, _, doc = c.json("POST", "/api/v1/certificates/selfsigned",
                        {"name": "after", "common_name": "after.example"})
    check(st == 201, "certificate added after the backup")

    # -- refusals change nothing ----------------------------------------------------------
    st, _, doc = restore(c, backup, PASSPHRASE, content_type="application/json")
    check(st == 415, "restore with Content-Type application/json -> 415")
    st, _, doc = restore(c, backup, None)
    check(st == 400 and doc["error"]["field"] == "passphrase", "restore without passphrase -> 400")
    st, _, doc = restore(c, backup, PASSPHRASE, csrf=False)
    check(st == 403 and error_code(doc) == "csrf", "restore without CSRF token -> 403")
    st, _, doc = restore(c, backup, "not the passphrase")
    check(st == 422 and error_code(doc) == "bad_backup" and
          doc["error"]["message"] == "Wrong passphrase, or the file is damaged.",
          "restore with a wrong passphrase -> 422 bad_backup")
    damaged = bytearray(backup)
    damaged[len(damaged) // 2] ^= 0x01
    st, _, doc = restore(c, bytes(damaged), PASSPHRASE)
    check(st == 422 and error_code(doc) == "bad_backup", "restore of a damaged file -> 422")
    newer = bytearray(backup)
    newer[9] = 2
    st, _, doc = restore(c, bytes(newer), PASSPHRASE)
    check(st == 422 and error_code(doc) == "version", "restore of a newer format -> 422 version")
    # 9 MiB: over the 8 MiB refused up front elsewhere, under this endpoint's 64 MiB cap.
    big = backup + b"\0" * (9 << 20)
    st, _, doc = restore(c, big, PASSPHRASE)
    check(st == 422 and error_code(doc) == "bad_backup",
          "9 MiB upload reaches the check (64 MiB cap for restore only) (got %d)" % st)
    st = declared_only(c, "/api/v1/admins", 9 << 20, "application/json")
    check(st == 413, "9 MiB body declared elsewhere -> 413 (got %s)" % st)
    st = declared_only(c, "/api/v1/restore", (64 << 20) + 1, "application/octet-stream")
    check(st == 413, "64 MiB + 1 declared for restore -> 413 (got %s)" % st)
    st, _, doc = c.json("GET", "/api/v1/admins")
    names = sorted(a["name"] for a in doc["admins"]) if st == 200 else []
    check(names == ["admin", "bob"], "refused restores changed nothing (%s)" % names)

    # -- restore --------------------------------------------------------------------------
    st, resp, doc = restore(c, backup, PASSPHRASE)
    check(st == 200 and isinstance(doc, dict) and doc.get("records", 0) > 0,
          "restore -> 200 {records} (%s)" % doc)
    check("Max-Age=0" in (resp.getheader("Set-Cookie") or ""), "restore clears the cookie")
    st, _, doc = c.json("GET", "/api/v1/session")
    check(st == 401, "the session ended with the restore")
    st, c2 = login(port, "bob")
    check(st == 401, "bob (added after the backup) is gone")
    st, c2 = login(port, "admin")
    check(st == 200, "admin logs in again")
    if st == 200:
        st, _, doc = c2.json("GET", "/api/v1/certificates")
        names = [x.get("name") for x in doc.get("certificates", [])] if st == 200 else []
        check("after" not in names, "certificate added after the backup is gone (%s)" % names)
        st, _, doc = c2.json("GET", "/api/v1/audit")
        actions = [e.get("action") for e in doc.get("entries", doc.get("audit", []))] \
            if st == 200 and isinstance(doc, dict) else []
        check("backup.restore" in actions and "backup.create" not in actions,
              "audit trail: the restored one plus backup.restore")
    if st == 200:
        rsa_off_the_loop(c2)
    with open(log_path, "rb") as f:
        out = f.read()
    check(PASSPHRASE.encode() not in out and
          urllib.parse.quote(PASSPHRASE, safe="").encode() not in out,
          "the passphrase is not in the log")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fedgw", required=True)
    args = ap.parse_args()
    tmp, data, port, log, env = workspace("fedgw-backup-api-")
    log_path = log.name
    return serve(args.fedgw, tmp, data, port, log, env, lambda: run(port, log_path))


if __name__ == "__main__":
    sys.exit(main())
