"""The console API client and daemon runner shared by the end-to-end API tests: an HTTPS
client that keeps the session cookie and CSRF token, the check/FAILURES bookkeeping, and
`fedgw serve` on a free loopback port with its output searched for sanitizer reports."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

PASSWORD = "correct-horse-battery"
XRW = {"X-Requested-With": "fedgw"}
FAILURES = []


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        FAILURES.append(what)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client:
    def __init__(self, port):
        self.port = port
        self.ctx = ssl._create_unverified_context()
        self.cookie = None
        self.csrf = None

    def request(self, method, path, body=None, headers=None, cookie=True, csrf=True,
                raw=None):
        h = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if raw is not None:
            data = raw
            h.setdefault("Content-Type", "application/json")
        if cookie and self.cookie:
            h["Cookie"] = "fedgw_session=" + self.cookie
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        if headers:
            h.update(headers)
        h = {k: v for k, v in h.items() if v is not None}
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                           timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in h.items():
                conn.putheader(k, v)
            if data is not None:
                conn.putheader("Content-Length", str(len(data)))
            conn.endheaders()
            if data is not None:
                try:
                    conn.send(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, resp, payload
        finally:
            conn.close()

    def json(self, method, path, body=None, **kw):
        status, resp, payload = self.request(method, path, body, **kw)
        try:
            doc = json.loads(payload) if payload else None
        except ValueError:
            doc = None
        return status, resp, doc

    def take_session(self, resp, doc):
        m = re.search(r"fedgw_session=([0-9a-f]{64})", resp.getheader("Set-Cookie") or "")
        self.cookie = m.group(1) if m else None
        self.csrf = doc.get("csrf") if doc else None


def error_code(doc):
    try:
        return doc["error"]["code"]
    except (TypeError, KeyError):
        return None


def setup_behind_auth(c, ops):
    """Checks that every (method, path) in ops refuses a request without a session (401),
    sets up the first admin with c, then checks that every change refuses a missing or
    wrong CSRF token (403). False when the setup failed."""
    for method, path in ops:
        st, _, doc = c.json(method, path, body={} if method != "GET" else None)
        check(st == 401 and error_code(doc) == "unauthenticated",
              "unauthenticated %s %s -> 401 (got %d)" % (method, path, st))
    st, resp, doc = c.json("POST", "/api/v1/setup", {"name": "admin", "password": PASSWORD},
                           headers=XRW)
    if not check(st == 200, "setup the first admin"):
        return False
    c.take_session(resp, doc)
    for method, path in ops:
        if method == "GET":
            continue
        for label, hdr in (("missing", {"X-CSRF-Token": None}),
                           ("wrong", {"X-CSRF-Token": "0" * 64})):
            st, _, doc = c.json(method, path, {"domain": "x.test"}, headers=hdr, csrf=False)
            check(st == 403 and error_code(doc) == "csrf",
                  "%s CSRF token: %s %s -> 403 (got %d)" % (label, method, path, st))
    return True


def field_of(doc):
    try:
        return doc["error"]["field"]
    except (TypeError, KeyError):
        return None


def wait_ready(port, proc, seconds=30):
    ctx = ssl._create_unverified_context()
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                with ctx.wrap_socket(s, server_hostname="127.0.0.1"):
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def workspace(prefix):
    """A new directory for one test: (it, the store's path in it, a free console port, the
    daemon's log file opened for writing and reading, the environment with leak checks)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    log = open(os.path.join(tmp, "fedgw.log"), "w+")
    return (tmp, os.path.join(tmp, "data"), free_port(), log,
            dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))


def guarded(what, fn):
    """Runs fn(); an exception is reported as a failed check and the test goes on."""
    try:
        fn()
    except Exception as e:  # report, then go on
        import traceback
        traceback.print_exc()
        FAILURES.append("exception in %s: %r" % (what, e))


def serve(fedgw, tmp, data, port, log, env, body, after=None):
    """Runs body() against `fedgw serve` on 127.0.0.1:port (data in data, output to log),
    stops the daemon, checks its output for sanitizer reports, passes that output to after,
    removes tmp and prints the verdict; returns the exit status."""
    proc = subprocess.Popen([fedgw, "serve", "--data-dir", data, "--console-bind",
                             "127.0.0.1", "--console-port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        if not wait_ready(port, proc):
            FAILURES.append("fedgw serve did not start")
        else:
            body()
    except Exception as e:  # report, then clean up
        import traceback
        traceback.print_exc()
        FAILURES.append("exception: %r" % e)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.seek(0)
        out = log.read()
        log.close()
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            check(marker not in out, "no %s report from fedgw" % marker)
        if after:
            after(out)
        if FAILURES:
            print("---- fedgw output (last 60 lines) ----")
            print("\n".join(out.splitlines()[-60:]))
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0
