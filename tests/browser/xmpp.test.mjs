// The console's XMPP screen in headless Chromium against the real daemon: add a domain
// (the DNS records to publish appear), change a setting, regenerate the dialback secret
// (shown once), add an allow-list entry whose description holds HTML (shown as text), set
// the default to deny (the allow-listed domain is warned about), add a policy exception,
// see the peers table, and validate an unknown domain (the DNS step fails with its fix).
//   node xmpp.test.mjs --fedgw /path/to/fedgw      (or FEDGW_BIN=...)
// Screenshots of every section go to tests/artifacts/browser/ (xmpp-*.png). No process
// uses the machine's resolver: the gateway's DNS server is a closed port on loopback.
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTIFACTS, check, firstRunSetup, freePort, inBrowser, log, main, setLogTag, shot,
	startDaemon } from './common.mjs';

// A validation of an unknown domain ends when DNS gives up on the closed port.
const VALIDATE_MS = 60000;
const HTML_DESC = '<b>bold</b> & <script>alert(1)</script>';

let step = '';
setLogTag('browser-xmpp');

async function section(page, base, id, heading) {
	await page.goto(`${base}#/xmpp/${id}`);
	await page.getByRole('heading', { level: 1, name: 'XMPP federation' }).waitFor();
	await page.getByRole('heading', { level: 2, name: heading, exact: true }).waitFor();
}

async function run() {
	mkdirSync(ARTIFACTS, { recursive: true });
	const work = mkdtempSync(join(tmpdir(), 'fedgw-browser-xmpp-'));
	const daemon = await startDaemon(work, 'fedgw-xmpp.log', async (cli) => {
		// Loopback only, a free s2s port, federation off (no listener), and DNS asked only of
		// a closed port on loopback.
		cli('xmpp', 'set', 'enabled=false', 'bind=127.0.0.1', `port=${await freePort()}`,
			`dns_servers=127.0.0.1@${await freePort()}`, 'dns_transparent_zones=test',
			'connect_timeout_s=2');
		cli('pki', 'selfsign', 'gw-cert', 'CN:gw.fedgw.test', 'subAltName:gw.fedgw.test');
	});
	const base = daemon.url;
	await inBrowser(work, daemon, 'xmpp-failure', () => step, async (page) => {
		step = 'first-run setup';
		await firstRunSetup(page, base);

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
	});
}

main(run);
