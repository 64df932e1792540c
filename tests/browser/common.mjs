// Shared set-up of the browser tests: the fedgw binary, free loopback ports, starting and
// stopping the daemon, headless Chromium with script errors and CSP violations collected,
// the first-run setup, and screenshots with WCAG 2.1 A/AA checks (axe-core).
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, createWriteStream, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = resolve(process.env.FEDGW_ARTIFACTS ||
	join(HERE, '..', 'artifacts', 'browser'));
export const ADMIN = 'admin';
export const PASSWORD = 'correct horse battery';
// Generous for 2 shared cores under ASan; each step normally takes well under a second.
export const STEP_MS = 20000;

function arg(name) {
	const i = process.argv.indexOf(name);
	return i > 0 ? process.argv[i + 1] : undefined;
}

const fedgwBin = arg('--fedgw') || process.env.FEDGW_BIN;
let tag = 'browser';

// The prefix of every line the test prints, e.g. "browser-xmpp".
export function setLogTag(t) {
	tag = t;
}
export function log(msg) {
	console.log(`[${tag}] ${msg}`);
}
export function check(cond, what) {
	if (!cond) throw new Error(`check failed: ${what}`);
}

export function freePort() {
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

// Starts `fedgw serve` on a free loopback console port with its data in work/data, after
// configure(cli, dataDir) has run the CLI against that data directory (cli throws when a
// command fails). The daemon's output goes to ARTIFACTS/logName. stop() resolves to null
// on a clean exit, else to what went wrong.
export async function startDaemon(work, logName, configure) {
	if (!fedgwBin || !existsSync(fedgwBin))
		throw new Error('fedgw binary not found: pass --fedgw PATH or set FEDGW_BIN');
	const dataDir = join(work, 'data');
	mkdirSync(dataDir, { mode: 0o700 });
	const port = await freePort();
	const cli = (...a) => execFileSync(fedgwBin, ['--data-dir', dataDir, ...a],
		{ stdio: ['ignore', 'pipe', 'pipe'] }).toString();
	await configure(cli, dataDir);
	const logPath = join(ARTIFACTS, logName);
	const out = createWriteStream(logPath);
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
					`see ${logPath}`);
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

export async function shot(page, name) {
	await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
	log(`screenshot ${name}.png`);
	await checkA11y(page, name);
}

// The first-run setup creates the administrator; onScreen(page) runs once the setup
// screen shows.
export async function firstRunSetup(page, base, onScreen) {
	await page.goto(base);
	await page.getByRole('heading', { level: 1, name: 'Set up fedgw' }).waitFor();
	if (onScreen) await onScreen(page);
	await page.getByLabel('Administrator name').fill(ADMIN);
	await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
	await page.getByLabel('Confirm password').fill(PASSWORD);
	await page.getByRole('button', { name: 'Create administrator' }).click();
	await page.getByRole('heading', { level: 1, name: 'Status' }).waitFor();
}

// Runs body(page) in headless Chromium against daemon, then checks that no script error,
// CSP violation or accessibility violation was seen. On a failure the screen goes to
// <failureShot>.png and the error names stepOf(), the step that was running. The browser
// and the daemon are always stopped and work is removed; an unclean daemon exit fails.
export async function inBrowser(work, daemon, failureShot, stepOf, body, extra = {}) {
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
				'--disable-sync',
				// The console's certificate is self-signed by design; without this each new
				// connection is first refused by the browser, which the daemon logs.
				'--ignore-certificate-errors'],
			ignoreHTTPSErrors: true,
			viewport: { width: 1280, height: 860 },
			timezoneId: 'Europe/Berlin',
			...extra,
		});
		context.setDefaultTimeout(STEP_MS);
		page = context.pages()[0] || (await context.newPage());
		// Script errors and CSP violations are failures: the console must run under its CSP.
		page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
		page.on('console', (m) => {
			if (m.type() === 'error' && !/status of 40[139]|status of 42[29]/.test(m.text()))
				problems.push(`console error: ${m.text()}`);
		});
		await body(page);
		check(problems.length === 0, `no script errors or CSP violations:\n  ${problems.join('\n  ')}`);
		check(a11y.length === 0, `no accessibility violations:\n  ${a11y.join('\n  ')}`);
	} catch (e) {
		if (page) {
			try {
				await shot(page, failureShot);
			} catch {
				/* the page may be gone */
			}
		}
		if (a11y.length) log(`accessibility:\n  ${a11y.join('\n  ')}`);
		if (problems.length) log(`page problems:\n  ${problems.join('\n  ')}`);
		throw new Error(`step "${stepOf()}": ${e.message}`);
	} finally {
		if (context) await context.close();
		stopProblem = await daemon.stop();
		rmSync(work, { recursive: true, force: true });
	}
	if (stopProblem) throw new Error(stopProblem);
}

// Runs the test and exits 0 on success, 1 with the reason on failure.
export function main(run) {
	run().then(() => {
		log('PASS');
		process.exit(0);
	}, (e) => {
		console.error(`[${tag}] FAIL ${e.message}`);
		process.exit(1);
	});
}
