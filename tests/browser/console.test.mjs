// The fedgw console in headless Chromium, end to end against the real daemon:
// first-run setup, login, CSR, chain upload (wrong order, then right), the expiry fault
// of a short-lived console certificate, logs and their clearing, audit, logout.
//   node console.test.mjs --fedgw /path/to/fedgw      (or FEDGW_BIN=...)
// Screenshots of every screen go to tests/artifacts/browser/.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, ARTIFACTS, PASSWORD, check, firstRunSetup, freePort, inBrowser, log, main,
	shot, startDaemon } from './common.mjs';

// The daemon checks certificate expiry within a few seconds of a change.
const FAULT_WAIT_MS = 30000;

let step = '';

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
	const daemon = await startDaemon(work, 'fedgw.log', async (cli) => {
		// The test may only use loopback and must not take well-known ports (5269, 5060,
		// 5061) that other tests or services hold: the engine's listeners stay off and on
		// 127.0.0.1 (a build without one of these verbs has no such listener).
		const quiet = [
			['xmpp', 'set', 'enabled=false', 'bind=127.0.0.1', `port=${await freePort()}`],
			['sip', 'set', 'enabled=false', 'bind=127.0.0.1', 'tcp_port=0', 'tls_port=0'],
		];
		for (const args of quiet) {
			try {
				cli(...args);
			} catch (e) {
				log(`fedgw ${args[0]} set: ${String(e.stderr || e.message).trim().split('\n')[0]}`);
			}
		}
	});
	const base = daemon.url;
	await inBrowser(work, daemon, 'failure', () => step, async (page) => {
		step = 'first-run setup';
		await firstRunSetup(page, base, (p) => shot(p, 'setup'));

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
	}, { acceptDownloads: true });
}

main(run);
