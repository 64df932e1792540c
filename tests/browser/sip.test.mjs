// The console's SIP screen in headless Chromium against the real daemon: the empty state,
// add a SIP domain (a wrong name is refused next to its field; the CA bundle is required for
// TLS), the domains table with the next hop's health beside its configuration, edit a domain,
// the settings (an FQDN the SIP certificate lacks is warned about, seed 000), and validate
// connection with the domain picked from a list (seed 001): the next hop does not exist, so
// the DNS step (a name) or the TCP step (a closed port) fails with its fix; a request the
// gateway refuses (plain TCP for a TLS domain) is counted in the domain's health.
//   node sip.test.mjs --fedgw /path/to/fedgw      (or FEDGW_BIN=...)
// Screenshots go to tests/artifacts/browser/ (sip-*.png). No process uses the machine's
// resolver: the gateway's DNS server is a closed port on loopback.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTIFACTS, check, firstRunSetup, freePort, inBrowser, log, main, setLogTag, shot,
	startDaemon } from './common.mjs';

// A validation of an unknown domain ends when DNS gives up on the closed port.
const VALIDATE_MS = 60000;

let step = '';
setLogTag('browser-sip');

async function section(page, base, id, heading) {
	await page.goto(`${base}#/sip/${id}`);
	await page.getByRole('heading', { level: 1, name: 'SIP gateway' }).waitFor();
	await page.getByRole('heading', { level: 2, name: heading, exact: true }).waitFor();
}

// Sends one SIP MESSAGE from alice@domain over plain TCP to the gateway; its answer's text.
function sipOverTcp(port, domain) {
	const body = 'hello';
	const msg = [`MESSAGE sip:bob@xmpp.fedgw.test SIP/2.0`,
		'Via: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bKbrowser1',
		'Max-Forwards: 70', `From: <sip:alice@${domain}>;tag=b1`, 'To: <sip:bob@xmpp.fedgw.test>',
		'Call-ID: browser1@127.0.0.1', 'CSeq: 1 MESSAGE', 'Content-Type: text/plain',
		`Content-Length: ${body.length}`, '', body].join('\r\n');
	return new Promise((resolve, reject) => {
		let got = '';
		const sock = connect({ host: '127.0.0.1', port }, () => sock.write(msg));
		sock.setTimeout(10000, () => { sock.destroy(); reject(new Error('no SIP answer in 10 s')); });
		sock.on('data', (d) => {
			got += d.toString();
			if (got.includes('\r\n\r\n')) { sock.end(); resolve(got); }
		});
		sock.on('error', reject);
	});
}

async function run() {
	mkdirSync(ARTIFACTS, { recursive: true });
	const sipPort = await freePort();
	const work = mkdtempSync(join(tmpdir(), 'fedgw-browser-sip-'));
	const daemon = await startDaemon(work, 'fedgw-sip.log', async (cli) => {
		// Loopback only: XMPP federation off, the SIP listener on a free loopback port (TLS
		// off), and DNS asked only of a closed port on loopback.
		cli('xmpp', 'set', 'enabled=false', 'bind=127.0.0.1', `port=${await freePort()}`,
			`dns_servers=127.0.0.1@${await freePort()}`, 'dns_transparent_zones=test',
			'connect_timeout_s=2');
		cli('sip', 'set', 'bind=127.0.0.1', `tcp_port=${sipPort}`, 'tls_port=0');
		cli('pki', 'selfsign', 'sipgw-cert', 'CN:sipgw.fedgw.test', 'subAltName:sipgw.fedgw.test');
		cli('pki', 'selfsign', 'edge-root', 'CN:edge-ca.fedgw.test');
		const caPem = join(work, 'edge-ca.pem');
		writeFileSync(caPem, cli('pki', 'pem', 'edge-root'));
		cli('pki', 'import-ca', 'edge-ca', caPem);
	});
	const base = daemon.url;
	await inBrowser(work, daemon, 'sip-failure', () => step, async (page) => {
		step = 'first-run setup';
		await firstRunSetup(page, base);

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
		const transportHint = await form.getByLabel('Transport').getAttribute('aria-describedby');
		if (!transportHint || !(await page.locator(`[id="${transportHint}"]`).innerText())
			.includes('use it only on a trusted network'))
			throw new Error('the Transport field does not say what TCP trusts');
		await form.getByLabel('Mapped XMPP domain').fill('chat.fedgw.test');
		await form.getByLabel('Trusted addresses (TCP)').fill('10.0.0.7, edge.fedgw.test');
		await form.getByRole('button', { name: 'Add SIP domain' }).click();
		await form.locator('input[name="trusted_addrs"][aria-invalid="true"]').waitFor();
		await form.locator('.field-error', { hasText: '"edge.fedgw.test" is not an IPv4 or IPv6 address' })
			.waitFor();
		await form.getByLabel('Trusted addresses (TCP)').fill('10.0.0.7 192.0.2.0/24');
		await form.getByRole('button', { name: 'Add SIP domain' }).click();
		const tcpRow = page.locator('table.sip-domains tbody tr', { hasText: 'tcp.fedgw.test' });
		await tcpRow.waitFor();
		await tcpRow.getByText(`127.0.0.1:${closed}`).waitFor();
		await tcpRow.getByText('XMPP: chat.fedgw.test').waitFor();
		await tcpRow.getByText('Requests from the next hop and 10.0.0.7, 192.0.2.0/24').waitFor();

		step = 'the next hop health beside the configuration';
		await tcpRow.locator('td.health .badge').first().waitFor();
		const health = await tcpRow.locator('td.health').innerText();
		check(/DNS/.test(health) && /TCP/.test(health) && /OPTIONS/.test(health),
			`the health cell shows DNS, TCP and OPTIONS (got ${health.replace(/\s+/g, ' ')})`);
		await shot(page, 'sip-domains');

		step = 'a request the domain refuses: counted in its health, with the reason and the fix';
		// sip.fedgw.test takes requests over mutual TLS only: a MESSAGE over plain TCP gets 403
		const answer = await sipOverTcp(sipPort, 'sip.fedgw.test');
		check(answer.startsWith('SIP/2.0 403'), `MESSAGE over plain TCP for a TLS domain: 403 (got ${
			answer.split('\r\n')[0]})`);
		await row.locator('.refused', { hasText: 'Refused 1 request from clients that may not send ' +
			'for this domain. Last: from 127.0.0.1' }).waitFor({ timeout: 15000 });
		await row.locator('.refused', { hasText: 'The edge must send them over TLS' }).waitFor();

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
		await page.locator('details.panel summary', { hasText: 'Presence, queues and keepalive' }).click();
		await page.getByLabel('Largest MESSAGE outside a session (bytes)').fill('4000');
		await page.getByLabel('Keepalive toward the next hop (seconds)').fill('45');
		await page.getByRole('button', { name: 'Save settings' }).click();
		await page.locator('.notice', { hasText: 'max_message_bytes' }).waitFor();
		await page.locator('.notice', { hasText: 'keepalive_s: 30 -> 45' }).waitFor();
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
	});
}

main(run);
