// fedgw console: the SIP screen — the SIP domains of your users, each with its next hop (the
// Access Edge, SIP over mutual TLS or TCP; RFC 3261 §18, RFC 5922 §7) and that next hop's
// health beside its configuration, the gateway's SIP settings, and "validate connection"
// for a domain picked from the list (seed 001).
import { enc, get, post, put } from './api.js';
import { h, replace, timeEl, table, badge, field, input, select, button, noticeEl, notice,
	clearFormErrors, plural, stateKind } from './ui.js';
import { REFRESH_MS, caBundles, certificatesWithKeys, certOptions, confScreen, liveState,
	recordActions, removeRecord, saveRecord, settingFields, settingsSubmit, validationRunner,
	validationView } from './conf.js';

const SECTIONS = [
	['domains', 'SIP domains'],
	['settings', 'Settings'],
	['validate', 'Validate connection'],
];

const TRANSPORTS = [
	['tls', 'TLS (mutual TLS, port 5061)'],
	['tcp', 'TCP (port 5060, no encryption)'],
];

// The steps of a SIP validation (core/sipgw) as a row of phases.
const PHASES = [
	['DNS', ['dns']],
	['TCP', ['tcp']],
	['TLS and certificates', ['tls', 'cert']],
	['SIP OPTIONS', ['options']],
];

const EMPTY = 'No SIP domain yet. Add the SIP domain of your users and its Access Edge as ' +
	'next hop.';

// "#/sip/validate/sip.example.com" -> ['validate', 'sip.example.com'].
function hashParts() {
	const m = /^#\/sip\/([a-z]+)(?:\/([^/?#]+))?/.exec(location.hash);
	const section = m && SECTIONS.some(([id]) => id === m[1]) ? m[1] : 'domains';
	let arg = '';
	try {
		arg = m && m[2] ? decodeURIComponent(m[2]) : '';
	} catch {
		arg = '';
	}
	return [section, arg];
}

export function render(root) {
	const [current, arg] = hashParts();
	const { body, ctx, cleanup } = confScreen(root, { area: 'sip', title: 'SIP gateway',
		lead: 'Users behind a SIP Access Edge reach XMPP domains and back. Changes apply at ' +
			'once, without a restart.',
		sections: SECTIONS, current, on: 'SIP gateway on', off: 'SIP gateway off' });
	if (current === 'settings') settingsSection(body, ctx);
	else if (current === 'validate') validateSection(body, ctx, arg);
	else domainsSection(body, ctx);
	return cleanup;
}

// ---- next hop health ----------------------------------------------------------------------

const PART_KIND = { ok: 'ok', up: 'ok', failed: 'bad', mismatch: 'bad', closed: 'bad',
	pending: 'warn', connecting: 'warn', unknown: 'neutral', off: 'neutral', 'n/a': 'neutral' };

// One part of the next hop's state; nothing for parts that do not apply (TLS over TCP).
function part(label, value) {
	const v = value || 'unknown';
	if (v === 'off' || v === 'n/a') return null;
	return [badge(`${label} ${v}`, PART_KIND[v] || stateKind(v)), ' '];
}

function healthCell(d) {
	const s = d.status;
	if (!s) {
		return h('td', null, badge('not reported', 'neutral'),
			h('p.muted.small', null, 'The gateway has not reported this domain yet ' +
				'(it is off or starting).'));
	}
	const counters = `${plural(s.messages_in || 0, 'message', 'messages')} in, ` +
		`${s.messages_out || 0} out, ${plural(s.errors || 0, 'error', 'errors')}; ` +
		`${plural(s.subscriptions || 0, 'subscription', 'subscriptions')}, ` +
		`${plural(s.sessions || 0, 'session', 'sessions')}`;
	const lastError = s.last_error || (s.state === 'failed' ? s.reason : '');
	return h('td.health', { 'data-sort': s.state || '' },
		h('div', null, badge(s.state || 'unknown', stateKind(s.state)),
			s.since ? h('span.muted.small', null, ' since ', timeEl(s.since, s.since_ms, 'ago'))
				: null),
		h('div.small', null, part('DNS', s.dns), part('TCP', s.tcp), part('TLS', s.tls),
			part('certificate name', s.cert_match), part('OPTIONS', s.options)),
		s.address ? h('div.muted.small', null, `Address: ${s.address}`) : null,
		h('div.muted.small', null, counters),
		lastError ? h('div.warn-line.small', null, `Last error: ${lastError}`) : null,
		s.refused ? h('div.warn-line.small.refused', null, `Refused ${plural(s.refused,
			'request', 'requests')} from clients that may not send for this domain. ` +
			`Last: ${s.last_refused}`) : null);
}

// ---- domains ----------------------------------------------------------------------------

function domainsSection(body, ctx) {
	const msg = noticeEl();
	const list = h('div');
	const formHolder = h('div');
	replace(body,
		h('section.card', { 'aria-labelledby': 'sip-domains' },
			h('div.card-head', null, h('h2', { id: 'sip-domains' }, 'SIP domains'),
				h('p.muted.small', null, 'Each SIP domain with its next hop and that next ' +
					'hop\'s health. Refreshes every 5 seconds.')),
			msg, list),
		h('section.card', { 'aria-labelledby': 'sip-domain-form' }, formHolder));

	let certs = [];
	let cas = [];
	let domains = [];
	let editing = null; // the domain being edited, or null for "add"
	let sig = '';

	async function load(force) {
		try {
			const ans = await get('/api/v1/sip/domains');
			domains = ans.domains || [];
			const s = JSON.stringify(domains.map((d) => [d, d.status && { ...d.status,
				since: null }]));
			if (!force && s === sig) return;
			sig = s;
			drawList();
		} catch (err) {
			notice(msg, 'error', err.message, err.fix);
		}
	}

	function drawList() {
		if (!domains.length) {
			replace(list, h('p.empty-state', null, EMPTY));
			return;
		}
		const rows = domains.map((d) => {
			const certWarn = d.cert_names_fqdn === false;
			return h('tr', null,
				h('td.name', null, h('strong', null, d.domain),
					h('div.muted.small', null, `XMPP: ${d.maps_to}`)),
				h('td', null, h('div', null, h('code', null,
					`${d.next_hop}:${d.port}`), ' ', badge(d.transport.toUpperCase(),
					d.transport === 'tls' ? 'ok' : 'warn')),
				d.bind ? h('div.muted.small', null, `from ${d.bind}`) : null,
				d.transport === 'tcp' ? h('div.muted.small', null, 'Requests from the next hop' +
					(d.trusted_addrs ? ` and ${d.trusted_addrs}` : ' only')) : null),
				h('td', null,
					h('div', null, 'Certificate: ', d.cert_name
						? h('span', null, d.cert_name, certWarn ? ' ' : '',
							certWarn ? badge('name mismatch', 'bad') : null)
						: h('span.muted', null, 'none')),
					h('div', null, 'Trusted CA: ', d.ca_name ? d.ca_name
						: h('span.muted', null, 'none')),
					(d.warnings || []).map((w) => h('div.warn-line.small', null, w))),
				healthCell(d),
				h('td', null, h('div.row-actions', null,
					button('Edit', { class: 'btn-small', 'aria-label': `Edit ${d.domain}`,
						on: { click: () => edit(d.domain) } }),
					h('a.btn.btn-small', { href: `#/sip/validate/${enc(d.domain)}`,
						'aria-label': `Validate ${d.domain}` }, 'Validate'),
					button('Delete', { class: 'btn-small btn-danger-quiet',
						'aria-label': `Delete ${d.domain}`,
						on: { click: () => remove(d.domain) } }))));
		});
		replace(list, table('SIP domains', ['SIP domain', 'Next hop', 'Certificates',
			'Next hop health', 'Actions'], rows, 'sip-domains'));
	}

	function domainForm() {
		const d = editing ? domains.find((x) => x.domain === editing) || {} : {};
		const formMsg = noticeEl();
		const domainInput = input('domain', { required: true, autocomplete: 'off',
			autocapitalize: 'off', spellcheck: 'false', placeholder: 'sip.example.com',
			value: d.domain || '', readonly: editing ? true : null });
		const form = h('form.form', { novalidate: true }, formMsg,
			h('div.grid-2', null,
				field('SIP domain', domainInput, editing ? 'A domain cannot be renamed: add ' +
					'the new one and delete this one.' : 'The part after @ in your users\' ' +
					'SIP addresses.'),
				field('Mapped XMPP domain', input('xmpp_domain', { autocomplete: 'off',
					autocapitalize: 'off', spellcheck: 'false', value: d.xmpp_domain || '',
					placeholder: 'same as the SIP domain' }),
				'XMPP users write to user@this domain. Empty: the same name.'),
				field('Next hop (Access Edge)', input('next_hop', { required: true,
					autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false',
					placeholder: 'edge.example.com', value: d.next_hop || '' }),
				'Its FQDN as on its certificate, or an IP address.'),
				field('Port', input('port', { type: 'number', min: 1, max: 65535,
					value: d.port ? String(d.port) : '', placeholder: '5061 for TLS, 5060 for TCP' }),
				'Empty: the standard port of the transport.'),
				field('Transport', select('transport', TRANSPORTS, d.transport || 'tls'),
					'TLS: requests for this domain are taken only over mutual TLS, from the ' +
					'edge whose certificate names the next hop. TCP: from the next hop\'s ' +
					'addresses and the trusted addresses, with nothing to prove who sent ' +
					'them; use it only on a trusted network.'),
				field('Trusted addresses (TCP)', input('trusted_addrs', { autocomplete: 'off',
					spellcheck: 'false', value: d.trusted_addrs || '',
					placeholder: 'the next hop only' }),
				'Over TCP, besides the next hop: addresses or networks whose requests are ' +
					'taken, as in 192.0.2.7, 10.0.0.0/8. Not used over TLS.'),
				field('Bind address', input('bind', { autocomplete: 'off', spellcheck: 'false',
					value: d.bind || '', placeholder: 'system choice' }),
				'The local address connections to the next hop leave from. Usually empty.'),
				field('SIP certificate', select('cert_id', certOptions(certs,
					certs.length ? 'No certificate' : 'No certificate with a key yet'),
				d.cert_id || ''), 'Presented to the Access Edge (mutual TLS); it should name ' +
					'the gateway\'s FQDN (Settings).'),
				field('Trusted CA bundle', select('ca_id', certOptions(cas,
					cas.length ? 'None' : 'No CA bundle yet'), d.ca_id || ''),
				'Checks the Access Edge\'s certificate. Required for TLS.')),
			(!certs.length || !cas.length) ? h('p.hint', null, 'Create or upload the SIP ' +
				'certificate and import the Access Edge\'s CA under ',
			h('a', { href: '#/certificates' }, 'Certificates'), '.') : null,
			recordActions(editing, 'Add SIP domain', () => { editing = null; drawForm(); }));
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			clearFormErrors(form);
			const e = form.elements;
			const reqBody = {
				next_hop: e.next_hop.value.trim(),
				transport: e.transport.value,
				cert_id: e.cert_id.value,
				ca_id: e.ca_id.value,
				bind: e.bind.value.trim(),
				xmpp_domain: e.xmpp_domain.value.trim(),
				trusted_addrs: e.trusted_addrs.value.trim(),
			};
			const port = e.port.value.trim();
			reqBody.port = /^\d+$/.test(port) ? Number(port) : port;
			if (!editing) reqBody.domain = e.domain.value.trim();
			await saveRecord(form, formMsg, { msg, done: `Saved ${editing || reqBody.domain}.`,
				send: () => (editing ? put(`/api/v1/sip/domains/${enc(editing)}`, reqBody)
					: post('/api/v1/sip/domains', reqBody)),
				after: async () => {
					editing = null;
					await load(true);
					drawForm();
				} });
		});
		return form;
	}

	// Adding is folded away once there are domains; editing always shows the form.
	function drawForm() {
		const title = editing ? `Edit ${editing}` : 'Add a SIP domain';
		if (editing || !domains.length) {
			replace(formHolder, h('h2', { id: 'sip-domain-form' }, title), domainForm());
			return;
		}
		replace(formHolder, h('details.panel', null,
			h('summary', { id: 'sip-domain-form' }, title), domainForm()));
	}

	function edit(domain) {
		editing = domain;
		drawForm();
		formHolder.scrollIntoView({ block: 'start' });
		const first = formHolder.querySelector('input[name="next_hop"]');
		if (first) first.focus();
	}

	function remove(domain) {
		return removeRecord(msg, { title: `Delete ${domain}?`, text: 'The connection to its ' +
			'next hop closes now, and its users are no longer reachable from XMPP.',
		url: `/api/v1/sip/domains/${enc(domain)}`, done: `Deleted ${domain}.`,
		after: async () => {
			if (editing === domain) editing = null;
			await load(true);
			drawForm();
		} });
	}

	(async () => {
		[certs, cas] = await Promise.all([certificatesWithKeys(), caBundles()]);
		await load(true);
		drawForm();
	})();
	ctx.every(() => load(false), REFRESH_MS);
}

// ---- settings ---------------------------------------------------------------------------

function settingsSection(body, ctx) {
	const msg = noticeEl();
	const form = h('form.form', { novalidate: true });
	const live = h('div');
	replace(body,
		h('section.card', { 'aria-labelledby': 'sip-live' },
			h('div.card-head', null, h('h2', { id: 'sip-live' }, 'SIP gateway now'),
				h('p.muted.small', null, 'Refreshes every 5 seconds.')), live),
		h('section.card', { 'aria-labelledby': 'sip-settings' },
			h('h2', { id: 'sip-settings' }, 'SIP settings'), msg, form));
	let loaded = {};
	// The SIP listeners and the SIP faults beside the settings.
	const loadLive = liveState(live, { listenerRe: /^listener:sip/, faultRe: /^sip\./,
		offText: 'Not listening: the SIP gateway is off.', noneText: 'No SIP listener is up.',
		off: () => loaded.enabled === false });

	const { check, num } = settingFields('sip', () => loaded);

	function draw() {
		replace(form,
			check('enabled', 'Run the SIP gateway', 'Off: the SIP listeners and the ' +
				'connections to the next hops close.'),
			h('div.grid-2', null,
				field('Gateway FQDN', input('fqdn', { value: loaded.fqdn_default ? ''
					: loaded.fqdn || '', placeholder: loaded.fqdn || 'host name',
				autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false' }),
				'The name in Via and Contact, which must be on the gateway\'s SIP ' +
					'certificate. Empty: the host name' +
					(loaded.fqdn_default && loaded.fqdn ? ` (${loaded.fqdn}).` : '.')),
				field('Listen address', input('bind', { value: loaded.bind || '',
					autocomplete: 'off', spellcheck: 'false', placeholder: '0.0.0.0' }),
				'One address; 0.0.0.0 means every IPv4 address, :: every IPv6 address.'),
				num('tls_port', 'SIP over TLS port', 0, 65535, 'Standard: 5061. 0 = off.'),
				num('tcp_port', 'SIP over TCP port', 0, 65535, 'Standard: 5060. 0 = off.')),
			h('details.panel', null, h('summary', null, 'Presence, queues and keepalive'),
				h('div.grid-2', null,
					num('subscription_expires_s', 'Presence subscription period (seconds)',
						60, 86400, 'Asked for and the most granted; refreshed at 80%, ' +
						'at least 32 s before the end.'),
					num('max_pending', 'SIP requests waiting for XMPP', 1, 1000000,
						'Beyond: 503 with Retry-After.'),
					num('max_message_bytes', 'Largest MESSAGE outside a session (bytes)', 500,
						131072, 'RFC 3428: 1300 unless every hop is TCP or TLS. Larger XMPP ' +
						'messages are refused with policy-violation.'),
					num('keepalive_s', 'Keepalive toward the next hop (seconds)', 0, 3600,
						'A CRLF ping after this long idle (RFC 5626). A peer that answers ' +
						'pings and stops is disconnected after 10 s. 0 = off.'))),
			h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' },
				'Save settings')));
	}

	settingsSubmit(form, msg, { url: '/api/v1/sip/settings', ctx, redraw: draw,
		saved: loadLive,
		fields: [['enabled', 'check'], ['fqdn', 'host'], ['bind', 'text'], ['tls_port', 'num'],
			['tcp_port', 'num'], ['subscription_expires_s', 'num'], ['max_pending', 'num'],
			['max_message_bytes', 'num'], ['keepalive_s', 'num']],
		state: { get: () => loaded, set: (v) => { loaded = v; } } });

	(async () => {
		try {
			loaded = await get('/api/v1/sip/settings');
			draw();
		} catch (err) {
			notice(msg, 'error', err.message, err.fix);
		}
		loadLive();
	})();
	ctx.every(loadLive, REFRESH_MS);
}

// ---- validate connection ------------------------------------------------------------------

function validateSection(body, ctx, preset) {
	const msg = noticeEl();
	const result = h('div', { 'aria-live': 'polite' });
	const formHolder = h('div');
	replace(body, h('section.card', { 'aria-labelledby': 'sip-validate' },
		h('h2', { id: 'sip-validate' }, 'Validate connection'),
		h('p.muted.small', null, 'Checks a SIP domain\'s next hop step by step: DNS, TCP, ' +
			'TLS with both certificates and the name match, then a SIP OPTIONS round trip.'),
		formHolder, msg, result));

	// Over TCP there is no TLS phase to show.
	let transports = {};
	const phasesOf = (domain) => (transports[domain] === 'tcp'
		? PHASES.filter(([label]) => !label.startsWith('TLS')) : PHASES);

	const start = validationRunner(ctx, { url: '/api/v1/sip/validate', msg, result,
		draw: (v) => replace(result, ...validationView(v, phasesOf(v.domain), {
			okText: `Every step passed: the gateway reaches the next hop of ${v.domain}.`,
			onRetry: () => start(v.domain, formHolder.querySelector('form')),
		})) });

	(async () => {
		let list = [];
		try {
			list = (await get('/api/v1/sip/domains')).domains || [];
		} catch (err) {
			notice(msg, 'error', err.message, err.fix);
			return;
		}
		transports = Object.fromEntries(list.map((d) => [d.domain, d.transport]));
		if (!list.length) {
			replace(formHolder, h('p.empty-state', null, EMPTY, ' ',
				h('a', { href: '#/sip/domains' }, 'Add one'), '.'));
			return;
		}
		const chosen = list.some((d) => d.domain === preset) ? preset : list[0].domain;
		const form = h('form.form.form-inline', { novalidate: true },
			field('SIP domain', select('domain', list.map((d) => [d.domain,
				`${d.domain} — next hop ${d.next_hop}:${d.port} (${d.transport.toUpperCase()})`]),
			chosen), 'The domain whose next hop to check.'),
			h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' }, 'Validate')));
		form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			clearFormErrors(form);
			start(form.elements.domain.value, form);
		});
		replace(formHolder, form);
		if (preset && chosen === preset) start(preset, form);
	})();
}
