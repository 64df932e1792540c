// fedgw console: the XMPP screen — federation settings and the gateway's own domains with
// the DNS records to publish (RFC 6120 §3.2, XEP-0368), the allow list, the policy
// (default and exceptions), live peers and "validate connection".
import { enc, get, post, put } from './api.js';
import { h, replace, timeEl, toDate, ago, hoverText, table, badge, field, input,
	select, button, noticeEl, notice, showError, clearFormErrors, busy, confirmDialog,
	copyButton, plural, sortable, stateKind } from './ui.js';
import { REFRESH_MS, answerNotice, certificatesWithKeys, certOptions, confScreen, liveState,
	recordActions, removeRecord, saveRecord, settingFields, settingsSubmit, validationRunner,
	validationView } from './conf.js';

const SECTIONS = [
	['settings', 'Settings'],
	['allow', 'Allow list'],
	['policy', 'Policy'],
	['peers', 'Peers'],
	['validate', 'Validate connection'],
];

const TLS_MODES = [
	['required', 'TLS required'],
	['optional', 'TLS optional'],
	['off', 'No TLS'],
];
const AUTH_CHOICES = [
	['either', 'Dialback or SASL EXTERNAL'],
	['dialback', 'Server Dialback'],
	['sasl_external', 'SASL EXTERNAL (certificate)'],
];
const ALLOW_TLS = [
	['required', 'Required'],
	['optional', 'Optional'],
	['off', 'Off'],
];
const DIRECTIONS = [
	['both', 'Both directions'],
	['incoming', 'Incoming only'],
	['outgoing', 'Outgoing only'],
];

function sectionFromHash() {
	const m = /^#\/xmpp\/([a-z]+)/.exec(location.hash);
	return m && SECTIONS.some(([id]) => id === m[1]) ? m[1] : 'settings';
}

export function render(root) {
	const current = sectionFromHash();
	const { body, ctx, cleanup } = confScreen(root, { area: 'xmpp', title: 'XMPP federation',
		lead: 'Server-to-server federation with other XMPP domains. Changes apply at once, ' +
			'without a restart.',
		sections: SECTIONS, current, on: 'federation on', off: 'federation off' });
	if (current === 'settings') settingsSection(body, ctx);
	else if (current === 'allow') allowSection(body, ctx);
	else if (current === 'policy') policySection(body);
	else if (current === 'peers') peersSection(body, ctx);
	else validateSection(body, ctx);
	return cleanup;
}

// ---- shared ---------------------------------------------------------------------------

function recordsBlock(records) {
	if (!records || !records.length) return null;
	return h('ul.records', null, records.map((r) => h('li', null,
		h('code', null, r.text), ' ', copyButton(() => r.text, 'Copy'))));
}

// A text filter over the rows of the table inside container (kept across redraws).
function rowFilter(label, container) {
	const inp = h('input', { type: 'search', name: 'filter', placeholder: 'Filter',
		'aria-label': label, autocomplete: 'off' });
	const apply = () => {
		const q = inp.value.trim().toLowerCase();
		for (const tr of container.querySelectorAll('tbody tr')) {
			if (tr.querySelector('td.empty')) continue;
			tr.hidden = !!q && !tr.textContent.toLowerCase().includes(q);
		}
	};
	inp.addEventListener('input', apply);
	return { el: h('div.table-filter', null, inp), apply };
}

function dirLabel(d) {
	if (d === 'in' || d === 'incoming') return 'incoming';
	if (d === 'out' || d === 'outgoing') return 'outgoing';
	return d || '';
}

// ---- settings: domains, federation settings, dialback secret ----------------------------

function settingsSection(body, ctx) {
	const domains = h('div');
	const domainMsg = noticeEl();
	const settingsMsg = noticeEl();
	const settingsForm = h('form.form', { novalidate: true });
	const secret = h('div');
	const live = h('div');
	replace(body,
		h('section.card', { 'aria-labelledby': 'xmpp-live' },
			h('div.card-head', null, h('h2', { id: 'xmpp-live' }, 'Federation now'),
				h('p.muted.small', null, 'Refreshes every 5 seconds.')), live),
		h('section.card', { 'aria-labelledby': 'xmpp-domains' },
			h('h2', { id: 'xmpp-domains' }, 'Your XMPP domains'),
			h('p.muted.small', null, 'The domains this gateway federates as, each with the ' +
				'certificate it presents to peers.'),
			domainMsg, domains),
		h('section.card', { 'aria-labelledby': 'xmpp-settings' },
			h('h2', { id: 'xmpp-settings' }, 'Federation settings'), settingsMsg, settingsForm),
		h('section.card', { 'aria-labelledby': 'xmpp-secret' },
			h('h2', { id: 'xmpp-secret' }, 'Dialback secret'), secret));

	let certs = [];

	async function loadDomains() {
		try {
			const [ans, c] = await Promise.all([get('/api/v1/xmpp/domains'),
				certificatesWithKeys()]);
			certs = c;
			drawDomains(ans.domains || []);
		} catch (err) {
			notice(domainMsg, 'error', err.message, err.fix);
		}
	}

	function drawDomains(list) {
		const parts = [];
		if (!list.length) {
			parts.push(h('p.empty-state', null, 'No XMPP domain yet. Add the domain you ' +
				'federate as; you will then see the DNS records to publish.'));
		} else {
			const rows = list.map((d) => {
				const sel = select('cert_id', certOptions(certs, 'No certificate'), d.cert_id || '');
				sel.setAttribute('aria-label', `Certificate for ${d.domain}`);
				const save = button('Save', { class: 'btn-small' });
				save.addEventListener('click', () => saveCert(d.domain, sel.value, save));
				return h('tr', null,
					h('td.name', null, h('strong', null, d.domain)),
					h('td', null, h('div.inline-edit', null, sel, save),
						(d.warnings || []).map((w) => h('div.warn-line.small', null, w))),
					h('td.wrap', null, recordsBlock(d.records)),
					h('td', null, button('Delete', { class: 'btn-small btn-danger-quiet',
						'aria-label': `Delete ${d.domain}`,
						on: { click: () => removeDomain(d.domain) } })));
			});
			const t = table('XMPP domains', ['Domain', 'Certificate', 'DNS records to publish',
				'Actions'], rows, 'xmpp-domains');
			parts.push(t);
		}
		parts.push(addDomainForm());
		replace(domains, ...parts);
	}

	function addDomainForm() {
		const msg = noticeEl();
		const form = h('form.form.form-inline', { novalidate: true },
			field('Domain', input('domain', { required: true, autocomplete: 'off',
				autocapitalize: 'off', spellcheck: 'false', placeholder: 'example.com' }),
			'As in the users\' addresses: user@example.com federates as example.com.'),
			field('Certificate', select('cert_id', certOptions(certs,
				certs.length ? 'Choose later' : 'No certificate with a key yet'), '')),
			h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' }, 'Add domain')),
			msg);
		if (!certs.length) {
			form.appendChild(h('p.hint', null, 'Create or upload a certificate for the domain ' +
				'under ', h('a', { href: '#/certificates' }, 'Certificates'), ' first.'));
		}
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			clearFormErrors(form);
			const e = form.elements;
			const reqBody = { domain: e.domain.value.trim() };
			if (e.cert_id.value) reqBody.cert_id = e.cert_id.value;
			await busy(form, async () => {
				try {
					const ans = await post('/api/v1/xmpp/domains', reqBody);
					await loadDomains();
					answerNotice(domainMsg, ans, `Added ${reqBody.domain}.`);
				} catch (err) {
					showError(form, msg, err);
				}
			});
		});
		return h('details.panel', { id: 'add-domain', open: !document.querySelector('table.xmpp-domains') },
			h('summary', null, 'Add a domain'), form);
	}

	async function saveCert(domain, certId, btn) {
		btn.disabled = true;
		try {
			const ans = await put(`/api/v1/xmpp/domains/${enc(domain)}`, { cert_id: certId });
			await loadDomains();
			answerNotice(domainMsg, ans, `Saved ${domain}.`);
		} catch (err) {
			notice(domainMsg, 'error', err.message, err.fix);
		} finally {
			btn.disabled = false;
		}
	}

	function removeDomain(domain) {
		return removeRecord(domainMsg, { title: `Delete ${domain}?`, text: 'The gateway ' +
			`stops federating as ${domain}: its streams close now.`,
		url: `/api/v1/xmpp/domains/${enc(domain)}`, after: loadDomains,
		done: `Deleted ${domain}.` });
	}

	let loaded = {};

	const { check, num, list: text } = settingFields('xs', () => loaded);

	async function loadSettings() {
		try {
			loaded = await get('/api/v1/xmpp/settings');
			drawSettings();
			drawSecret();
		} catch (err) {
			notice(settingsMsg, 'error', err.message, err.fix);
		}
	}

	function drawSettings() {
		const tls = select('tls_mode', TLS_MODES, loaded.tls_mode);
		replace(settingsForm,
			check('enabled', 'Federate with other XMPP domains',
				'Off: the listeners close and open streams end.'),
			field('Security mode', tls, 'TLS required refuses peers without TLS; No TLS is ' +
				'for closed networks only.'),
			check('require_client_cert', 'Require client-side certificates',
				'Refuse incoming TLS peers that present no certificate.'),
			check('sasl_external_in', 'SASL EXTERNAL on incoming connections',
				'Let peers authenticate with their certificate.'),
			check('sasl_external_out', 'SASL EXTERNAL on outgoing connections',
				'Authenticate to peers with this gateway\'s certificate.'),
			check('dialback', 'Server Dialback',
				'Verify peers through DNS and a call back (XEP-0220), in both directions.'),
			check('allow_system_ca', 'Also trust the system\'s CA certificates',
				'Besides the CA bundles uploaded under Certificates.'),
			h('div.grid-2', null,
				text('bind', 'Listen on addresses', 'Comma-separated; 0.0.0.0 means every IPv4 ' +
					'address, :: every IPv6 address.', '0.0.0.0'),
				num('port', 'Port', 1, 65535, 'Standard: 5269.'),
				num('direct_tls_port', 'Direct TLS port', 0, 65535, '0 = off; commonly 5270 ' +
					'(XEP-0368).'),
				text('dns_servers', 'DNS servers', 'Addresses with an optional @port, ' +
					'comma-separated. Empty: the system\'s servers.', 'system'),
				text('dns_transparent_zones', 'Special-use zones to resolve',
					'Rarely needed, e.g. test for a lab.', ''),
				num('max_stanza_bytes', 'Stanza size limit (bytes)', 10240, 16777216,
					'10240 to 16777216; default 524288.')),
			h('details.panel', null, h('summary', null, 'Timeouts and queues'),
				h('div.grid-2', null,
					num('connect_timeout_s', 'Connect timeout (seconds)', 1, 120, 'Per address.'),
					num('idle_timeout_s', 'Idle streams close after (seconds)', 30, 86400),
					num('queue_max', 'Stanzas queued per domain while connecting', 1, 100000))),
			h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' },
				'Save settings')));
	}

	settingsSubmit(settingsForm, settingsMsg, { url: '/api/v1/xmpp/settings', ctx,
		redraw: drawSettings,
		saved: loadDomains, // the records to publish follow the ports
		fields: [['enabled', 'check'], ['require_client_cert', 'check'],
			['sasl_external_in', 'check'], ['sasl_external_out', 'check'], ['dialback', 'check'],
			['allow_system_ca', 'check'], ['tls_mode', 'select'], ['bind', 'list'],
			['dns_servers', 'list'], ['dns_transparent_zones', 'list'], ['port', 'num'],
			['direct_tls_port', 'num'], ['max_stanza_bytes', 'num'], ['connect_timeout_s', 'num'],
			['idle_timeout_s', 'num'], ['queue_max', 'num']],
		state: { get: () => loaded, set: (v) => { loaded = v; } } });

	function drawSecret(shown) {
		const regen = button('Regenerate', { class: 'btn-danger-quiet' });
		regen.addEventListener('click', regenerate);
		const parts = [
			h('p', null, 'Keys that prove this gateway\'s identity in Server Dialback ' +
				'(XEP-0185) are made from this secret. ',
				loaded.dialback_secret_set
					? h('span', null, 'Current secret: ', h('code.masked', { 'aria-label': 'hidden' },
						'••••••••••••••••'))
					: h('span.muted', null, 'Not set yet: the gateway makes one when it starts.')),
		];
		if (shown) {
			const out = input('new_secret', { readonly: true, value: shown, class: 'secret',
				'aria-label': 'New dialback secret' });
			parts.push(h('div.secret-once', { role: 'status' },
				h('p', null, h('strong', null, 'New secret, shown this once. '),
					'Copy it now if other servers of your domain share it.'),
				h('div.inline-edit', null, out, copyButton(() => shown, 'Copy secret'))));
		}
		parts.push(h('div.actions', null, regen));
		replace(secret, ...parts);
	}

	async function regenerate() {
		const ok = await confirmDialog('Regenerate the dialback secret?',
			'Dialback keys made with the old secret stop verifying; streams being ' +
			'verified right now may fail once and are retried.', 'Regenerate');
		if (!ok) return;
		try {
			const ans = await post('/api/v1/xmpp/settings/dialback-secret');
			loaded.dialback_secret_set = true;
			drawSecret(ans.secret);
		} catch (err) {
			replace(secret, h('p.notice.notice-error', null, err.message));
		}
	}

	// Live state beside the configuration: the s2s listeners and the XMPP faults.
	const loadLive = liveState(live, { listenerRe: /^listener:xmpp/, faultRe: /^xmpp/,
		offText: 'Not listening: federation is off.', noneText: 'No s2s listener is up.',
		off: () => loaded.enabled === false });

	loadDomains();
	loadSettings().then(loadLive);
	ctx.every(loadLive, REFRESH_MS);
}

// ---- allow list ---------------------------------------------------------------------------

function allowSection(body, ctx) {
	const msg = noticeEl();
	const list = h('div');
	const formBox = h('div');
	const filter = rowFilter('Filter the allow list', list);
	replace(body,
		h('section.card', { 'aria-labelledby': 'xmpp-allow' },
			h('div.card-head', null, h('h2', { id: 'xmpp-allow' }, 'Allow list'),
				h('p.muted.small', null, 'Connection states refresh every 5 seconds.')),
			h('p.muted.small', null, 'Federated XMPP domains with their connection settings: ' +
				'an optional static route (server and port), authentication, TLS and a ' +
				'certificate of their own.'),
			msg, filter.el, list),
		h('section.card', { 'aria-labelledby': 'xmpp-allow-form' }, formBox));

	let certs = [];
	let entries = [];
	let editing = null;
	let lastSig = '';
	let lastDraw = 0;

	async function load() {
		try {
			const ans = await get('/api/v1/xmpp/allow');
			entries = ans.allow || [];
			// The 5-second refresh redraws only on a change, so focus and sorting stay.
			// "3 minutes ago" is kept current by a redraw at least every 30 s.
			const sig = JSON.stringify(entries);
			if (sig === lastSig && list.firstChild && Date.now() - lastDraw < 30000) return;
			lastSig = sig;
			lastDraw = Date.now();
			drawList();
		} catch (err) {
			notice(msg, 'error', err.message, err.fix);
		}
	}

	function connBadge(a) {
		const c = a.connection || {};
		const peers = c.peers || [];
		if (!peers.length) return badge('not connected', 'neutral');
		return peers.map((p) => h('div', null, badge(`${dirLabel(p.direction)}: ${p.state}`,
			stateKind(p.state === 'authenticated' ? 'connected' : p.state)),
		p.since ? h('span.muted.small', null, ' ', timeEl(p.since, 0, 'ago')) : null));
	}

	function drawList() {
		if (!entries.length) {
			replace(list, h('p.empty-state', null, 'No domain on the allow list yet. Add the ' +
				'domains you federate with; each shows its connection state here.'));
			return;
		}
		const rows = entries.map((a) => h('tr', null,
			h('td.name', null, h('strong', null, a.domain)),
			h('td', null, a.server ? `${a.server}${a.port ? ':' + a.port : ''}`
				: h('span.muted', null, a.port ? `DNS SRV, port ${a.port}` : 'DNS SRV')),
			h('td', null, (AUTH_CHOICES.find(([v]) => v === a.auth) || [0, a.auth])[1]),
			h('td', null, (ALLOW_TLS.find(([v]) => v === a.tls) || [0, a.tls])[1]),
			h('td', null, a.cert_id ? certName(a.cert_id) : h('span.muted', null, 'the domain\'s')),
			h('td.wrap', null, a.description || ''),
			h('td', null, connBadge(a)),
			h('td', null, h('div.row-actions', null,
				button('Edit', { class: 'btn-small', 'aria-label': `Edit ${a.domain}`,
					on: { click: () => edit(a) } }),
				button('Delete', { class: 'btn-small btn-danger-quiet',
					'aria-label': `Delete ${a.domain}`, on: { click: () => remove(a) } })))));
		const t = table('Allow list', ['Domain', 'Route', 'Authentication', 'TLS',
			'Certificate', 'Description', 'Connection', 'Actions'], rows, 'xmpp-allow');
		t.querySelector('th:last-child').dataset.nosort = '';
		replace(list, sortable(t));
		filter.apply();
	}

	function certName(id) {
		const c = certs.find((x) => x.id === id);
		return c ? c.name : id;
	}

	// After a save: the form empties and the list reloads.
	async function redrawAndLoad() {
		editing = null;
		drawForm();
		await load();
	}

	function drawForm() {
		const a = editing || { auth: 'either', tls: 'required' };
		const fmsg = noticeEl();
		const form = h('form.form', { novalidate: true },
			field('Domain', input('domain', { required: true, value: a.domain || '',
				readonly: !!editing, autocomplete: 'off', autocapitalize: 'off',
				spellcheck: 'false', placeholder: 'partner.example' }),
			editing ? 'A domain cannot be renamed: delete it and add the new one.'
				: 'The peer\'s XMPP domain, as in user@partner.example.'),
			h('div.grid-2', null,
				field('Server (optional)', input('server', { value: a.server || '',
					autocomplete: 'off', spellcheck: 'false', placeholder: 'xmpp.partner.example' }),
				'A static route: the host to connect to instead of asking DNS for SRV records.'),
				field('Port (optional)', input('port', { type: 'number', min: 0, max: 65535,
					value: a.port ? String(a.port) : '' }), 'Empty: 5269 or what DNS says.')),
			h('div.grid-2', null,
				field('Authentication', select('auth', AUTH_CHOICES, a.auth)),
				field('TLS', select('tls', ALLOW_TLS, a.tls))),
			field('Certificate', select('cert_id', certOptions(certs,
				'The local domain\'s certificate'), a.cert_id || ''),
			'Only when this peer needs another certificate than the domain\'s.'),
			field('Description (optional)', input('description', { value: a.description || '',
				maxlength: 500, autocomplete: 'off' })),
			fmsg,
			recordActions(editing, 'Add to allow list', () => { editing = null; drawForm(); }));
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			clearFormErrors(form);
			const e = form.elements;
			const reqBody = {
				server: e.server.value.trim(),
				port: e.port.value.trim() === '' ? 0 : Number(e.port.value),
				auth: e.auth.value,
				tls: e.tls.value,
				cert_id: e.cert_id.value,
				description: e.description.value,
			};
			if (e.port.value.trim() !== '' && !/^\d+$/.test(e.port.value.trim()))
				reqBody.port = e.port.value.trim();
			if (!editing) reqBody.domain = e.domain.value.trim();
			await saveRecord(form, fmsg, { msg, done: 'Saved.', after: redrawAndLoad,
				send: () => (editing ? put(`/api/v1/xmpp/allow/${enc(editing.domain)}`, reqBody)
					: post('/api/v1/xmpp/allow', reqBody)) });
		});
		replace(formBox, h('h2', { id: 'xmpp-allow-form' }, editing ? `Edit ${editing.domain}`
			: 'Add a domain to the allow list'), form);
	}

	function edit(a) {
		editing = a;
		drawForm();
		formBox.querySelector('input[name="server"]').focus();
	}

	function remove(a) {
		return removeRecord(msg, { title: `Remove ${a.domain} from the allow list?`,
			text: 'Its connection settings are removed; the policy decides whether it may ' +
				'still federate.', confirmLabel: 'Remove',
			url: `/api/v1/xmpp/allow/${enc(a.domain)}`, done: `Removed ${a.domain}.`,
			after: async () => {
				if (editing && editing.domain === a.domain) {
					editing = null;
					drawForm();
				}
				await load();
			} });
	}

	certificatesWithKeys().then((c) => {
		certs = c;
		drawForm();
		load();
	});
	ctx.every(load, REFRESH_MS);
}

// ---- policy -------------------------------------------------------------------------------

function policySection(body) {
	const msg = noticeEl();
	const defBox = h('div');
	const list = h('div');
	const formBox = h('div');
	const filter = rowFilter('Filter the exceptions', list);
	replace(body, msg,
		h('section.card', { 'aria-labelledby': 'xmpp-policy-default' },
			h('h2', { id: 'xmpp-policy-default' }, 'Default'), defBox),
		h('section.card', { 'aria-labelledby': 'xmpp-policy-rules' },
			h('h2', { id: 'xmpp-policy-rules' }, 'Exceptions'),
			h('p.muted.small', null, 'An exception names a domain, a wildcard (*.example.com ' +
				'matches example.com and every subdomain) or a host\'s address. An exact name ' +
				'beats a wildcard; a longer wildcard beats a shorter one.'),
			filter.el, list),
		h('section.card', { 'aria-labelledby': 'xmpp-policy-form' }, formBox));

	let policy = { default: 'allow', rules: [] };
	let editing = null;

	async function load() {
		try {
			policy = await get('/api/v1/xmpp/policy');
			drawDefault();
			drawList();
		} catch (err) {
			notice(msg, 'error', err.message, err.fix);
		}
	}

	function drawDefault() {
		const form = h('form.form', { novalidate: true },
			h('fieldset.choices', null, h('legend', null, 'Domains no exception names are'),
				['allow', 'deny'].map((v) => h('label.choice', null,
					h('input', { type: 'radio', name: 'default', value: v,
						checked: policy.default === v }),
					v === 'allow' ? ' Allowed (default allow)' : ' Denied (default deny)'))),
			h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' },
				'Save default')));
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			const v = form.elements.default.value;
			await busy(form, async () => {
				try {
					const ans = await put('/api/v1/xmpp/policy', { default: v });
					await load();
					answerNotice(msg, ans, 'Saved.');
				} catch (err) {
					notice(msg, 'error', err.message, err.fix);
				}
			});
		});
		const warnings = policy.warnings || [];
		replace(defBox, form, warnings.length ? h('ul.warnings', null,
			warnings.map((w) => h('li', null, h('strong', null, 'Warning: '), w))) : null);
	}

	function drawList() {
		const rules = policy.rules || [];
		if (!rules.length) {
			replace(list, h('p.empty-state', null, policy.default === 'deny'
				? 'No exceptions: every domain is denied. Add an allow exception for each ' +
				  'domain you federate with.'
				: 'No exceptions: every domain is allowed. Add a deny exception to block a ' +
				  'domain, or set the default to deny and allow domains one by one.'));
			return;
		}
		const rows = rules.map((r) => h('tr', null,
			h('td.name', null, h('code', null, r.pattern)),
			h('td', null, badge(r.verdict, r.verdict === 'allow' ? 'ok' : 'bad')),
			h('td', null, (DIRECTIONS.find(([v]) => v === r.direction) || [0, r.direction])[1]),
			h('td.wrap', null, r.description || ''),
			h('td', null, h('div.row-actions', null,
				button('Edit', { class: 'btn-small', 'aria-label': `Edit ${r.pattern}`,
					on: { click: () => { editing = r; drawForm(); } } }),
				button('Delete', { class: 'btn-small btn-danger-quiet',
					'aria-label': `Delete ${r.pattern}`, on: { click: () => remove(r) } })))));
		const t = table('Policy exceptions', ['Pattern', 'Verdict', 'Direction', 'Description',
			'Actions'], rows, 'xmpp-rules');
		t.querySelector('th:last-child').dataset.nosort = '';
		replace(list, sortable(t));
		filter.apply();
	}

	// After a save: the form empties and the list reloads.
	async function redrawAndLoad() {
		editing = null;
		drawForm();
		await load();
	}

	function drawForm() {
		const r = editing || { verdict: policy.default === 'deny' ? 'allow' : 'deny',
			direction: 'both' };
		const fmsg = noticeEl();
		const form = h('form.form', { novalidate: true },
			field('Pattern', input('pattern', { required: true, value: r.pattern || '',
				autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false',
				placeholder: '*.example.com' })),
			h('div.grid-2', null,
				field('Verdict', select('verdict', [['allow', 'Allow'], ['deny', 'Deny']],
					r.verdict)),
				field('Direction', select('direction', DIRECTIONS, r.direction))),
			field('Description (optional)', input('description', { value: r.description || '',
				maxlength: 500, autocomplete: 'off' })),
			fmsg,
			recordActions(editing, 'Add exception', () => { editing = null; drawForm(); }));
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			clearFormErrors(form);
			const e = form.elements;
			const reqBody = { pattern: e.pattern.value.trim(), verdict: e.verdict.value,
				direction: e.direction.value, description: e.description.value };
			await saveRecord(form, fmsg, { msg, done: 'Saved.', after: redrawAndLoad,
				send: () => (editing ? put(`/api/v1/xmpp/policy/rules/${enc(editing.id)}`, reqBody)
					: post('/api/v1/xmpp/policy/rules', reqBody)) });
		});
		replace(formBox, h('h2', { id: 'xmpp-policy-form' }, editing
			? `Edit the exception ${editing.pattern}` : 'Add an exception'), form);
	}

	function remove(r) {
		return removeRecord(msg, { title: `Delete the exception ${r.pattern}?`,
			text: `The default (${policy.default}) then applies to the domains it named.`,
			url: `/api/v1/xmpp/policy/rules/${enc(r.id)}`, done: `Deleted ${r.pattern}.`,
			after: async () => {
				if (editing && editing.id === r.id) editing = null;
				drawForm();
				await load();
			} });
	}

	drawForm();
	load();
}

// ---- peers --------------------------------------------------------------------------------

function peersSection(body, ctx) {
	const msg = noticeEl();
	const list = h('div');
	replace(body, h('section.card', { 'aria-labelledby': 'xmpp-peers' },
		h('div.card-head', null, h('h2', { id: 'xmpp-peers' }, 'Peers'),
			h('p.muted.small', null, 'Refreshes every 5 seconds.')),
		msg, list));
	let lastSig = '';

	async function load() {
		try {
			const ans = await get('/api/v1/xmpp/peers');
			const peers = ans.peers || [];
			const sig = JSON.stringify(peers);
			if (sig === lastSig && list.firstChild) {
				// Keep "3 minutes ago" current without redrawing the rows.
				for (const t of list.querySelectorAll('time[data-ago]'))
					t.textContent = ago(new Date(t.getAttribute('datetime')));
				return;
			}
			lastSig = sig;
			draw(peers);
			msg.hidden = true;
		} catch (err) {
			notice(msg, 'error', err.message, err.fix);
		}
	}

	function certCell(p) {
		if (!p.peer_cert_subject && !p.peer_cert_not_after)
			return h('span.muted', null, p.tls_version ? 'no certificate' : '—');
		const na = p.peer_cert_not_after ? toDate(p.peer_cert_not_after.replace(' ', 'T') + 'Z')
			: null;
		let validity = null;
		if (na) {
			const days = Math.floor((na.getTime() - Date.now()) / 86400000);
			const cls = days < 0 ? 'days-bad' : days < 30 ? 'days-warn' : 'days-ok';
			validity = h(`span.days.${cls}`, { title: hoverText(na) }, days < 0
				? `expired ${plural(-days, 'day', 'days')} ago` : `valid ${plural(days, 'day', 'days')}`);
		}
		return [h('div.small', null, p.peer_cert_subject || ''),
			p.peer_cert_issuer ? h('div.muted.small', null, `issuer: ${p.peer_cert_issuer}`) : null,
			validity];
	}

	function sinceCell(p) {
		const d = toDate(p.since, p.since_ms);
		if (!d) return h('span.muted', null, '—');
		return h('time', { datetime: d.toISOString(), title: hoverText(d), dataset: { ago: '1' } },
			ago(d));
	}

	const HEADERS = ['Domain', 'Direction', 'State', 'Authentication', 'TLS',
		'Peer certificate', 'Since', 'Stanzas in / out', 'Last error'];

	function draw(peers) {
		if (!peers.length) {
			replace(list, table('XMPP peers', HEADERS, [h('tr', null, h('td.empty',
				{ colspan: HEADERS.length }, 'No XMPP peer is connected. Streams show here ' +
				'when a remote server connects or when the gateway sends to a remote domain. ',
				h('a', { href: '#/xmpp/validate' }, 'Validate a connection'),
				' to test one now.'))], 'xmpp-peers'));
			return;
		}
		const rows = peers.map((p) => h('tr', null,
			h('td.name', null, h('strong', null, p.domain || p.remote || ''),
				p.local ? h('div.muted.small', null, `with ${p.local}`) : null),
			h('td', null, dirLabel(p.direction)),
			h('td', null, badge(p.state || '', stateKind(p.state === 'authenticated'
				? 'connected' : p.state))),
			h('td', null, p.auth || h('span.muted', null, '—')),
			h('td', null, p.tls_version ? [h('div', null, p.tls_version),
				h('div.muted.small', null, p.tls_cipher || '')] : h('span.muted', null, 'none')),
			h('td', null, certCell(p)),
			h('td.nowrap', { dataset: { sort: String(p.since_ms || 0) } }, sinceCell(p)),
			h('td.nowrap', { dataset: { sort: String(Number(p.stanzas_in || 0)) } },
				`${p.stanzas_in ?? 0} / ${p.stanzas_out ?? 0}`),
			h('td.wrap', null, p.last_error || p.reason || '')));
		replace(list, sortable(table('XMPP peers', HEADERS, rows, 'xmpp-peers')));
	}

	load();
	ctx.every(load, REFRESH_MS);
}

// ---- validate connection --------------------------------------------------------------------

// The phases shown as a row, and the step ids each gathers.
const PHASES = [
	['DNS', ['dns.srv', 'dns.xmpps', 'dns.addr', 'dns', 'publish']],
	['TCP', ['tcp']],
	['TLS', ['stream', 'tls']],
	['Authentication', ['auth']],
	['Round trip', ['ping']],
];

function validateSection(body, ctx) {
	const msg = noticeEl();
	const result = h('div', { 'aria-live': 'polite' });
	const records = h('div');
	const form = h('form.form.form-inline', { novalidate: true },
		field('Domain', input('domain', { required: true, autocomplete: 'off',
			autocapitalize: 'off', spellcheck: 'false', placeholder: 'partner.example' }),
		'Any XMPP domain: DNS, TCP, TLS, authentication and a ping are tried in turn.'),
		h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' }, 'Validate')));
	replace(body,
		h('section.card', { 'aria-labelledby': 'xmpp-validate' },
			h('h2', { id: 'xmpp-validate' }, 'Validate connection'), form, msg, result),
		h('section.card', { 'aria-labelledby': 'xmpp-records' },
			h('h2', { id: 'xmpp-records' }, 'Records to publish for your domains'),
			h('p.muted.small', null, 'Peers find this gateway through these DNS records. ' +
				'Publish them in your domains\' zones.'), records));

	const run = validationRunner(ctx, { url: '/api/v1/xmpp/validate', msg, result,
		draw: (v) => replace(result, ...validationView(v, PHASES, {
			okText: `Every step passed: ${v.domain} federates with this gateway.`,
			onRetry: () => start(v.domain),
		})) });
	const start = (domain) => run(domain, form);

	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		const d = form.elements.domain.value.trim();
		if (!d) {
			showError(form, msg, { field: 'domain', message: 'Type the domain to check.',
				fix: 'For example partner.example.' });
			return;
		}
		start(d);
	});

	(async () => {
		try {
			const ans = await get('/api/v1/xmpp/domains');
			const list = ans.domains || [];
			if (!list.length) {
				replace(records, h('p.empty-state', null, 'No XMPP domain yet. Add the domain ' +
					'you federate as under ', h('a', { href: '#/xmpp/settings' }, 'Settings'),
				'; you will then see the DNS records to publish.'));
				return;
			}
			replace(records, ...list.map((d) => h('div.records-domain', null,
				h('h3', null, d.domain), recordsBlock(d.records))));
		} catch (err) {
			replace(records, h('p.muted', null, err.message));
		}
	})();
}
