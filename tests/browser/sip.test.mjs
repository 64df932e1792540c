// The console's SIP screen in headless Chromium against the real daemon: the empty state,
// add a SIP domain (a wrong name is refused next to its field; the CA bundle is required for
// TLS), the domains table with the next hop's health beside its configuration, edit a domain,
// the settings (an FQDN the SIP certificate lacks is warned about, seed 000), and validate
// connection with the domain picked from a list (seed 001): the next hop does not exist, so
// the DNS step (a name) or the TCP step (a closed port) fails with its fix.
//   node sip.test.mjs --fedgw /path/to/fedgw      (or FEDGW_BIN=...)
// Screenshots go to tests/artifacts/browser/ (sip-*.png). No process uses the machine's
// resolver: the gateway's DNS server is a closed port on loopback.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, createWriteStream, existsSync,
	writeFileSync } from 'node:fs';
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
// A validation of an unknown domain ends when DNS gives up on the closed port.
const VALIDATE_MS = 60000;
const HTML_DESC = '<b>bold</b> & <script>alert(1)</script>';

function arg(name) {
	const i = process.argv.indexOf(name);
	return i > 0 ? process.argv[i + 1] : undefined;
}

const fedgwBin = arg('--fedgw') || process.env.FEDGW_BIN;
let step = '';

function log(msg) {
	console.log(`[browser-sip] ${msg}`);
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
			if (proc.exitCode !== null) {
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

async function startDaemon(work) {
	if (!fedgwBin || !existsSync(fedgwBin))
		throw new Error('fedgw binary not found: pass --fedgw PATH or set FEDGW_BIN');
	const dataDir = join(work, 'data');
	mkdirSync(dataDir, { mode: 0o700 });
	const port = await freePort();
	const cli = (...a) => execFileSync(fedgwBin, ['--data-dir', dataDir, ...a],
		{ stdio: ['ignore', 'pipe', 'pipe'] }).toString();
	// Loopback only: XMPP federation off, the SIP listener on a free loopback port (TLS
	// off), and DNS asked only of a closed port on loopback.
	cli('xmpp', 'set', 'enabled=false', 'bind=127.0.0.1', `port=${await freePort()}`,
		`dns_servers=127.0.0.1@${await freePort()}`, 'dns_transparent_zones=test',
		'connect_timeout_s=2');
	cli('sip', 'set', 'bind=127.0.0.1', `tcp_port=${await freePort()}`, 'tls_port=0');
	cli('pki', 'selfsign', 'sipgw-cert', 'CN:sipgw.fedgw.test', 'subAltName:sipgw.fedgw.test');
	cli('pki', 'selfsign', 'edge-root', 'CN:edge-ca.fedgw.test');
	const caPem = join(work, 'edge-ca.pem');
	writeFileSync(caPem, cli('pki', 'pem', 'edge-root'));
	cli('pki', 'import-ca', 'edge-ca', caPem);
	const out = createWriteStream(join(ARTIFACTS, 'fedgw-sip.log'));
	const proc = spawn(fedgwBin, ['serve', '--data-dir', dataDir, '--console-bind', '127.0.0.1',
		'--console-port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'],
		env: { ...process.env, ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1' } });
	proc.stdout.pipe(out);
	proc.stderr.pipe(out);
	log(`fedgw pid ${proc.pid} on 127.0.0.1:${port}`);
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
				res(code === 0 ? null : `fedgw did not stop cleanly (code ${code}, signal ${sig}); ` +
					`see ${join(ARTIFACTS, 'fedgw-sip.log')}`);
			});
			proc.kill('SIGTERM');
		}),
	};
}

const AXE = readFileSync(join(HERE, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const a11y = [];

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

async function section(page, base, id, heading) {
	await page.goto(`${base}#/sip/${id}`);
	await page.getByRole('heading', { level: 1, name: 'SIP gateway' }).waitFor();
	await page.getByRole('heading', { level: 2, name: heading, exact: true }).waitFor();
}

async function run() {
	mkdirSync(ARTIFACTS, { recursive: true });
	const work = mkdtempSync(join(tmpdir(), 'fedgw-browser-sip-'));
	const daemon = await startDaemon(work);
	const base = daemon.url;
	const problems = [];
	let stopProblem = null;
	let context = null;
	let page = null;
	try {
		context = await chromium.launchPersistentContext(join(work, 'chromium'), {
			executablePath: '/usr/bin/chromium',
			headless: true,
			args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
				'--no-first-run', '--disable-background-networking', '--disable-component-update',
				'--disable-sync', '--ignore-certificate-errors'],
			ignoreHTTPSErrors: true,
			viewport: { width: 1280, height: 860 },
			timezoneId: 'Europe/Berlin',
		});
		context.setDefaultTimeout(STEP_MS);
		page = context.pages()[0] || (await context.newPage());
		page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
		page.on('console', (m) => {
			if (m.type() === 'error' && !/status of 40[139]|status of 42[29]/.test(m.text()))
				problems.push(`console error: ${m.text()}`);
		});

		step = 'first-run setup';
		await page.goto(base);
		await page.getByRole('heading', { level: 1, name: 'Set up fedgw' }).waitFor();
		await page.getByLabel('Administrator name').fill(ADMIN);
		await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
		await page.getByLabel('Confirm password').fill(PASSWORD);
		await page.getByRole('button', { name: 'Create administrator' }).click();
		await page.getByRole('heading', { level: 1, name: 'Status' }).waitFor();

		step = 'the SIP screen from the navigation, with no domain yet';
		const navLinks = await page.locator('#nav a').allInnerTexts();
		check(navLinks.slice(0, 4).join(',') === 'Status,Logs,SIP,XMPP',
			`navigation order Status, Logs, SIP, XMPP (got ${navLinks.join(', ')})`);
		await page.locator('#nav a', { hasText: 'SIP' }).click();
		await page.getByRole('heading', { level: 1, name: 'SIP gateway' }).waitFor();
		await page.getByText('No SIP domain yet. Add the SIP domain of your users and its ' +
			'Access Edge as next hop.').waitFor();
		await page.getByText('SIP gateway on').waitFor();
		await shot(page, 'sip-empty');

		step = 'add a SIP domain: refusals next to their field';
		const form = page.locator('form', { has: page.getByRole('button', { name: 'Add SIP domain' }) });
		await form.getByLabel('SIP domain').fill('SIP.fedgw.test');
		await form.getByLabel('Next hop (Access Edge)').fill('edge.sip.fedgw.test');
		await form.getByLabel('SIP certificate').selectOption({ label: 'sipgw-cert' });
		await form.getByRole('button', { name: 'Add SIP domain' }).click();
		await form.locator('input[name="domain"][aria-invalid="true"]').waitFor();
		await form.locator('.field-error', { hasText: 'lowercase' }).waitFor();
		await form.getByLabel('SIP domain').fill('sip.fedgw.test');
		await form.getByRole('button', { name: 'Add SIP domain' }).click();
		await form.locator('select[name="ca_id"][aria-invalid="true"]').waitFor();
		await form.locator('.field-error', { hasText: 'trusted CA bundle' }).waitFor();
		await shot(page, 'sip-add-refused');
		await form.getByLabel('Trusted CA bundle').selectOption({ label: 'edge-ca' });
		await form.getByRole('button', { name: 'Add SIP domain' }).click();
		const row = page.locator('table.sip-domains tbody tr', { hasText: 'sip.fedgw.test' });
		await row.waitFor();
		await page.locator('.notice', { hasText: 'Added the SIP domain sip.fedgw.test' }).waitFor();
		await row.getByText('edge.sip.fedgw.test:5061').waitFor();
		await row.getByText('XMPP: sip.fedgw.test').waitFor();
		await row.getByText('Trusted CA: edge-ca').waitFor();

		step = 'a second domain over TCP toward a closed port on loopback';
		const closed = await freePort();
		await page.locator('summary', { hasText: 'Add a SIP domain' }).click();
		await form.getByLabel('SIP domain').fill('tcp.fedgw.test');
		await form.getByLabel('Next hop (Access Edge)').fill('127.0.0.1');
		await form.getByLabel('Port', { exact: true }).fill(String(closed));
		await form.getByLabel('Transport').selectOption('tcp');
		await form.getByLabel('Mapped XMPP domain').fill('chat.fedgw.test');
		await form.getByRole('button', { name: 'Add SIP domain' }).click();
		const tcpRow = page.locator('table.sip-domains tbody tr', { hasText: 'tcp.fedgw.test' });
		await tcpRow.waitFor();
		await tcpRow.getByText(`127.0.0.1:${closed}`).waitFor();
		await tcpRow.getByText('XMPP: chat.fedgw.test').waitFor();

		step = 'the next hop health beside the configuration';
		await tcpRow.locator('td.health .badge').first().waitFor();
		const health = await tcpRow.locator('td.health').innerText();
		check(/DNS/.test(health) && /TCP/.test(health) && /OPTIONS/.test(health),
			`the health cell shows DNS, TCP and OPTIONS (got ${health.replace(/\s+/g, ' ')})`);
		await shot(page, 'sip-domains');

		step = 'edit a domain';
		await row.getByRole('button', { name: 'Edit sip.fedgw.test' }).click();
		const editForm = page.locator('form', { has: page.getByRole('button', { name: 'Save changes' }) });
		check(await editForm.locator('input[name="domain"]').getAttribute('readonly') !== null,
			'the domain is read-only while editing');
		await editForm.getByLabel('Port', { exact: true }).fill('5071');
		await editForm.getByRole('button', { name: 'Save changes' }).click();
		await page.locator('.notice', { hasText: 'port: 5061 -> 5071' }).waitFor();
		await row.getByText('edge.sip.fedgw.test:5071').waitFor();

		step = 'settings: an FQDN the SIP certificate lacks is warned about';
		await section(page, base, 'settings', 'SIP settings');
		await page.locator('ul.records li', { hasText: 'listening' }).first().waitFor();
		await page.getByLabel('Gateway FQDN').fill('gw.elsewhere.fedgw.test');
		await page.getByRole('button', { name: 'Save settings' }).click();
		await page.locator('.warnings li', { hasText: 'does not name gw.elsewhere.fedgw.test' }).waitFor();
		await page.getByLabel('SIP over TLS port').fill('70000');
		await page.getByRole('button', { name: 'Save settings' }).click();
		await page.locator('input[name="tls_port"][aria-invalid="true"]').waitFor();
		await page.getByLabel('SIP over TLS port').fill('0');
		await page.getByLabel('Gateway FQDN').fill('sipgw.fedgw.test');
		await page.getByRole('button', { name: 'Save settings' }).click();
		await page.locator('.notice', { hasText: 'fqdn: gw.elsewhere.fedgw.test -> sipgw.fedgw.test' })
			.waitFor();
		await shot(page, 'sip-settings');

		step = 'validate, the domain picked from the list: the TCP step fails with its fix';
		await section(page, base, 'validate', 'Validate connection');
		const pick = page.getByLabel('SIP domain');
		await pick.locator('option').nth(1).waitFor({ state: 'attached' });
		const options = await pick.locator('option').allTextContents();
		check(options.length === 2, `both SIP domains are offered (got ${options.join(' | ')})`);
		await pick.selectOption('tcp.fedgw.test');
		await page.getByRole('button', { name: 'Validate' }).click();
		await page.locator('ol.phases li.phase-fail', { hasText: 'TCP' })
			.waitFor({ timeout: VALIDATE_MS });
		await page.getByRole('button', { name: 'Try again' }).waitFor({ timeout: VALIDATE_MS });
		let failed = page.locator('li.step-fail').first();
		check(await failed.locator('.fix').count() > 0, 'the failed TCP step says how to fix it');
		log(`failed step: ${(await failed.innerText()).replace(/\s+/g, ' ').slice(0, 200)}`);
		await shot(page, 'sip-validate-tcp');

		step = 'validate from the domains table: the DNS step fails with its fix';
		await section(page, base, 'domains', 'SIP domains');
		await row.getByRole('link', { name: 'Validate sip.fedgw.test' }).click();
		await page.getByRole('heading', { level: 2, name: 'Validate connection' }).waitFor();
		await page.locator('ol.phases li.phase-fail', { hasText: 'DNS' })
			.waitFor({ timeout: VALIDATE_MS });
		await page.getByRole('button', { name: 'Try again' }).waitFor({ timeout: VALIDATE_MS });
		failed = page.locator('li.step-fail').first();
		check(await failed.locator('.fix').count() > 0, 'the failed DNS step says how to fix it');
		log(`failed step: ${(await failed.innerText()).replace(/\s+/g, ' ').slice(0, 200)}`);
		await shot(page, 'sip-validate-dns');

		step = 'delete a domain';
		await section(page, base, 'domains', 'SIP domains');
		await tcpRow.getByRole('button', { name: 'Delete tcp.fedgw.test' }).click();
		await page.locator('dialog.dialog').getByRole('button', { name: 'Delete' }).click();
		await tcpRow.waitFor({ state: 'detached' });
		await page.locator('.notice', { hasText: 'Deleted the SIP domain tcp.fedgw.test' }).waitFor();

		step = 'narrow screen';
		await page.setViewportSize({ width: 390, height: 844 });
		await section(page, base, 'domains', 'SIP domains');
		await page.locator('table.sip-domains tbody tr').first().waitFor();
		await shot(page, 'sip-domains-narrow');

		check(problems.length === 0, `no script errors or CSP violations:\n  ${problems.join('\n  ')}`);
		check(a11y.length === 0, `no accessibility violations:\n  ${a11y.join('\n  ')}`);
	} catch (e) {
		if (page) {
			try {
				await shot(page, 'sip-failure');
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
	console.error(`[browser-sip] FAIL ${e.message}`);
	process.exit(1);
});
