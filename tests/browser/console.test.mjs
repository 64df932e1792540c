// The fedgw console in headless Chromium, end to end against the real daemon:
// first-run setup, login, CSR, chain upload (wrong order, then right), the expiry fault
// of a short-lived console certificate, logs and their clearing, audit, logout.
//   node console.test.mjs --fedgw /path/to/fedgw      (or FEDGW_BIN=...)
// Screenshots of every screen go to tests/artifacts/browser/.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, createWriteStream,
	existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = resolve(process.env.FEDGW_ARTIFACTS || join(HERE, '..', 'artifacts', 'browser'));
const ADMIN = 'admin';
const PASSWORD = 'correct horse battery';
// Generous for 2 shared cores under ASan; each step normally takes well under a second.
const STEP_MS = 20000;
// The daemon checks certificate expiry within a few seconds of a change.
const FAULT_WAIT_MS = 30000;

function arg(name) {
	const i = process.argv.indexOf(name);
	return i > 0 ? process.argv[i + 1] : undefined;
}

const fedgwBin = arg('--fedgw') || process.env.FEDGW_BIN;

let step = '';
function log(msg) {
	console.log(`[browser] ${msg}`);
}
function check(cond, what) {
	if (!cond) throw new Error(`check failed: ${what}`);
}

function freePort() {
	return new Promise((res, rej) => {
		const s = createServer();
		s.on('error', rej);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => res(port));
		});
	});
}

function waitForPort(port, ms, proc) {
	const until = Date.now() + ms;
	return new Promise((res, rej) => {
		const attempt = () => {
			if (proc && proc.exitCode !== null) {
				rej(new Error(`fedgw exited with code ${proc.exitCode} before listening`));
				return;
			}
			const sock = connect(port, '127.0.0.1');
			sock.once('connect', () => {
				sock.destroy();
				res();
			});
			sock.once('error', () => {
				sock.destroy();
				if (Date.now() > until) rej(new Error(`port ${port} not open after ${ms} ms`));
				else setTimeout(attempt, 100);
			});
		};
		attempt();
	});
}

// A CA, an intermediate and two leaves (one valid a year, one only 5 days), EC P-256.
function makePki(dir) {
	const o = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
	const key = (n) => o('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
		'-out', `${n}.key`);
	writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\n' +
		'keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' +
		'authorityKeyIdentifier=keyid\n');
	writeFileSync(join(dir, 'leaf.ext'), 'basicConstraints=critical,CA:FALSE\n' +
		'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' +
		'subjectAltName=DNS:gw.fedgw.test,IP:127.0.0.1\nsubjectKeyIdentifier=hash\n' +
		'authorityKeyIdentifier=keyid\n');
	key('root');
	o('req', '-new', '-x509', '-key', 'root.key', '-subj', '/CN=fedgw Test Root CA', '-days', '3650',
		'-addext', 'basicConstraints=critical,CA:TRUE', '-addext',
		'keyUsage=critical,keyCertSign,cRLSign', '-out', 'root.pem');
	const sign = (n, subj, ca, days, ext) => {
		key(n);
		o('req', '-new', '-key', `${n}.key`, '-subj', subj, '-out', `${n}.csr`);
		o('x509', '-req', '-in', `${n}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
			'-CAcreateserial', '-days', String(days), '-extfile', ext, '-out', `${n}.pem`);
	};
	sign('inter', '/CN=fedgw Test Intermediate CA', 'root', 3650, 'ca.ext');
	sign('leaf', '/CN=gw.fedgw.test', 'inter', 365, 'leaf.ext');
	sign('short', '/CN=gw.fedgw.test', 'inter', 5, 'leaf.ext');
	const r = (f) => readFileSync(join(dir, f), 'utf8');
	return {
		leaf: r('leaf.pem'), leafKey: r('leaf.key'), short: r('short.pem'), shortKey: r('short.key'),
		inter: r('inter.pem'), root: r('root.pem'),
	};
}

async function startDaemon(work) {
	if (!fedgwBin || !existsSync(fedgwBin))
		throw new Error('fedgw binary not found: pass --fedgw PATH or set FEDGW_BIN');
	const dataDir = join(work, 'data');
	mkdirSync(dataDir, { mode: 0o700 });
	const port = await freePort();
	// The test may only use loopback and must not take well-known ports (5269, 5060,
	// 5061) that other tests or services hold: the engine's listeners stay off and on
	// 127.0.0.1 (a build without one of these verbs has no such listener).
	const quiet = [
		['xmpp', 'set', 'enabled=false', 'bind=127.0.0.1', `port=${await freePort()}`],
		['sip', 'set', 'enabled=false', 'bind=127.0.0.1', 'tcp_port=0', 'tls_port=0'],
	];
	for (const args of quiet) {
		try {
			execFileSync(fedgwBin, ['--data-dir', dataDir, ...args],
				{ stdio: ['ignore', 'pipe', 'pipe'] });
		} catch (e) {
			log(`fedgw ${args[0]} set: ${String(e.stderr || e.message).trim().split('\n')[0]}`);
		}
	}
	const out = createWriteStream(join(ARTIFACTS, 'fedgw.log'));
	const proc = spawn(fedgwBin, ['serve', '--data-dir', dataDir, '--console-bind', '127.0.0.1',
		'--console-port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'],
		env: { ...process.env, ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1' } });
	proc.stdout.pipe(out);
	proc.stderr.pipe(out);
	log(`fedgw pid ${proc.pid} on 127.0.0.1:${port}, data ${dataDir}`);
	await waitForPort(port, 30000, proc);
	return {
		url: `https://127.0.0.1:${port}/`,
		stop: () => new Promise((res) => {
			if (proc.exitCode !== null) {
				res(`fedgw exited early with code ${proc.exitCode}`);
				return;
			}
			const kill = setTimeout(() => proc.kill('SIGKILL'), 10000);
			proc.once('exit', (code, sig) => {
				clearTimeout(kill);
				log(`fedgw exited (code ${code}, signal ${sig})`);
				// A clean stop on SIGTERM; sanitizer reports end in another exit code.
				res(code === 0 ? null : `fedgw did not stop cleanly (code ${code}, signal ${sig}); ` +
					`see ${join(ARTIFACTS, 'fedgw.log')}`);
			});
			proc.kill('SIGTERM');
		}),
	};
}

const AXE = readFileSync(join(HERE, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const a11y = [];

// WCAG 2.1 A/AA checks (axe-core) on the screen as it is now. DevTools evaluation is not
// subject to the page's CSP, so the console keeps its real policy during the test.
async function checkA11y(page, name) {
	const violations = await page.evaluate(async (src) => {
		if (!window.axe) (0, eval)(src);
		const r = await window.axe.run(document, {
			runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
		});
		return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} [${v.nodes.length}x: ` +
			`${v.nodes.slice(0, 2).map((n) => n.target.join(' ')).join(', ')}]`);
	}, AXE);
	for (const v of violations) a11y.push(`${name}: ${v}`);
}

async function shot(page, name) {
	await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
	log(`screenshot ${name}.png`);
	await checkA11y(page, name);
}

async function go(page, base, route, heading) {
	await page.goto(`${base}#/${route}`);
	await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

async function login(page) {
	await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
	await page.getByLabel('Name', { exact: true }).fill(ADMIN);
	await page.getByLabel('Password').fill(PASSWORD);
	await page.getByRole('button', { name: 'Log in' }).click();
	await page.getByRole('heading', { level: 1, name: 'Status' }).waitFor();
}

async function openPanel(page, title) {
	const panel = page.locator('details.panel', { has: page.locator('summary', { hasText: title }) });
	if (!(await panel.evaluate((d) => d.open))) await panel.locator('summary').click();
	return panel;
}

async function run() {
	mkdirSync(ARTIFACTS, { recursive: true });
	const work = mkdtempSync(join(tmpdir(), 'fedgw-browser-'));
	const pki = makePki(work);
	const daemon = await startDaemon(work);
	const base = daemon.url;
	const userData = join(work, 'chromium');
	const problems = [];
	let stopProblem = null;
	let context = null;
	let page = null;
	try {
		context = await chromium.launchPersistentContext(userData, {
			executablePath: '/usr/bin/chromium',
			headless: true,
			args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
				'--no-first-run', '--disable-background-networking', '--disable-component-update',
				'--disable-sync',
				// The console's certificate is self-signed by design; without this each new
				// connection is first refused by the browser, which the daemon logs.
				'--ignore-certificate-errors'],
			ignoreHTTPSErrors: true,
			viewport: { width: 1280, height: 860 },
			timezoneId: 'Europe/Berlin',
			acceptDownloads: true,
		});
		context.setDefaultTimeout(STEP_MS);
		page = context.pages()[0] || (await context.newPage());
		// Script errors and CSP violations are failures: the console must run under its CSP.
		page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
		page.on('console', (m) => {
			if (m.type() === 'error' && !/status of 40[139]|status of 42[29]/.test(m.text()))
				problems.push(`console error: ${m.text()}`);
		});

		step = 'first-run setup';
		await page.goto(base);
		await page.getByRole('heading', { level: 1, name: 'Set up fedgw' }).waitFor();
		await shot(page, 'setup');
		await page.getByLabel('Administrator name').fill(ADMIN);
		await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
		await page.getByLabel('Confirm password').fill(PASSWORD);
		await page.getByRole('button', { name: 'Create administrator' }).click();
		await page.getByRole('heading', { level: 1, name: 'Status' }).waitFor();

		step = 'logout and login';
		await page.getByRole('button', { name: 'Log out' }).click();
		await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
		await page.getByLabel('Name', { exact: true }).fill(ADMIN);
		await page.getByLabel('Password').fill('wrong password here');
		await page.getByRole('button', { name: 'Log in' }).click();
		await page.locator('.notice-error').waitFor();
		log(`wrong password: ${await page.locator('.notice-error').innerText()}`);
		await shot(page, 'login');
		await login(page);
		await page.locator('dl.facts').first().waitFor();
		await page.getByText('Version').waitFor();
		await shot(page, 'status');

		step = 'create key and CSR';
		await go(page, base, 'certificates', 'Certificates');
		await page.getByText(/No certificates yet|Stored certificates/).first().waitFor();
		let panel = await openPanel(page, 'Create key and CSR');
		await panel.getByLabel('Name', { exact: true }).fill('xmpp-csr');
		await panel.getByLabel('Common name (CN)').fill('gw.fedgw.test');
		await panel.getByLabel('DNS names').fill('gw.fedgw.test\nxmpp.fedgw.test');
		await panel.getByRole('button', { name: 'Create key and CSR' }).click();
		const csr = panel.locator('textarea[name="csr_pem"]');
		await csr.waitFor();
		check((await csr.inputValue()).includes('BEGIN CERTIFICATE REQUEST'), 'CSR PEM shown');
		await page.locator('table.certs').getByText('xmpp-csr').waitFor();
		await panel.locator('summary').click();

		step = 'create a self-signed certificate and upload a CA bundle';
		panel = await openPanel(page, 'Create self-signed certificate');
		await panel.getByLabel('Name', { exact: true }).fill('lab-selfsigned');
		await panel.getByLabel('Common name (CN)').fill('lab.fedgw.test');
		await panel.getByLabel('Key type').selectOption('ec-p384');
		await panel.getByLabel('Valid for (days)').fill('30');
		await panel.getByRole('button', { name: 'Create self-signed certificate' }).click();
		await panel.locator('.notice-ok').waitFor();
		await page.locator('table.certs tr', { hasText: 'lab-selfsigned' }).getByText('ECDSA P-384')
			.waitFor();
		await panel.locator('summary').click();
		panel = await openPanel(page, 'Upload CA bundle');
		await panel.getByLabel('Name', { exact: true }).fill('test-root');
		// Read from a file with FileReader, as an admin picking root.pem would.
		await panel.getByLabel('Choose a file with the CA certificates').setInputFiles({
			name: 'root.pem', mimeType: 'application/x-pem-file', buffer: Buffer.from(pki.root) });
		await page.waitForFunction(() => document.querySelector('#add-ca textarea[name="pem"]')
			.value.includes('BEGIN CERTIFICATE'));
		await panel.getByRole('button', { name: 'Upload CA bundle' }).click();
		await panel.locator('.notice-ok').waitFor();
		await page.locator('table.certs tr', { hasText: 'test-root' }).getByText('CA bundle').waitFor();
		await panel.locator('summary').click();

		step = 'upload a chain in the wrong order';
		panel = await openPanel(page, 'Upload certificate');
		await panel.getByLabel('Name', { exact: true }).fill('xmpp-2026');
		await panel.getByLabel('Certificate chain (PEM)').fill(pki.inter + pki.leaf);
		await panel.getByLabel('Private key (PEM, optional)').fill(pki.leafKey);
		await panel.getByRole('button', { name: 'Upload certificate' }).click();
		const chainErr = panel.locator('.field-error');
		await chainErr.waitFor();
		const chainText = await chainErr.innerText();
		log(`wrong order: ${chainText}`);
		check(chainText.length > 20, 'the chain error explains itself');
		check(await panel.locator('textarea[name="certificate_pem"][aria-invalid="true"]').count() === 1,
			'the chain field is marked invalid');
		await shot(page, 'certificates-chain-error');

		step = 'upload the chain in the right order';
		await panel.getByLabel('Certificate chain (PEM)').fill(pki.leaf + pki.inter);
		await panel.getByRole('button', { name: 'Upload certificate' }).click();
		await panel.locator('.notice-ok').waitFor();
		await page.locator('table.certs tr', { hasText: 'xmpp-2026' }).waitFor();

		step = 'short-lived certificate for the console raises the expiry fault';
		await panel.getByLabel('Name', { exact: true }).fill('console-short');
		await panel.getByLabel('Certificate chain (PEM)').fill(pki.short + pki.inter);
		await panel.getByLabel('Private key (PEM, optional)').fill(pki.shortKey);
		await panel.getByRole('button', { name: 'Upload certificate' }).click();
		const row = page.locator('table.certs tr', { hasText: 'console-short' });
		await row.waitFor();
		await panel.locator('summary').click();
		await row.getByRole('button', { name: 'Use for console' }).click();
		await page.locator('table.certs tr', { hasText: 'console-short' })
			.locator('.badge', { hasText: 'console' }).waitFor();
		await page.locator('#banner a', { hasText: /active fault/ }).waitFor({ timeout: FAULT_WAIT_MS });
		await page.locator('table.certs th').getByRole('button', { name: 'Valid' }).click();
		check((await page.locator('table.certs tbody tr').first().innerText()).includes('console-short'),
			'sorting by validity puts the soonest expiry first');
		const bannerText = await page.locator('#banner').innerText();
		log(`banner: ${bannerText}`);
		check(/expire/i.test(bannerText), 'the banner names the expiry');
		await shot(page, 'certificates');

		step = 'delete the console certificate is refused';
		page.once('dialog', () => {});
		await page.locator('table.certs tr', { hasText: 'console-short' })
			.getByRole('button', { name: /Delete/ }).click();
		await page.locator('dialog.dialog').getByRole('button', { name: 'Delete' }).click();
		await page.locator('.screen > .notice-error').waitFor();
		log(`delete in use: ${await page.locator('.screen > .notice-error').innerText()}`);

		step = 'the fault on the status screen';
		await page.locator('#banner a').click();
		await page.getByRole('heading', { level: 1, name: 'Status' }).waitFor();
		await page.locator('ul.faults li', { hasText: /expire/i }).first().waitFor();
		const detail = page.getByText('Technical detail');
		if (await detail.count()) await detail.first().click();
		await shot(page, 'status-fault');

		step = 'a renewed console certificate clears the fault';
		await go(page, base, 'certificates', 'Certificates');
		await page.locator('table.certs tr', { hasText: 'xmpp-2026' })
			.getByRole('button', { name: 'Use for console' }).click();
		await page.locator('#banner').waitFor({ state: 'hidden', timeout: FAULT_WAIT_MS });
		await go(page, base, 'status', 'Status');
		await page.getByRole('heading', { name: 'Recently cleared' }).waitFor();

		step = 'logs: read and clear';
		await go(page, base, 'logs', 'Logs');
		await page.locator('table.logs tbody tr').first().waitFor();
		await shot(page, 'logs');
		await page.getByLabel('Level').selectOption('warning');
		await page.waitForFunction(() => [...document.querySelectorAll('table.logs tbody tr')]
			.every((tr) => /warning|error/.test(tr.cells[2] ? tr.cells[2].textContent : '')));
		await page.getByLabel('Level').selectOption('');
		await page.getByLabel('Search').fill('certificate');
		await page.waitForFunction(() => {
			const rows = [...document.querySelectorAll('table.logs tbody tr')];
			return rows.length > 0 && rows.every((tr) => /certificate/i.test(tr.textContent));
		});
		check((await page.locator('a', { hasText: 'Download' }).getAttribute('href'))
			.includes('q=certificate'), 'the download link carries the filter');
		await page.getByLabel('Search').fill('');
		await page.getByRole('button', { name: 'Clear logs…' }).click();
		await page.locator('dialog.dialog').getByRole('button', { name: 'Clear logs' }).click();
		await page.locator('.notice-ok', { hasText: 'Logs cleared' }).waitFor();
		await page.locator('table.logs', { hasText: new RegExp(`log messages? cleared by ${ADMIN}`) })
			.waitFor();
		const cleared = await page.locator('table.logs tbody tr', { hasText: 'cleared by' })
			.first().innerText();
		log(`log line: ${cleared.replace(/\s+/g, ' ')}`);
		await shot(page, 'logs-cleared');

		step = 'audit trail';
		await go(page, base, 'audit', 'Audit');
		await page.locator('table.audit tbody tr').first().waitFor();
		await page.locator('table.audit tbody tr', { hasText: /log/i }).first().waitFor();
		await shot(page, 'audit');
		await page.getByLabel('Search').fill('log.clear');
		await page.locator('.pager-info', { hasText: /^1–1 of 1$/ }).waitFor();
		check((await page.locator('table.audit tbody tr').innerText()).includes('log.clear'),
			'the audit search finds the clearing');

		step = 'accounts';
		await go(page, base, 'accounts', 'Accounts');
		await page.locator('table tbody tr', { hasText: ADMIN }).first().waitFor();
		const add = page.locator('form', { has: page.getByRole('button', { name: 'Add administrator' }) });
		await add.getByLabel('Name', { exact: true }).fill('operator');
		await add.getByLabel('Password', { exact: true }).fill('short');
		await add.getByLabel('Confirm password').fill('short');
		await add.getByRole('button', { name: 'Add administrator' }).click();
		await add.locator('.field-error').waitFor();
		await add.getByLabel('Password', { exact: true }).fill(PASSWORD);
		await add.getByLabel('Confirm password').fill(PASSWORD);
		await add.getByRole('button', { name: 'Add administrator' }).click();
		const opRow = page.locator('table tbody tr', { hasText: 'operator' });
		await opRow.waitFor();
		await shot(page, 'accounts');
		await opRow.getByRole('button', { name: 'Change password of operator' }).click();
		const pw = page.locator('dialog.pw-dialog');
		await pw.getByLabel('New password', { exact: true }).fill('another long password');
		await pw.getByLabel('Confirm new password').fill('another long password');
		await pw.getByRole('button', { name: 'Change password' }).click();
		await page.locator('.screen > .notice-ok', { hasText: 'operator' }).waitFor();
		await opRow.getByRole('button', { name: 'Delete operator' }).click();
		await page.locator('dialog.dialog').getByRole('button', { name: 'Delete' }).click();
		await opRow.waitFor({ state: 'detached' });

		// Screens added later appear in the navigation; each one gets a screenshot too.
		step = 'other screens';
		const known = new Set(['status', 'logs', 'certificates', 'accounts', 'audit']);
		const routes = await page.locator('#nav a').evaluateAll((as) => as.map((a) => ({
			route: a.dataset.route, title: a.textContent.trim() })));
		// The stand-in serves only the five screens' API.
		for (const r of routes.filter((x) => !known.has(x.route))) {
			await go(page, base, r.route, r.title);
			await page.waitForLoadState('networkidle');
			await page.waitForTimeout(1000); // let the screen finish drawing
			await shot(page, r.route);
		}

		step = 'narrow screen';
		await page.setViewportSize({ width: 390, height: 844 });
		await go(page, base, 'status', 'Status');
		await page.locator('dl.facts').first().waitFor();
		await shot(page, 'status-narrow');
		await go(page, base, 'certificates', 'Certificates');
		await page.locator('table.certs tbody tr').first().waitFor();
		await shot(page, 'certificates-narrow');
		await page.setViewportSize({ width: 1280, height: 860 });

		step = 'logout, then the API refuses';
		await page.getByRole('button', { name: 'Log out' }).click();
		await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
		const code = await page.evaluate(async () => {
			const r = await fetch('/api/v1/status', { headers: { 'X-Requested-With': 'fedgw' } });
			return r.status;
		});
		check(code === 401, `GET /api/v1/status after logout answers 401 (got ${code})`);

		step = 'repeated wrong passwords are slowed down';
		let throttled = '';
		for (let i = 0; i < 6 && !throttled; i++) {
			await page.getByLabel('Name', { exact: true }).fill(ADMIN);
			await page.getByLabel('Password').fill(`wrong password ${i}`);
			await page.getByRole('button', { name: 'Log in' }).click();
			const note = page.locator('.notice-error');
			await note.waitFor();
			await page.waitForFunction(() => !document.querySelector('form[aria-busy]'));
			const t = await note.innerText();
			if (/Too many/.test(t)) throttled = t;
		}
		log(`throttled: ${throttled}`);
		check(/Try again in \d+ seconds?/.test(throttled), 'the login page says when to try again');
		await shot(page, 'login-throttled');

		check(problems.length === 0, `no script errors or CSP violations:\n  ${problems.join('\n  ')}`);
		check(a11y.length === 0, `no accessibility violations:\n  ${a11y.join('\n  ')}`);
	} catch (e) {
		if (page) {
			try {
				await shot(page, 'failure');
			} catch {
				/* the page may be gone */
			}
		}
		if (a11y.length) log(`accessibility:\n  ${a11y.join('\n  ')}`);
		if (problems.length) log(`page problems:\n  ${problems.join('\n  ')}`);
		throw new Error(`step "${step}": ${e.message}`);
	} finally {
		if (context) await context.close();
		stopProblem = await daemon.stop();
		rmSync(work, { recursive: true, force: true });
	}
	if (stopProblem) throw new Error(stopProblem);
}

run().then(() => {
	log('PASS');
	process.exit(0);
}, (e) => {
	console.error(`[browser] FAIL ${e.message}`);
	process.exit(1);
});
