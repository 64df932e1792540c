// fedgw console: the Certificates screen (list, key + CSR, self-signed, upload, CA bundle,
// use for the console, delete). Certificates are X.509 (RFC 5280); CSRs PKCS #10
// (RFC 2986); PEM per RFC 7468.
import { del, enc, get, post, put } from './api.js';
import { h, replace, timeEl, table, emptyRow, badge, field, input, textarea, select, button,
	noticeEl, notice, showError, clearFormErrors, busy, confirmDialog, copyButton, plural,
	sortable }
	from './ui.js';

const KEY_TYPES = [
	['ec-p256', 'ECDSA P-256 (recommended)'],
	['ec-p384', 'ECDSA P-384'],
	['rsa-2048', 'RSA 2048'],
	['rsa-3072', 'RSA 3072'],
];

// Reading a PEM file into a textarea: a chain of a few certificates is a few KB; anything
// above this is not a PEM chain.
const PEM_FILE_MAX_BYTES = 256 * 1024;

const KIND_LABEL = { certificate: 'Certificate', csr: 'Key and CSR', ca_bundle: 'CA bundle' };

export function render(root) {
	const msg = noticeEl();
	const list = h('div');

	async function load() {
		try {
			const ans = await get('/api/v1/certificates');
			drawList(ans.certificates || []);
		} catch (err) {
			notice(msg, 'error', err.message, err.fix);
		}
	}

	function drawList(certs) {
		if (!certs.length) {
			replace(list, h('p.empty-state', null,
				'No certificates yet. Create a key and CSR, or upload a certificate.'));
			return;
		}
		const t = table('Certificates', ['Name', 'Subject and names', 'Issuer', 'Valid',
			'Key', 'In use by', 'Actions'], certs.map(certRow), 'certs');
		t.querySelector('th:last-child').dataset.nosort = '';
		replace(list, sortable(t));
	}

	function certRow(c) {
		const days = Number(c.days_left);
		const isCsr = c.kind === 'csr';
		let daysEl = null;
		if (!isCsr && c.not_after) {
			const cls = days < 0 ? 'days-bad' : days < 30 ? 'days-warn' : 'days-ok';
			const text = days < 0 ? `expired ${plural(-days, 'day', 'days')} ago`
				: `${plural(days, 'day', 'days')} left`;
			daysEl = h(`span.days.${cls}`, null, text);
		}
		const roles = Array.isArray(c.roles) ? c.roles
			: String(c.roles || '').split(',').map((r) => r.trim()).filter(Boolean);
		const fp = c.fingerprint_sha256 || '';
		const actions = h('div.row-actions', null,
			h('a.btn.btn-small', { href: `/api/v1/certificates/${enc(c.id)}/pem`,
				download: `${c.name || c.id}.pem` }, isCsr ? 'Download CSR' : 'Download PEM'),
			c.kind === 'certificate' && c.has_key && !roles.includes('console')
				? button('Use for console', { class: 'btn-small', on: { click: () => useForConsole(c) } })
				: null,
			button('Delete', { class: 'btn-small btn-danger-quiet',
				'aria-label': `Delete ${c.name}`, on: { click: () => remove(c) } }));
		return h('tr', null,
			h('td.name', null, h('strong', null, c.name || c.id),
				h('div.muted.small', null, KIND_LABEL[c.kind] || c.kind,
					c.self_signed ? ', self-signed' : '',
					c.chain_length > 1 ? `, chain of ${c.chain_length}` : '',
					c.has_key ? ', with key' : ''),
				c.error ? h('div.field-error.small', null, c.error) : null),
			h('td.wrap', null, h('div', null, c.subject || ''),
				(c.sans || []).length ? h('div.muted.small', null, (c.sans || []).join(', ')) : null),
			h('td.wrap', null, isCsr ? h('span.muted', null, 'not yet signed') : c.issuer || ''),
			h('td.nowrap', { dataset: { sort: isCsr ? '' : String(days) } }, isCsr ? '—' : [
				h('div.small', null, 'from ', timeEl(c.not_before, c.not_before_ms, 'date')),
				h('div.small', null, 'to ', timeEl(c.not_after, c.not_after_ms, 'date')),
				daysEl]),
			h('td.nowrap', null, h('div', null, keyLabel(c.key_type)),
				fp ? h('div.small', null, h('span.muted', null, 'SHA-256 '),
					h('code.fp', { title: `SHA-256 fingerprint ${fp}` }, abbreviate(fp)), ' ',
					copyButton(() => fp, 'Copy')) : null),
			h('td', null, roles.length ? roles.map((r) => badge(r, 'info'))
				: h('span.muted', null, 'not in use')),
			h('td', null, actions));
	}

	async function useForConsole(c) {
		try {
			await put('/api/v1/console/certificate', { id: c.id });
			notice(msg, 'ok', `The console now uses "${c.name}". New connections to the ` +
				'console get it at once; this page keeps working.');
			load();
		} catch (err) {
			notice(msg, 'error', err.message, err.fix);
		}
	}

	async function remove(c) {
		const ok = await confirmDialog(`Delete "${c.name}"?`,
			c.has_key ? 'The certificate and its private key are removed from this appliance. ' +
				'This cannot be undone.' : 'The entry is removed from this appliance.',
			'Delete');
		if (!ok) return;
		try {
			await del(`/api/v1/certificates/${enc(c.id)}`);
			notice(msg, 'ok', `"${c.name}" deleted.`);
			load();
		} catch (err) {
			if (err.status === 409) {
				notice(msg, 'error', `"${c.name}" cannot be deleted: ${lower(err.message)}`,
					err.fix);
			} else {
				notice(msg, 'error', err.message, err.fix);
			}
		}
	}

	replace(root,
		h('div.screen-head', null, h('h1', null, 'Certificates')),
		msg,
		h('section.card', { 'aria-labelledby': 'cert-list' },
			h('h2', { id: 'cert-list' }, 'Stored certificates'), list),
		h('section.card', { 'aria-labelledby': 'cert-add' },
			h('h2', { id: 'cert-add' }, 'Add'),
			csrForm(load), selfSignedForm(load), importForm(load), caForm(load)));
	load();
	return null;
}

function keyLabel(kt) {
	const known = KEY_TYPES.find(([v]) => v === kt);
	return known ? known[1].replace(/ \(.*\)$/, '') : kt || '';
}

function lower(s) {
	s = String(s || '');
	return s ? s[0].toLowerCase() + s.slice(1) : s;
}

function abbreviate(fp) {
	const hex = fp.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
	if (hex.length < 16) return fp;
	return `${hex.slice(0, 8)}…${hex.slice(-8)}`;
}

function lines(text) {
	return String(text || '').split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

function panel(title, id, form) {
	return h('details.panel', { id },
		h('summary', null, title),
		form);
}

function nameFields(withDays) {
	return [
		field('Name', input('name', { required: true, maxlength: 64, autocomplete: 'off' }),
			'How this certificate is called in the console, e.g. "xmpp-2026".'),
		field('Common name (CN)', input('common_name', { required: true, autocomplete: 'off',
			placeholder: 'gateway.example.com' })),
		field('DNS names', textarea('dns_names', { rows: 3, placeholder: 'gateway.example.com' }),
			'One per line. Peers check these names, not the common name.'),
		field('IP addresses', textarea('ip_addresses', { rows: 2 }), 'One per line (optional).'),
		field('Key type', select('key_type', KEY_TYPES, 'ec-p256')),
		withDays ? field('Valid for (days)', input('days', { type: 'number', min: 1, max: 3650,
			value: '365', required: true })) : null,
	];
}

function nameBody(form) {
	const e = form.elements;
	return {
		name: e.name.value.trim(),
		common_name: e.common_name.value.trim(),
		dns_names: lines(e.dns_names.value),
		ip_addresses: lines(e.ip_addresses.value),
		key_type: e.key_type.value,
	};
}

function csrForm(reload) {
	const msg = noticeEl();
	const result = h('div.result');
	result.hidden = true;
	const form = h('form.form', { novalidate: true }, nameFields(false), msg,
		h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' },
			'Create key and CSR')));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		result.hidden = true;
		await busy(form, async () => {
			try {
				const body = nameBody(form);
				const ans = await post('/api/v1/certificates/csr', body);
				notice(msg, 'ok', `Key and CSR "${body.name}" created. The private key stays on ` +
					'this appliance. Send the CSR to your certificate authority, then upload the ' +
					'signed certificate under the same name.');
				const pem = (ans && ans.pem) || '';
				const ta = textarea('csr_pem', { rows: 10, readonly: true, class: 'pem',
					'aria-label': 'Certificate signing request (PEM)' });
				ta.value = pem;
				replace(result,
					h('h3', null, 'Certificate signing request'), ta,
					h('div.actions', null, copyButton(() => pem, 'Copy CSR'),
						ans && ans.id ? h('a.btn.btn-small', {
							href: `/api/v1/certificates/${enc(ans.id)}/pem`,
							download: `${body.name}.csr.pem` }, 'Download CSR') : null));
				result.hidden = false;
				reload();
			} catch (err) {
				showError(form, msg, err);
			}
		});
	});
	return panel('Create key and CSR', 'add-csr', h('div', null,
		h('p.muted', null, 'A new private key is made on this appliance; only the signing ' +
			'request leaves it.'), form, result));
}

function selfSignedForm(reload) {
	const msg = noticeEl();
	const form = h('form.form', { novalidate: true }, nameFields(true), msg,
		h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' },
			'Create self-signed certificate')));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		await busy(form, async () => {
			try {
				const body = { ...nameBody(form), days: Number(form.elements.days.value) };
				await post('/api/v1/certificates/selfsigned', body);
				notice(msg, 'ok', `Self-signed certificate "${body.name}" created, valid for ` +
					`${plural(body.days, 'day', 'days')}. Peers will not trust it unless they ` +
					'are told to.');
				form.reset();
				reload();
			} catch (err) {
				showError(form, msg, err);
			}
		});
	});
	return panel('Create self-signed certificate', 'add-selfsigned', form);
}

// A PEM textarea with a file picker that reads the chosen file into it.
function pemField(label, name, hint, required) {
	const ta = textarea(name, { rows: 8, class: 'pem', required,
		placeholder: '-----BEGIN CERTIFICATE-----' });
	if (name.includes('key')) ta.placeholder = '-----BEGIN PRIVATE KEY-----';
	const file = h('input', { type: 'file', accept: '.pem,.crt,.cer,.key,.txt',
		'aria-label': `Choose a file with the ${lower(label.replace(/ \(.*\)$/, ''))}` });
	file.addEventListener('change', () => {
		const f = file.files && file.files[0];
		if (!f) return;
		if (f.size > PEM_FILE_MAX_BYTES) {
			ta.value = '';
			ta.setCustomValidity('too big');
			return;
		}
		const reader = new FileReader();
		reader.addEventListener('load', () => {
			ta.value = String(reader.result || '');
		});
		reader.readAsText(f);
	});
	const f = field(label, ta, hint);
	f.appendChild(h('div.file-pick', null, h('span.muted.small', null, 'or read from a file: '),
		file));
	return f;
}

function importForm(reload) {
	const msg = noticeEl();
	const form = h('form.form', { novalidate: true },
		field('Name', input('name', { required: true, maxlength: 64, autocomplete: 'off' }),
			'How this certificate is called in the console, e.g. "xmpp-2026".'),
		pemField('Certificate chain (PEM)', 'certificate_pem',
			'The server certificate first, then each intermediate; the root may be left out.',
			true),
		pemField('Private key (PEM, optional)', 'private_key_pem',
			'Leave empty when the key was made here with "Create key and CSR": fedgw ' +
			'finds it by the certificate\'s public key.', false),
		msg,
		h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' },
			'Upload certificate')));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		const e = form.elements;
		const body = { name: e.name.value.trim(), certificate_pem: e.certificate_pem.value };
		if (e.private_key_pem.value.trim()) body.private_key_pem = e.private_key_pem.value;
		await busy(form, async () => {
			try {
				await post('/api/v1/certificates/import', body);
				notice(msg, 'ok', `Certificate "${body.name}" uploaded. Use it for a role from ` +
					'the list above.');
				form.reset();
				reload();
			} catch (err) {
				// A chain problem belongs next to the chain, whatever field the API named.
				if (err.code === 'chain' && !err.field) err.field = 'certificate_pem';
				showError(form, msg, err);
			}
		});
	});
	return panel('Upload certificate', 'add-import', form);
}

function caForm(reload) {
	const msg = noticeEl();
	const form = h('form.form', { novalidate: true },
		field('Name', input('name', { required: true, maxlength: 64, autocomplete: 'off' })),
		pemField('CA certificates (PEM)', 'pem',
			'One or more CA certificates that peers\' certificates must chain to.', true),
		msg,
		h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' },
			'Upload CA bundle')));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		const body = { name: form.elements.name.value.trim(), pem: form.elements.pem.value };
		await busy(form, async () => {
			try {
				await post('/api/v1/certificates/ca', body);
				notice(msg, 'ok', `CA bundle "${body.name}" uploaded.`);
				form.reset();
				reload();
			} catch (err) {
				showError(form, msg, err);
			}
		});
	});
	return panel('Upload CA bundle', 'add-ca', form);
}
