"""interop harness: a network namespace with its own dnsmasq, a test CA made with the
openssl CLI, Prosody 0.12 run as an ordinary process, fedgw driven through its CLI, a
slixmpp client and raw-socket s2s peers (RFC 6120, XEP-0220). Used by interop_prosody.py."""

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

PROSODY_IP = "127.0.0.2"
GW_IP = "127.0.0.3"
EVIL_IP = "127.0.0.4"
DNS_IP = "127.0.0.53"
# A closed port on an address nothing listens on: "unreachable" in the delivery tests.
DEAD_IP = "127.0.0.9"

CONSOLE_PORT = 18443
ADMIN_PW = "interop-admin-pw"

# Why: every wait in the suite is bounded so a hung peer fails a scenario, not the run.
WAIT_S = 10.0


class HarnessError(Exception):
	pass


def log(msg):
	print(msg, flush=True)


def run(argv, check=True, timeout=30, env=None, input_bytes=None):
	"""Runs a command, returns (rc, stdout, stderr) as text."""
	p = subprocess.run(argv, capture_output=True, timeout=timeout, env=env, input=input_bytes)
	out = p.stdout.decode("utf-8", "replace")
	err = p.stderr.decode("utf-8", "replace")
	if check and p.returncode != 0:
		raise HarnessError("%s: exit %d\n%s%s" % (" ".join(argv), p.returncode, out, err))
	return p.returncode, out, err


def netns_run(label, ns_prefix, work_prefix, ips, hosts, inner_argv, keep):
	"""Runs inner_argv(work) inside a new network namespace <ns_prefix><pid> and returns its
	exit status. work is a new directory (kept after the run if keep); ips are put on the
	namespace's lo (dnsmasq --bind-interfaces binds interface addresses only), /etc/hosts
	there holds hosts, and every process there resolves through DNS_IP only. SIGTERM and
	SIGINT are passed on to the inner process; the namespace is always removed."""
	ns = "%s%d" % (ns_prefix, os.getpid())
	etc = "/etc/netns/" + ns
	work = tempfile.mkdtemp(prefix=work_prefix)
	os.chmod(work, 0o755)
	inner = None
	try:
		subprocess.run(["ip", "netns", "add", ns], check=True)
		os.makedirs(etc, exist_ok=True)
		with open(etc + "/resolv.conf", "w") as f:
			f.write("nameserver %s\noptions timeout:1 attempts:2\n" % DNS_IP)
		with open(etc + "/hosts", "w") as f:
			f.write(hosts)
		subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
		for ip in ips:
			subprocess.run(["ip", "netns", "exec", ns, "ip", "addr", "add", ip + "/32", "dev",
			                "lo"], check=True)
		inner = subprocess.Popen(["ip", "netns", "exec", ns] + inner_argv(work),
		                         start_new_session=True)

		def forward(signum, _frame):
			if inner.poll() is None:
				inner.send_signal(signum)
		signal.signal(signal.SIGTERM, forward)
		signal.signal(signal.SIGINT, forward)
		return inner.wait()
	finally:
		if inner is not None and inner.poll() is None:
			inner.terminate()
			try:
				inner.wait(10)
			except subprocess.TimeoutExpired:
				inner.kill()
				inner.wait()
		subprocess.run(["ip", "netns", "del", ns], check=False)
		shutil.rmtree(etc, ignore_errors=True)
		if keep:
			print("%s: work files kept in %s" % (label, work))
		else:
			shutil.rmtree(work, ignore_errors=True)


def wait_port(ip, port, timeout=WAIT_S, proc=None):
	"""Waits until ip:port accepts TCP; False if proc died or time ran out."""
	end = time.monotonic() + timeout
	while time.monotonic() < end:
		if proc is not None and proc.poll() is not None:
			return False
		try:
			with socket.create_connection((ip, port), timeout=0.5):
				return True
		except OSError:
			time.sleep(0.1)
	return False


def port_closed(ip, port, timeout=WAIT_S):
	end = time.monotonic() + timeout
	while time.monotonic() < end:
		try:
			with socket.create_connection((ip, port), timeout=0.5):
				time.sleep(0.1)
		except OSError:
			return True
	return False


class Procs:
	"""Every process the suite starts, stopped by PID (never by name) at the end."""

	def __init__(self):
		self.procs = []

	def start(self, argv, logfile, **kw):
		f = open(logfile, "ab")
		p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
		                     start_new_session=True, **kw)
		f.close()
		self.procs.append(p)
		return p

	def stop(self, p, sig=signal.SIGTERM, timeout=5.0):
		if p is None or p.poll() is not None:
			return
		try:
			p.send_signal(sig)
			p.wait(timeout)
		except subprocess.TimeoutExpired:
			p.kill()
			p.wait(5)
		except ProcessLookupError:
			pass

	def stop_all(self):
		for p in reversed(self.procs):
			self.stop(p)
		self.procs = []


# ---- DNS: dnsmasq inside the namespace ------------------------------------------------

def dnsmasq_start(procs, work, records):
	"""records: list of dnsmasq options (--srv-host=..., --host-record=...)."""
	argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
	        "--no-hosts", "--local=/test/", "--port=53", "--listen-address=" + DNS_IP,
	        "--bind-interfaces", "--user=root", "--pid-file=" + os.path.join(work, "dnsmasq.pid"),
	        "--log-queries", "--log-facility=" + os.path.join(work, "dnsmasq.log")] + records
	p = procs.start(argv, os.path.join(work, "dnsmasq.out"))
	end = time.monotonic() + WAIT_S
	while time.monotonic() < end:
		if p.poll() is not None:
			raise HarnessError("dnsmasq exited: " + open(os.path.join(work, "dnsmasq.out")).read())
		rc, out, _ = run(["getent", "ahostsv4", "prosody.test"], check=False, timeout=5)
		if rc == 0 and PROSODY_IP in out:
			return p
		time.sleep(0.1)
	raise HarnessError("dnsmasq does not answer for prosody.test")


# ---- the test CA (openssl CLI) --------------------------------------------------------

CA_CNF = """[ ca ]
default_ca = tca
[ tca ]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/newcerts
serial = {dir}/serial
default_md = sha256
policy = pol
copy_extensions = none
unique_subject = no
[ pol ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
"""


class TestCA:
	"""Root CA plus leaves; 'untrusted' leaves come from a second root nobody imports."""

	def __init__(self, work, name="ca"):
		self.dir = os.path.join(work, name)
		os.makedirs(os.path.join(self.dir, "newcerts"), exist_ok=True)
		open(os.path.join(self.dir, "index.txt"), "w").close()
		with open(os.path.join(self.dir, "serial"), "w") as f:
			f.write("1000\n")
		self.cnf = os.path.join(self.dir, "ca.cnf")
		with open(self.cnf, "w") as f:
			f.write(CA_CNF.format(dir=self.dir))
		self.key = os.path.join(self.dir, "root.key")
		self.cert = os.path.join(self.dir, "root.pem")
		run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.key])
		ext = os.path.join(self.dir, "root.ext")
		with open(ext, "w") as f:
			f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
			        "subjectKeyIdentifier=hash\n")
		run(["openssl", "req", "-new", "-x509", "-key", self.key, "-out", self.cert, "-days",
		     "400", "-subj", "/CN=fedgw interop %s" % name, "-sha256", "-config", self.cnf,
		     "-addext", "basicConstraints=critical,CA:TRUE",
		     "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

	def leaf(self, name, dns_names, srv_domains=(), start=None, end=None):
		"""Issues a leaf: SAN DNS names plus SRVName (_xmpp-server.<d>, RFC 6125 SRV-ID).
		start/end as YYYYMMDDHHMMSSZ make expired certificates without faking the clock."""
		key = os.path.join(self.dir, name + ".key")
		csr = os.path.join(self.dir, name + ".csr")
		cert = os.path.join(self.dir, name + ".pem")
		run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key + ".ec"])
		# PKCS#8 is what both Prosody (LuaSec) and fedgw's importer read.
		run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", key + ".ec", "-out", key])
		run(["openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + dns_names[0],
		     "-config", self.cnf])
		alt = ["DNS.%d = %s" % (i + 1, d) for i, d in enumerate(dns_names)]
		alt += ["otherName.%d = 1.3.6.1.5.5.7.8.7;IA5STRING:_xmpp-server.%s" % (i + 1, d)
		        for i, d in enumerate(srv_domains)]
		ext = os.path.join(self.dir, name + ".ext")
		with open(ext, "w") as f:
			f.write("[ v3 ]\nbasicConstraints=critical,CA:FALSE\n"
			        "keyUsage=critical,digitalSignature,keyAgreement\n"
			        "extendedKeyUsage=serverAuth,clientAuth\n"
			        "subjectAltName=@alt\n[ alt ]\n" + "\n".join(alt) + "\n")
		argv = ["openssl", "ca", "-batch", "-notext", "-config", self.cnf, "-cert", self.cert,
		        "-keyfile", self.key, "-in", csr, "-out", cert, "-extfile", ext,
		        "-extensions", "v3"]
		if start and end:
			argv += ["-startdate", start, "-enddate", end]
		else:
			# a year: short enough to be a test certificate, long enough that fedgw's
			# "expires soon" warning does not join the faults the tests look at
			argv += ["-days", "365"]
		run(argv)
		return cert, key


# ---- Prosody ----------------------------------------------------------------------------

PROSODY_CFG = """-- generated by the fedgw interop harness
pidfile = "{dir}/prosody.pid"
daemonize = false
data_path = "{dir}/data"
log = {{ {{ levels = {{ min = "debug" }}, to = "file", filename = "{dir}/prosody.log" }} }}
interfaces = {{ "{ip}" }}
local_interfaces = {{ "{ip}" }}
c2s_ports = {{ 5222 }}
s2s_ports = {{ 5269 }}
c2s_direct_tls_ports = {{ }}
s2s_direct_tls_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
admin_socket = "{dir}/admin.sock"
modules_enabled = {{ "roster", "saslauth", "dialback", "disco", "ping", "version",
                    "posix"{extra_modules} }}
modules_disabled = {{ {disabled} }}
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_require_encryption = {require_enc}
s2s_secure_auth = {secure_auth}
s2s_insecure_domains = {{ {insecure} }}
s2s_timeout = 10
dialback_secret = "interop-{domain}"
-- libunbound answers NXDOMAIN for the special-use zone test. unless told otherwise.
unbound = {{ options = {{ ["local-zone:"] = "test. transparent",
                         ["do-not-query-localhost:"] = "no" }} }}
{ssl}
VirtualHost "{domain}"
"""


class Prosody:
	"""One Prosody 0.12 instance serving `domain` on `ip` as the prosody user.

	mode: "plain" (no TLS module, dialback), "tls-dialback" (STARTTLS required,
	certificates not required), "tls-external" (STARTTLS required, s2s_secure_auth:
	certificates verified, SASL EXTERNAL when the peer offers it)."""

	def __init__(self, procs, work, domain, ip, name="prosody"):
		self.procs = procs
		self.domain = domain
		self.ip = ip
		self.dir = os.path.join(work, name)
		self.proc = None
		self.users = {}

	def configure(self, mode, cert=None, key=None, cafile=None, insecure=()):
		if os.path.isdir(self.dir):
			# keep each run's config and log for --keep: <name>.1, <name>.2, ...
			n = 1
			while os.path.exists("%s.%d" % (self.dir, n)):
				n += 1
			os.rename(self.dir, "%s.%d" % (self.dir, n))
		os.makedirs(os.path.join(self.dir, "data"))
		os.makedirs(os.path.join(self.dir, "capath"))
		tls = mode != "plain"
		ssl = ""
		if tls:
			for src, dst in ((cert, "cert.pem"), (key, "key.pem"), (cafile, "ca.pem")):
				shutil.copy(src, os.path.join(self.dir, dst))
			ssl = ('ssl = {{ certificate = "{d}/cert.pem", key = "{d}/key.pem", '
			       'cafile = "{d}/ca.pem", capath = "{d}/capath" }}').format(d=self.dir)
		cfg = PROSODY_CFG.format(
			dir=self.dir, ip=self.ip, domain=self.domain,
			extra_modules=', "tls"' if tls else "",
			disabled='"tls"' if not tls else "",
			require_enc="true" if tls else "false",
			secure_auth="true" if mode == "tls-external" else "false",
			insecure=", ".join('"%s"' % d for d in insecure), ssl=ssl)
		self.cfg = os.path.join(self.dir, "prosody.cfg.lua")
		with open(self.cfg, "w") as f:
			f.write(cfg)
		self.mode = mode
		run(["chown", "-R", "prosody:prosody", self.dir])

	def register(self, user, password):
		self.users[user] = password
		run(["runuser", "-u", "prosody", "--", "prosodyctl", "--config", self.cfg, "register",
		     user, self.domain, password])

	def start(self):
		self.proc = self.procs.start(["runuser", "-u", "prosody", "--", "prosody", "--config",
		                              self.cfg, "-F"], os.path.join(self.dir, "stdout.log"))
		if not wait_port(self.ip, 5222, proc=self.proc) or not wait_port(self.ip, 5269):
			raise HarnessError("Prosody %s did not start:\n%s" % (self.domain, self.tail()))

	def stop(self):
		self.procs.stop(self.proc)
		self.proc = None
		port_closed(self.ip, 5269)

	def logtext(self):
		try:
			with open(os.path.join(self.dir, "prosody.log"), errors="replace") as f:
				return f.read()
		except OSError:
			return ""

	def tail(self, n=30):
		lines = self.logtext().splitlines()
		try:
			with open(os.path.join(self.dir, "stdout.log"), errors="replace") as f:
				lines += f.read().splitlines()
		except OSError:
			pass
		return "\n".join(lines[-n:])


# ---- fedgw ------------------------------------------------------------------------------

class Fedgw:
	"""fedgw configured through its CLI only; `serve` inside the namespace."""

	def __init__(self, procs, work, binary, name="fedgw"):
		self.procs = procs
		self.bin = binary
		self.data = os.path.join(work, name + ".data")
		self.logfile = os.path.join(work, name + ".log")
		self.proc = None

	def cli(self, *args, check=True, timeout=60):
		return run([self.bin, "--data-dir", self.data] + list(args), check=check, timeout=timeout)

	def cli_json(self, *args, check=False, timeout=60):
		rc, out, err = self.cli(*args, check=check, timeout=timeout)
		try:
			return rc, json.loads(out), err
		except ValueError:
			return rc, None, out + err

	def init(self):
		if os.path.isdir(self.data):
			shutil.rmtree(self.data)
		# an admin for the console API (validate's ping round trip runs in the daemon)
		pwfile = self.data + ".pw"
		with open(pwfile, "w") as f:
			f.write(ADMIN_PW + "\n")
		rc, out, err = run([self.bin, "--data-dir", self.data, "init", "--hostname", "gw.test",
		                    "--admin-name", "admin", "--admin-password-file", pwfile],
		                   check=False)
		self.session = None
		if rc != 0:
			raise HarnessError("fedgw init failed: %s%s" % (out, err))

	def start(self):
		self.session = None
		env = dict(os.environ)
		# Under AddressSanitizer freed memory waits in a quarantine (256 MB by default) and
		# is not reused, so RSS would grow with any churn: keep the checks, drop the
		# quarantine, so the memory scenario measures fedgw and not the sanitizer.
		asan = env.get("ASAN_OPTIONS", "")
		env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "quarantine_size_mb=0"
		self.proc = self.procs.start([self.bin, "--data-dir", self.data, "serve", "--console-bind",
		                              GW_IP, "--console-port", str(CONSOLE_PORT)], self.logfile,
		                             env=env)
		if not wait_port(GW_IP, 5269, proc=self.proc):
			raise HarnessError("fedgw serve does not listen on %s:5269:\n%s" % (GW_IP, self.tail()))

	def stop(self):
		self.procs.stop(self.proc)
		self.proc = None
		port_closed(GW_IP, 5269, timeout=5)

	def api(self, method, path, body=None):
		"""One console API request (RFC 8446/5246 TLS to the self-signed console) as admin;
		returns (status, json)."""
		if self.session is None and path != "/api/v1/login":
			st, doc = self.api("POST", "/api/v1/login", {"name": "admin", "password": ADMIN_PW})
			if st != 200 or not doc:
				raise HarnessError("console login failed: HTTP %d %r" % (st, doc))
		conn = http.client.HTTPSConnection(GW_IP, CONSOLE_PORT, timeout=30,
		                                   context=ssl._create_unverified_context())
		try:
			hdr = {"X-Requested-With": "fedgw"}
			data = None
			if body is not None:
				data = json.dumps(body).encode()
				hdr["Content-Type"] = "application/json"
			if self.session:
				hdr["Cookie"] = "fedgw_session=" + self.session[0]
				hdr["X-CSRF-Token"] = self.session[1]
			conn.request(method, path, body=data, headers=hdr)
			resp = conn.getresponse()
			payload = resp.read()
			try:
				doc = json.loads(payload) if payload else None
			except ValueError:
				doc = None
			if path == "/api/v1/login" and resp.status == 200:
				m = re.search(r"fedgw_session=([0-9a-f]+)", resp.getheader("Set-Cookie") or "")
				self.session = (m.group(1) if m else "", (doc or {}).get("csrf", ""))
			return resp.status, doc
		finally:
			conn.close()

	def api_validate(self, domain, timeout=60.0):
		"""Validate connection through the running daemon (the console's path)."""
		st, doc = self.api("POST", "/api/v1/xmpp/validate", {"domain": domain})
		if st != 202 or not doc or "id" not in doc:
			raise HarnessError("POST /api/v1/xmpp/validate: HTTP %d %r" % (st, doc))
		end = time.monotonic() + timeout
		while time.monotonic() < end:
			st, v = self.api("GET", "/api/v1/xmpp/validate/" + doc["id"])
			if st == 200 and v and v.get("done"):
				return v
			time.sleep(0.3)
		raise HarnessError("validation of %s through the API did not finish" % domain)

	def alive(self):
		return self.proc is not None and self.proc.poll() is None

	def rss_kb(self):
		"""VmRSS of the serving process (Procs starts it directly, no wrapper)."""
		with open("/proc/%d/status" % self.proc.pid) as f:
			for line in f:
				if line.startswith("VmRSS:"):
					return int(line.split()[1])
		return 0

	def faults(self, which="active"):
		"""Fault records from `fedgw status --json` ("active" or "cleared")."""
		_, st, _ = self.cli_json("status", "--json")
		if not isinstance(st, dict):
			return []
		f = st.get("faults") or {}
		if isinstance(f, list):
			return f
		return f.get(which) or []

	def counter(self, name):
		"""A counter from `fedgw status --json` (written to the store once a second)."""
		_, st, _ = self.cli_json("status", "--json")
		c = st.get("counters") if isinstance(st, dict) else None
		v = c.get(name) if isinstance(c, dict) else None
		return v if isinstance(v, int) else 0

	def log_grep(self, text, want=None, timeout=3.0):
		"""`fedgw log show --grep text`; the daemon writes its log to the store every
		200 ms, so poll until want (default: text) shows up or time runs out."""
		end = time.monotonic() + timeout
		while True:
			rc, out, err = self.cli("log", "show", "--grep", text, "--limit", "0", check=False)
			if rc != 0:
				return "fedgw log show failed (exit %d): %s%s" % (rc, out, err)
			if (want or text) in out or time.monotonic() > end:
				return out
			time.sleep(0.3)

	def tail(self, n=40):
		try:
			with open(self.logfile, errors="replace") as f:
				return "\n".join(f.read().splitlines()[-n:])
		except OSError:
			return ""


# ---- raw s2s peer -----------------------------------------------------------------------

STREAM_ERR_RE = re.compile(rb"<stream:error[^>]*>\s*<([a-z-]+)", re.S)


def stream_header(frm, to, db=True, version=True):
	return ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
	        "xmlns:stream='http://etherx.jabber.org/streams'%s to='%s' from='%s'%s>" %
	        (" xmlns:db='jabber:server:dialback'" if db else "", to, frm,
	         " version='1.0'" if version else "")).encode()


class RawPeer:
	"""A TCP s2s peer speaking bytes we choose; records everything it reads."""

	def __init__(self, ip, port=5269, src=None, timeout=5.0):
		self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		if src:
			self.sock.bind((src, 0))
		self.sock.settimeout(timeout)
		self.sock.connect((ip, port))
		self.buf = b""
		self.closed = False

	def send(self, data):
		try:
			self.sock.sendall(data)
			return True
		except OSError:
			return False

	def read_until(self, pattern, timeout=5.0):
		"""Reads until regex pattern (bytes) matches or EOF/timeout; returns the match."""
		rx = re.compile(pattern, re.S)
		end = time.monotonic() + timeout
		while True:
			m = rx.search(self.buf)
			if m or self.closed:
				return m
			left = end - time.monotonic()
			if left <= 0:
				return None
			self.sock.settimeout(left)
			try:
				chunk = self.sock.recv(65536)
			except socket.timeout:
				return None
			except OSError:
				self.closed = True
				return rx.search(self.buf)
			if not chunk:
				self.closed = True
			self.buf += chunk

	def stream_error(self, timeout=5.0):
		m = self.read_until(STREAM_ERR_RE.pattern, timeout)
		return m.group(1).decode() if m else None

	def wait_closed(self, timeout=5.0):
		self.read_until(rb"(?!x)x", timeout)
		return self.closed

	def close(self):
		try:
			self.sock.close()
		except OSError:
			pass
