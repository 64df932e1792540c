// The console's XMPP screen in headless Chromium against the real daemon: add a domain
// (the DNS records to publish appear), change a setting, regenerate the dialback secret
// (shown once), add an allow-list entry whose description holds HTML (shown as text), set
// the default to deny (the allow-listed domain is warned about), add a policy exception,
// see the peers table, and validate an unknown domain (the DNS step fails with its fix).
//   node xmpp.test.mjs --fedgw /path/to/fedgw      (or FEDGW_BIN=...)
// Screenshots of every section go to tests/artifacts/browser/ (xmpp-*.png). No process
// uses the machine's resolver: the gateway's DNS server is a closed port on loopback.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, createWriteStream, existsSync }
	from 'node:fs';
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
	console.log(`[browser-xmpp] ${msg}`);
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
	// Loopback only, a free s2s port, federation off (no listener), and DNS asked only of
	// a closed port on loopback.
	cli('xmpp', 'set', 'enabled=false', 'bind=127.0.0.1', `port=${await freePort()}`,
		`dns_servers=127.0.0.1@${await freePort()}`, 'dns_transparent_zones=test',
		'connect_timeout_s=2');
	cli('pki', 'selfsign', 'gw-cert', 'CN:gw.fedgw.test', 'subAltName:gw.fedgw.test');
	const out = createWriteStream(join(ARTIFACTS, 'fedgw-xmpp.log'));
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
					`see ${join(ARTIFACTS, 'fedgw-xmpp.log')}`);
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
	await page.goto(`${base}#/xmpp/${id}`);
	await page.getByRole('heading', { level: 1, name: 'XMPP federation' }).waitFor();
	await page.getByRole('heading', { level: 2, name: heading, exact: true }).waitFor();
}

async function run() {
	mkdirSync(ARTIFACTS, { recursive: true });
	const work = mkdtempSync(join(tmpdir(), 'fedgw-browser-xmpp-'));
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

		step = 'the XMPP screen from the navigation, with no domain yet';
		const navLinks = await page.locator('#nav a').allInnerTexts();
		check(navLinks.slice(0, 5).join(',') === 'Status,Logs,SIP,XMPP,Certificates',
			`navigation order Status, Logs, SIP, XMPP, Certificates (got ${navLinks.join(', ')})`);
		await page.locator('#nav a', { hasText: 'XMPP' }).click();
		await page.getByRole('heading', { level: 1, name: 'XMPP federation' }).waitFor();
		await page.getByText('No XMPP domain yet. Add the domain you federate as').waitFor();
		await page.locator('input[name="port"]').waitFor();
		await page.getByText('Not listening: federation is off.').waitFor();
		await shot(page, 'xmpp-settings-empty');

		step = 'add a domain: the records to publish appear';
		const addForm = page.locator('form', { has: page.getByRole('button', { name: 'Add domain' }) });
		await addForm.getByLabel('Domain').fill('GW.fedgw.test');
		await addForm.getByLabel('Certificate').selectOption({ label: 'gw-cert' });
		await addForm.getByRole('button', { name: 'Add domain' }).click();
		await addForm.locator('.field-error', { hasText: 'lowercase' }).waitFor();
		await addForm.getByLabel('Domain').fill('gw.fedgw.test');
		await addForm.getByRole('button', { name: 'Add domain' }).click();
		const rec = page.locator('table.xmpp-domains code', { hasText: '_xmpp-server._tcp.gw.fedgw.test.' });
		await rec.waitFor();
		log(`record: ${await rec.innerText()}`);
		await page.locator('.notice', { hasText: 'Added the XMPP domain gw.fedgw.test' }).waitFor();

		step = 'change a setting: the answer says what changed';
		await page.getByLabel('Stanza size limit (bytes)').fill('262144');
		await page.getByRole('button', { name: 'Save settings' }).click();
		await page.locator('.notice', { hasText: 'max_stanza_bytes: 524288 -> 262144' }).waitFor();
		await page.getByLabel('Port', { exact: true }).fill('0');
		await page.getByRole('button', { name: 'Save settings' }).click();
		await page.locator('input[name="port"][aria-invalid="true"]').waitFor();
		await page.locator('.field-error', { hasText: 'The port (port) must be a whole number' }).waitFor();
		await page.getByLabel('Port', { exact: true }).fill(await page.locator('input[name="port"]')
			.getAttribute('value'));
		await page.getByRole('button', { name: 'Save settings' }).click();
		await page.locator('.notice', { hasText: 'Nothing to save' }).waitFor();

		step = 'regenerate the dialback secret: shown once with a copy button';
		await page.getByRole('button', { name: 'Regenerate' }).click();
		await page.locator('dialog.dialog').getByRole('button', { name: 'Regenerate' }).click();
		const secretBox = page.locator('input[name="new_secret"]');
		await secretBox.waitFor();
		const secret = await secretBox.inputValue();
		check(/^[0-9a-f]{64}$/.test(secret), 'the new secret is 64 hex characters');
		await page.getByRole('button', { name: 'Copy secret' }).waitFor();
		await shot(page, 'xmpp-settings');
		await page.reload();
		await page.getByRole('heading', { level: 2, name: 'Dialback secret' }).waitFor();
		await page.locator('code.masked').waitFor();
		check(!(await page.content()).includes(secret), 'after a reload the secret is not shown');

		step = 'allow list: add an entry with HTML in its description';
		await section(page, base, 'allow', 'Allow list');
		await page.getByText('No domain on the allow list yet').waitFor();
		const allowForm = page.locator('form', { has: page.getByRole('button', { name: 'Add to allow list' }) });
		await allowForm.getByLabel('Domain').fill('partner.fedgw.test');
		await allowForm.getByLabel('Port (optional)').fill('70000');
		await allowForm.getByRole('button', { name: 'Add to allow list' }).click();
		await allowForm.locator('input[name="port"][aria-invalid="true"]').waitFor();
		await allowForm.getByLabel('Port (optional)').fill('');
		await allowForm.getByLabel('Authentication').selectOption('dialback');
		await allowForm.getByLabel('TLS').selectOption('optional');
		await allowForm.getByLabel('Description (optional)').fill(HTML_DESC);
		await allowForm.getByRole('button', { name: 'Add to allow list' }).click();
		const allowRow = page.locator('table.xmpp-allow tbody tr', { hasText: 'partner.fedgw.test' });
		await allowRow.waitFor();
		check((await allowRow.innerText()).includes(HTML_DESC), 'the description shows as text');
		check(await allowRow.locator('b, script').count() === 0, 'no HTML from the description');
		await allowRow.getByText('not connected').waitFor();
		await page.getByLabel('Filter the allow list').fill('nothing-like-it');
		await allowRow.waitFor({ state: 'hidden' });
		await page.getByLabel('Filter the allow list').fill('partner');
		await allowRow.waitFor();

		step = 'allow list: edit an entry';
		await allowRow.getByRole('button', { name: 'Edit partner.fedgw.test' }).click();
		const editForm = page.locator('form', { has: page.getByRole('button', { name: 'Save changes' }) });
		await editForm.getByLabel('Server (optional)').fill('xmpp.partner.fedgw.test');
		await editForm.getByLabel('Port (optional)').fill('5299');
		await editForm.getByRole('button', { name: 'Save changes' }).click();
		await allowRow.getByText('xmpp.partner.fedgw.test:5299').waitFor();
		await page.locator('.notice', { hasText: 'Saved partner.fedgw.test' }).waitFor();
		await shot(page, 'xmpp-allow');

		step = 'policy: default deny warns, an exception allows';
		await section(page, base, 'policy', 'Default');
		await page.getByLabel('Denied (default deny)').check();
		await page.getByRole('button', { name: 'Save default' }).click();
		await page.locator('.warnings li', { hasText: 'partner.fedgw.test is on the allow list' })
			.first().waitFor();
		const ruleForm = page.locator('form', { has: page.getByRole('button', { name: 'Add exception' }) });
		await ruleForm.getByLabel('Pattern').fill('*.*.fedgw.test');
		await ruleForm.getByRole('button', { name: 'Add exception' }).click();
		await ruleForm.locator('input[name="pattern"][aria-invalid="true"]').waitFor();
		await ruleForm.getByLabel('Pattern').fill('*.fedgw.test');
		await ruleForm.getByLabel('Verdict').selectOption('allow');
		await ruleForm.getByLabel('Direction').selectOption('incoming');
		await ruleForm.getByLabel('Description (optional)').fill('lab peers');
		await ruleForm.getByRole('button', { name: 'Add exception' }).click();
		await page.locator('table.xmpp-rules tbody tr', { hasText: '*.fedgw.test' })
			.getByText('Incoming only').waitFor();
		await page.locator('.notice', { hasText: 'Added the exception *.fedgw.test' }).waitFor();
		await shot(page, 'xmpp-policy');

		step = 'peers';
		await section(page, base, 'peers', 'Peers');
		await page.locator('table.xmpp-peers th', { hasText: 'Stanzas in / out' }).waitFor();
		await page.locator('table.xmpp-peers td.empty', { hasText: 'No XMPP peer is connected' })
			.waitFor();
		await shot(page, 'xmpp-peers');

		step = 'validate an unknown domain: the DNS step fails with its fix';
		await section(page, base, 'validate', 'Validate connection');
		await page.locator('.records code', { hasText: '_xmpp-server._tcp.gw.fedgw.test.' }).waitFor();
		await page.getByRole('textbox', { name: 'Domain' }).fill('nowhere.fedgw.test');
		await page.getByRole('button', { name: 'Validate' }).click();
		await page.locator('ol.phases li.phase-fail', { hasText: 'DNS' })
			.waitFor({ timeout: VALIDATE_MS });
		await page.getByRole('button', { name: 'Try again' }).waitFor({ timeout: VALIDATE_MS });
		const failed = page.locator('li.step-fail').first();
		check(await failed.locator('.fix').count() > 0, 'the failed step says how to fix it');
		log(`failed step: ${(await failed.innerText()).replace(/\s+/g, ' ').slice(0, 200)}`);
		await shot(page, 'xmpp-validate');

		step = 'narrow screen';
		await page.setViewportSize({ width: 390, height: 844 });
		await section(page, base, 'allow', 'Allow list');
		await page.locator('table.xmpp-allow tbody tr').first().waitFor();
		await shot(page, 'xmpp-allow-narrow');

		check(problems.length === 0, `no script errors or CSP violations:\n  ${problems.join('\n  ')}`);
		check(a11y.length === 0, `no accessibility violations:\n  ${a11y.join('\n  ')}`);
	} catch (e) {
		if (page) {
			try {
				await shot(page, 'xmpp-failure');
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
	console.error(`[browser-xmpp] FAIL ${e.message}`);
	process.exit(1);
});
