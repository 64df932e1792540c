// fedgw console: start-up, first-run setup, login/logout, routing and the fault banner.
import { get, post, setCsrf, setUnauthorizedHandler } from './api.js';
import { h, replace, field, input, noticeEl, notice, showError, clearFormErrors, busy,
	plural } from './ui.js';
import * as statusScreen from './status.js';
import * as logsScreen from './logs.js';
import * as sipScreen from './sip.js';
import * as xmppScreen from './xmpp.js';
import * as certsScreen from './certs.js';
import * as accountsScreen from './accounts.js';
import * as auditScreen from './audit.js';
import * as backupScreen from './backup.js';

const routes = {
	status: { title: 'Status', screen: statusScreen },
	logs: { title: 'Logs', screen: logsScreen },
	sip: { title: 'SIP', screen: sipScreen },
	xmpp: { title: 'XMPP', screen: xmppScreen },
	certificates: { title: 'Certificates', screen: certsScreen },
	accounts: { title: 'Accounts', screen: accountsScreen },
	audit: { title: 'Audit', screen: auditScreen },
	backup: { title: 'Backup', screen: backupScreen },
};

// The status answer is polled every 5 s while logged in: it feeds the banner on every
// screen and the Status screen itself.
const POLL_MS = 5000;

const app = {
	admin: null,
	idleTimeoutS: 0,
	route: null,
	cleanup: null,
	pollTimer: null,
	lastStatus: null,
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const whoName = document.getElementById('who-name');
const banner = document.getElementById('banner');

function adminName(a) {
	if (!a) return '';
	return typeof a === 'string' ? a : a.name || '';
}

// ---- session ------------------------------------------------------------------------

function signedIn(answer) {
	lastActivity = Date.now();
	setCsrf(answer.csrf);
	app.admin = adminName(answer.admin);
	app.idleTimeoutS = answer.idle_timeout_s || 0;
	if (!answer.idle_timeout_s) {
		// The login answer has no idle time; the session answer has.
		get('/api/v1/session', { quiet: true })
			.then((sess) => (app.idleTimeoutS = (sess && sess.idle_timeout_s) || 0))
			.catch(() => {});
	}
	whoName.textContent = app.admin;
	who.hidden = false;
	nav.hidden = false;
	startPolling();
	if (!location.hash || location.hash === '#/' || /^#\/(login|setup)/.test(location.hash))
		location.hash = '#/status';
	else route();
}

function signedOut() {
	setCsrf(null);
	app.admin = null;
	who.hidden = true;
	nav.hidden = true;
	stopPolling();
	setBanner(null);
	leaveScreen();
}

function leaveScreen() {
	if (app.cleanup) {
		try {
			app.cleanup();
		} catch {
			/* a screen's cleanup failing must not block navigation */
		}
	}
	app.cleanup = null;
	app.route = null;
}

setUnauthorizedHandler(() => {
	if (!app.admin) return;
	signedOut();
	showLogin('Your session has ended. Log in again to continue.');
});

async function logout(message) {
	try {
		await post('/api/v1/logout', undefined, { quiet: true });
	} catch {
		/* logged out either way: the server forgets the session on its side */
	}
	signedOut();
	showLogin(typeof message === 'string' ? message : 'You are logged out.');
}

document.getElementById('logout').addEventListener('click', () => logout());
document.addEventListener('visibilitychange', () => {
	if (!document.hidden && app.admin) poll();
});

// ---- first-run setup and login -------------------------------------------------------

function authPage(title, intro, form) {
	document.title = `${title} · fedgw`;
	replace(main, h('section.auth', { 'aria-labelledby': 'auth-title' },
		h('h1', { id: 'auth-title', tabindex: '-1' }, title),
		intro ? h('p.lead', null, intro) : null, form));
	const first = form.querySelector('input');
	if (first) first.focus();
}

function showSetup() {
	leaveScreen();
	const msg = noticeEl();
	const form = h('form.form', { novalidate: true },
		field('Administrator name', input('name', { autocomplete: 'username', required: true,
			maxlength: 64, autocapitalize: 'off', spellcheck: 'false' }),
			'Letters, digits, dot, dash and underscore.'),
		field('Password', input('password', { type: 'password', autocomplete: 'new-password',
			required: true }), 'At least 10 characters.'),
		field('Confirm password', input('confirm', { type: 'password',
			autocomplete: 'new-password', required: true })),
		msg,
		h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' },
			'Create administrator')));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		const name = form.elements.name.value.trim();
		const password = form.elements.password.value;
		if (password !== form.elements.confirm.value) {
			showError(form, msg, { field: 'confirm', message: 'The passwords do not match.',
				fix: 'Type the same password twice.' });
			return;
		}
		await busy(form, async () => {
			try {
				const ans = await post('/api/v1/setup', { name, password }, { quiet: true });
				signedIn(ans);
			} catch (err) {
				showError(form, msg, err);
			}
		});
	});
	authPage('Set up fedgw',
		'This appliance has no administrator yet. Choose the name and password you will use ' +
		'to log in to this console.', form);
}

function showLogin(message) {
	leaveScreen();
	const msg = noticeEl();
	const form = h('form.form', { novalidate: true },
		field('Name', input('name', { autocomplete: 'username', required: true,
			autocapitalize: 'off', spellcheck: 'false' })),
		field('Password', input('password', { type: 'password',
			autocomplete: 'current-password', required: true })),
		msg,
		h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' }, 'Log in')));
	if (message) notice(msg, 'info', message);
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		await busy(form, async () => {
			try {
				const ans = await post('/api/v1/login', {
					name: form.elements.name.value.trim(),
					password: form.elements.password.value,
				}, { quiet: true });
				signedIn(ans);
			} catch (err) {
				if (err.status === 429) {
					const wait = err.retryAfter ? ` Try again in ${plural(err.retryAfter,
						'second', 'seconds')}.` : ' Wait a moment, then try again.';
					notice(msg, 'error', 'Too many failed attempts.' + wait);
				} else if (err.status === 401 && !err.field) {
					notice(msg, 'error', err.message === 'You are not logged in.'
						? 'Wrong name or password.' : err.message, err.fix);
				} else {
					showError(form, msg, err);
				}
				form.elements.password.select();
			}
		});
	});
	authPage('Log in', 'Log in to manage this fedgw appliance.', form);
}

// ---- fault banner -------------------------------------------------------------------

let bannerKey = '';

function setBanner(status) {
	const active = (status && status.faults && status.faults.active) || [];
	// Redraw only on change: the banner is a live region, read out when it changes.
	const key = JSON.stringify(active.map((f) => [f.id, f.condition, f.severity]));
	if (key === bannerKey) return;
	bannerKey = key;
	if (!active.length) {
		banner.hidden = true;
		replace(banner);
		return;
	}
	const first = active[0];
	const text = plural(active.length, 'active fault', 'active faults');
	const what = first.condition || first.cause || '';
	replace(banner,
		h('span.banner-icon', { 'aria-hidden': 'true' }, '!'),
		h('span', null, h('a', { href: '#/status' }, text),
			what ? `: ${what}` : '',
			active.length > 1 ? ` and ${plural(active.length - 1, 'other', 'others')}` : ''));
	banner.className = active.some((f) => String(f.severity).startsWith('err'))
		? 'banner banner-bad' : 'banner';
	banner.hidden = false;
}

// The background poll would keep the session alive for ever; the console therefore ends
// an idle session itself once the admin has not touched it for the server's idle time.
let lastActivity = Date.now();
for (const ev of ['pointerdown', 'keydown', 'wheel', 'touchstart'])
	window.addEventListener(ev, () => (lastActivity = Date.now()), { passive: true });

async function poll() {
	if (app.admin && app.idleTimeoutS > 0 &&
	    Date.now() - lastActivity > app.idleTimeoutS * 1000) {
		await logout(`You were logged out after ${plural(Math.round(app.idleTimeoutS / 60),
			'minute', 'minutes')} without activity.`);
		return;
	}
	if (document.hidden) return; // nobody looks: save the appliance the work
	try {
		const st = await get('/api/v1/status');
		app.lastStatus = st;
		setBanner(st);
		const r = app.route && routes[app.route];
		if (r && r.screen.onStatus) r.screen.onStatus(st);
	} catch {
		/* a missed poll shows on the next one; 401 is handled by the API client */
	}
}

function startPolling() {
	stopPolling();
	poll();
	app.pollTimer = setInterval(poll, POLL_MS);
}

function stopPolling() {
	if (app.pollTimer) clearInterval(app.pollTimer);
	app.pollTimer = null;
}

// ---- routing ------------------------------------------------------------------------

function route() {
	if (!app.admin) return;
	const m = /^#\/([a-z]+)/.exec(location.hash);
	const name = m && routes[m[1]] ? m[1] : 'status';
	leaveScreen();
	app.route = name;
	for (const a of nav.querySelectorAll('a')) {
		if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
		else a.removeAttribute('aria-current');
	}
	document.title = `${routes[name].title} · fedgw`;
	const ctx = { admin: app.admin, lastStatus: app.lastStatus, refreshStatus: poll };
	const container = h('div.screen');
	replace(main, container);
	app.cleanup = routes[name].screen.render(container, ctx) || null;
	const heading = main.querySelector('h1');
	if (heading) {
		heading.setAttribute('tabindex', '-1');
		if (document.activeElement === document.body || nav.contains(document.activeElement) ||
		    banner.contains(document.activeElement))
			heading.focus({ preventScroll: true });
	}
	window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);

// A click on the banner while already on Status moves to the fault list.
banner.addEventListener('click', (ev) => {
	const a = ev.target.closest('a');
	if (a && app.route === 'status') {
		const el = document.getElementById('faults');
		if (el) {
			ev.preventDefault();
			el.scrollIntoView();
			el.focus({ preventScroll: true });
		}
	}
});

// ---- start --------------------------------------------------------------------------

async function start() {
	try {
		const setup = await get('/api/v1/setup', { quiet: true });
		if (setup && setup.needed) {
			showSetup();
			return;
		}
	} catch (err) {
		replace(main, h('section.auth', null, h('h1', null, 'The console is not available'),
			h('p', null, err.message), err.fix ? h('p', null, err.fix) : null));
		return;
	}
	try {
		signedIn(await get('/api/v1/session', { quiet: true }));
	} catch (err) {
		if (err.status === 401) showLogin();
		else showLogin(err.message);
	}
}

start();
