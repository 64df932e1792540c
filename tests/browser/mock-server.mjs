// A stand-in for the fedgw console API (docs/api.yaml) in memory, serving assets/web with
// the console's CSP, so the pages can be developed and the browser test run without the
// daemon: node mock-server.mjs [port]. Certificate details come from node:crypto.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const WEB = join(HERE, '..', '..', 'assets', 'web');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
	'.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

export function startMock(port = 0) {
	const started = Date.now();
	const st = { admins: [], sessions: new Map(), logs: [], audit: [], certs: [], seq: 0,
		consoleCert: null, faults: new Map(), cleared: [] };

	const iso = (ms) => (ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z') : null);
	function log(level, subsystem, message) {
		const t = Date.now();
		st.logs.unshift({ seq: ++st.seq, time: iso(t), time_ms: t, level, subsystem, message });
	}
	function audit(actor, action, detail, ok = true) {
		const t = Date.now();
		st.audit.unshift({ seq: ++st.seq, time: iso(t), time_ms: t, actor, source: '127.0.0.1',
			action, detail, ok });
	}
	log('notice', 'core', 'fedgw mock starting');
	log('info', 'console', 'console listening on 127.0.0.1');
	log('warning', 'store', 'no console certificate chosen: using a generated self-signed one');

	const LEVELS = ['debug', 'info', 'notice', 'warning', 'error'];
	const err = (status, code, message, field = null, fix = '') =>
		({ status, body: { error: { code, message, field, fix } } });

	function certInfo(c) {
		if (c.kind === 'csr') return { ...c.meta, roles: [] };
		const x = new X509Certificate(c.chain[0]);
		const nb = Date.parse(x.validFrom), na = Date.parse(x.validTo);
		return {
			id: c.id, name: c.name, kind: c.kind, subject: x.subject.replace(/\n/g, ', '),
			sans: (x.subjectAltName || '').split(', ').filter(Boolean)
				.map((s) => s.replace(/^DNS:|^IP Address:/, '')),
			issuer: x.issuer.replace(/\n/g, ', '), serial: x.serialNumber,
			not_before: iso(nb), not_before_ms: nb, not_after: iso(na), not_after_ms: na,
			days_left: Math.floor((na - Date.now()) / 86400000),
			key_type: x.publicKey.asymmetricKeyType === 'ec'
				? `ec-${x.publicKey.asymmetricKeyDetails.namedCurve === 'prime256v1' ? 'p256' : 'p384'}`
				: `rsa-${x.publicKey.asymmetricKeyDetails.modulusLength}`,
			fingerprint_sha256: x.fingerprint256, has_key: !!c.key,
			self_signed: x.checkIssued(x), chain_length: c.chain.length,
			roles: st.consoleCert === c.id ? ['console'] : [],
		};
	}

	function splitPem(pem) {
		return (String(pem).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)
			|| []);
	}

	function checkExpiry() {
		const c = st.certs.find((x) => x.id === st.consoleCert);
		const info = c && certInfo(c);
		const id = 'cert.expiry.console';
		if (info && info.days_left < 30) {
			if (!st.faults.has(id)) {
				const t = Date.now();
				st.faults.set(id, { id, object: `certificate ${info.name}`,
					condition: `Console certificate expires in ${info.days_left} days`,
					cause: `The certificate "${info.name}" used by the console expires on ` +
						`${info.not_after}.`,
					fix: 'Upload a renewed certificate and use it for the console.',
					detail: `not_after=${info.not_after} serial=${info.serial}`, severity: 'warning',
					raised: iso(t), raised_ms: t, cleared: null, cleared_ms: 0 });
				log('warning', 'certs', `console certificate expires in ${info.days_left} days`);
			}
		} else if (st.faults.has(id)) {
			const f = st.faults.get(id);
			st.faults.delete(id);
			f.cleared_ms = Date.now();
			f.cleared = iso(f.cleared_ms);
			st.cleared.unshift(f);
		}
	}
	const timer = setInterval(checkExpiry, 1000);

	function openssl(args, input) {
		return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'ignore'] }).toString();
	}

	function genKeyAndCert(body, selfSigned) {
		const dir = mkdtempSync(join(tmpdir(), 'fgmock-'));
		try {
			const kt = body.key_type || 'ec-p256';
			const keyArgs = kt.startsWith('rsa') ? ['-algorithm', 'RSA', '-pkeyopt',
				`rsa_keygen_bits:${kt.slice(4)}`] : ['-algorithm', 'EC', '-pkeyopt',
				`ec_paramgen_curve:${kt === 'ec-p384' ? 'P-384' : 'P-256'}`];
			openssl(['genpkey', ...keyArgs, '-out', join(dir, 'k.pem')]);
			const sans = [...(body.dns_names || []).map((d) => `DNS:${d}`),
				...(body.ip_addresses || []).map((d) => `IP:${d}`)];
			const args = ['req', '-new', '-key', join(dir, 'k.pem'), '-subj', `/CN=${body.common_name}`];
			if (sans.length) args.push('-addext', `subjectAltName=${sans.join(',')}`);
			if (selfSigned) args.push('-x509', '-days', String(body.days || 365));
			const pem = openssl(args);
			return { pem, key: readFileSync(join(dir, 'k.pem'), 'utf8') };
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	}

	function route(method, path, q, body, sess, req) {
		const p = path.replace(/^\/api\/v1/, '');
		if (p === '/setup' && method === 'GET') return { body: { needed: st.admins.length === 0 } };
		if (p === '/setup' && method === 'POST') {
			if (st.admins.length) return err(409, 'setup_done', 'Setup is already done.');
			return createAdmin(body, true) || login(body, req, true);
		}
		if (p === '/login' && method === 'POST') return login(body, req);
		if (!sess) return err(401, 'unauthenticated', 'You are not logged in.', null,
			'Log in again.');
		if (method !== 'GET' && req.headers['x-csrf-token'] !== sess.csrf)
			return err(403, 'csrf', 'The request lacks the console\'s CSRF token.', null,
				'Reload the page.');
		if (p === '/session') return { body: { admin: sess.admin, csrf: sess.csrf,
			idle_timeout_s: 1800 } };
		if (p === '/logout') {
			st.sessions.delete(sess.token);
			return { status: 204, cookie: 'fedgw_session=; Path=/; Max-Age=0' };
		}
		if (p === '/status') {
			const used = 1048576 + st.logs.length * 200;
			return { body: {
				version: '0.1.0+mock', started: iso(started), started_ms: started,
				uptime_s: Math.floor((Date.now() - started) / 1000), data_dir: '/var/lib/fedgw',
				hostname: 'gw1.example.net', generation: 7,
				store: { used_bytes: used, map_bytes: 268435456, percent: used / 2684354.56 },
				listeners: [
					{ id: 'listener.console', kind: 'listener', name: 'console 127.0.0.1:8443',
						state: 'listening', reason: '', since: iso(started), since_ms: started },
					{ id: 'listener.s2s', kind: 'listener', name: 'XMPP s2s 0.0.0.0:5269',
						state: 'stopped', reason: 'federation is off', since: iso(started),
						since_ms: started },
				],
				objects: [],
				faults: { active: [...st.faults.values()], cleared: st.cleared.slice(0, 10) },
				recent: st.logs.filter((e) => e.level === 'warning' || e.level === 'error')
					.slice(0, 10),
				counters: { 'console.requests': 42, 'console.logins': 1, 'xmpp.s2s.in': 0 },
			} };
		}
		if (p === '/logs' && method === 'GET') {
			const min = Math.max(0, LEVELS.indexOf(q.get('level') || 'debug'));
			const text = (q.get('q') || '').toLowerCase();
			const all = st.logs.filter((e) => LEVELS.indexOf(e.level) >= min &&
				(!text || `${e.subsystem} ${e.message}`.toLowerCase().includes(text)));
			const off = Number(q.get('offset') || 0), lim = Number(q.get('limit') || 100);
			return { body: { total: all.length, entries: all.slice(off, off + lim) } };
		}
		if (p === '/logs' && method === 'DELETE') {
			const n = st.logs.length;
			st.logs = [];
			log('notice', 'console', `${n} log messages cleared by ${sess.admin}`);
			audit(sess.admin, 'log.clear', `${n} log messages cleared`);
			return { body: { removed: n } };
		}
		if (p === '/audit') {
			const text = (q.get('q') || '').toLowerCase();
			const all = st.audit.filter((e) => !text ||
				`${e.actor} ${e.action} ${e.detail}`.toLowerCase().includes(text));
			const off = Number(q.get('offset') || 0), lim = Number(q.get('limit') || 100);
			return { body: { total: all.length, entries: all.slice(off, off + lim) } };
		}
		if (p === '/admins' && method === 'GET')
			return { body: { admins: st.admins.map(({ password, ...a }) => a) } };
		if (p === '/admins' && method === 'POST') {
			const e = createAdmin(body, false);
			if (e) return e;
			audit(sess.admin, 'admin.add', body.name);
			return { status: 201, body: { name: body.name } };
		}
		let m = /^\/admins\/([^/]+)(\/password)?$/.exec(p);
		if (m) {
			const name = decodeURIComponent(m[1]);
			const a = st.admins.find((x) => x.name === name);
			if (!a) return err(404, 'not_found', `No administrator "${name}".`);
			if (m[2]) {
				if (name === sess.admin && body.current_password !== a.password)
					return err(422, 'invalid', 'The current password is wrong.', 'current_password',
						'Type your current password.');
				if (String(body.new_password || '').length < 10)
					return err(422, 'invalid', 'The password is too short.', 'new_password',
						'Use at least 10 characters.');
				a.password = body.new_password;
				a.password_changed_ms = Date.now();
				a.password_changed = iso(a.password_changed_ms);
				return { status: 204 };
			}
			if (name === sess.admin) return err(409, 'self', 'You cannot delete yourself.');
			st.admins = st.admins.filter((x) => x !== a);
			audit(sess.admin, 'admin.delete', name);
			return { status: 204 };
		}
		if (p === '/certificates' && method === 'GET')
			return { body: { certificates: st.certs.map(certInfo) } };
		if (p === '/certificates/csr' || p === '/certificates/selfsigned') {
			if (!body.name) return err(422, 'invalid', 'A name is needed.', 'name',
				'Type a name such as "xmpp-2026".');
			if (!body.common_name) return err(422, 'invalid', 'A common name is needed.',
				'common_name', 'Type the gateway\'s host name.');
			const ss = p.endsWith('selfsigned');
			const g = genKeyAndCert(body, ss);
			const id = randomBytes(16).toString('hex');
			if (ss) st.certs.push({ id, name: body.name, kind: 'certificate', chain: splitPem(g.pem),
				key: g.key });
			else st.certs.push({ id, name: body.name, kind: 'csr', pem: g.pem, key: g.key,
				meta: { id, name: body.name, kind: 'csr', subject: `CN=${body.common_name}`,
					sans: [...(body.dns_names || []), ...(body.ip_addresses || [])],
					key_type: body.key_type || 'ec-p256', has_key: true } });
			audit(sess.admin, ss ? 'cert.selfsigned' : 'cert.csr', body.name);
			return { status: 201, body: ss ? { id } : { id, pem: g.pem } };
		}
		if (p === '/certificates/import' || p === '/certificates/ca') {
			const ca = p.endsWith('/ca');
			const pems = splitPem(ca ? body.pem : body.certificate_pem);
			const fieldName = ca ? 'pem' : 'certificate_pem';
			if (!body.name) return err(422, 'invalid', 'A name is needed.', 'name', 'Type a name.');
			if (!pems.length) return err(422, 'pem', 'No certificate found in the text.', fieldName,
				'Paste PEM text starting with -----BEGIN CERTIFICATE-----.');
			const xs = pems.map((x) => new X509Certificate(x));
			if (!ca) {
				for (let i = 0; i + 1 < xs.length; i++) {
					if (!xs[i].checkIssued(xs[i + 1]))
						return err(422, 'chain', `Certificate ${i + 1} (${xs[i].subject}) was not ` +
							`issued by certificate ${i + 2} (${xs[i + 1].subject}): the chain is ` +
							'not in order.', null,
						'Put the server certificate first, then the CA that issued it, then ' +
						'the next CA up.');
				}
			}
			let key = null;
			if (body.private_key_pem) {
				try {
					key = createPrivateKey(body.private_key_pem);
				} catch {
					return err(422, 'pem', 'The private key cannot be read.', 'private_key_pem',
						'Paste an unencrypted PEM private key.');
				}
			}
			const id = randomBytes(16).toString('hex');
			st.certs.push({ id, name: body.name, kind: ca ? 'ca_bundle' : 'certificate', chain: pems,
				key: key ? 'yes' : null });
			audit(sess.admin, ca ? 'cert.ca' : 'cert.import', body.name);
			return { status: 201, body: { id } };
		}
		m = /^\/certificates\/([0-9a-f]+)(\/pem)?$/.exec(p);
		if (m) {
			const c = st.certs.find((x) => x.id === m[1]);
			if (!c) return err(404, 'not_found', 'No such certificate.');
			if (m[2]) return { raw: c.pem || c.chain.join('\n'), type: 'application/x-pem-file' };
			if (method === 'DELETE') {
				if (st.consoleCert === c.id)
					return err(409, 'in_use', 'It is in use by the console.', null,
						'Choose another certificate for the console first.');
				st.certs = st.certs.filter((x) => x !== c);
				return { status: 204 };
			}
			return { body: certInfo(c) };
		}
		if (p === '/console/certificate' && method === 'PUT') {
			const c = st.certs.find((x) => x.id === body.id);
			if (!c) return err(404, 'not_found', 'No such certificate.');
			st.consoleCert = c.id;
			audit(sess.admin, 'console.certificate', c.name);
			return { body: { id: c.id } };
		}
		return err(404, 'not_found', 'No such API path.');
	}

	function createAdmin(body, first) {
		const name = String(body.name || '');
		if (!/^[A-Za-z0-9._-]{1,64}$/.test(name))
			return err(422, 'invalid', 'This name is not allowed.', 'name',
				'Use letters, digits, dot, dash and underscore.');
		if (String(body.password || '').length < 10)
			return err(422, 'invalid', 'The password is too short.', 'password',
				'Use at least 10 characters.');
		if (st.admins.some((a) => a.name === name))
			return err(409, 'exists', `An administrator "${name}" already exists.`, 'name',
				'Choose another name.');
		const t = Date.now();
		st.admins.push({ name, password: body.password, created: iso(t), created_ms: t,
			password_changed: iso(t), password_changed_ms: t, last_login: null, last_login_ms: 0 });
		if (first) audit(name, 'setup', 'first administrator created');
		return null;
	}

	function login(body, req) {
		// 3 free failures, then Retry-After 1 s doubling (as docs/api.yaml describes).
		if (st.failures >= 3 && Date.now() < st.retryAt) {
			const wait = Math.ceil((st.retryAt - Date.now()) / 1000);
			return { ...err(429, 'throttled', 'Too many failed logins from your address.', null,
				`Wait ${wait} s, then try again.`), retryAfter: wait };
		}
		const a = st.admins.find((x) => x.name === body.name && x.password === body.password);
		if (!a) {
			st.failures = (st.failures || 0) + 1;
			if (st.failures >= 3)
				st.retryAt = Date.now() + 1000 * 2 ** Math.min(6, st.failures - 3);
			audit(String(body.name || ''), 'login', 'wrong name or password', false);
			return err(401, 'bad_credentials', 'Wrong name or password.', null,
				'Check the name and password; names are case-sensitive.');
		}
		st.failures = 0;
		a.last_login_ms = Date.now();
		a.last_login = iso(a.last_login_ms);
		const token = randomBytes(32).toString('hex');
		const csrf = randomBytes(32).toString('hex');
		st.sessions.set(token, { token, admin: a.name, csrf });
		audit(a.name, 'login', 'logged in');
		return { body: { admin: a.name, csrf },
			cookie: `fedgw_session=${token}; Path=/; HttpOnly; SameSite=Strict` };
	}

	const server = createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', async () => {
			const url = new URL(req.url, 'http://x');
			const headers = { 'Content-Security-Policy': CSP, 'X-Frame-Options': 'DENY',
				'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };
			if (!url.pathname.startsWith('/api/')) {
				const name = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
				if (!/^[A-Za-z0-9._-]+$/.test(name) || name.includes('..')) {
					res.writeHead(404, headers).end('not found');
					return;
				}
				try {
					const data = await readFile(join(WEB, name));
					res.writeHead(200, { ...headers,
						'Content-Type': TYPES[extname(name)] || 'application/octet-stream' }).end(data);
				} catch {
					res.writeHead(404, headers).end('not found');
				}
				return;
			}
			const cookie = /fedgw_session=([0-9a-f]+)/.exec(req.headers.cookie || '');
			const sess = cookie ? st.sessions.get(cookie[1]) : null;
			let body = {};
			try {
				body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
			} catch {
				body = {};
			}
			let ans;
			try {
				ans = route(req.method, url.pathname, url.searchParams, body, sess, req);
			} catch (e) {
				ans = err(500, 'internal', String(e.message));
			}
			headers['Cache-Control'] = 'no-store';
			if (ans.cookie) headers['Set-Cookie'] = ans.cookie;
			if (ans.retryAfter) headers['Retry-After'] = String(ans.retryAfter);
			if (ans.raw !== undefined) {
				res.writeHead(200, { ...headers, 'Content-Type': ans.type,
					'Content-Disposition': 'attachment; filename="certificate.pem"' }).end(ans.raw);
				return;
			}
			const status = ans.status || 200;
			if (status === 204) {
				res.writeHead(204, headers).end();
				return;
			}
			res.writeHead(status, { ...headers, 'Content-Type': 'application/json' })
				.end(JSON.stringify(ans.body || {}));
		});
	});
	return new Promise((resolve) => {
		server.listen(port, '127.0.0.1', () => resolve({
			port: server.address().port,
			close: () => {
				clearInterval(timer);
				server.close();
				server.closeAllConnections();
			},
		}));
	});
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const m = await startMock(Number(process.argv[2] || 0));
	console.log(`mock console on http://127.0.0.1:${m.port}/`);
}
