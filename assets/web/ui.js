// fedgw console: DOM helpers, time formatting, form errors, dialogs, paging.

// h('tag.class', {attr: v, on: {click: fn}}, ...children): builds an element. Text is
// always set as text nodes, never parsed as HTML.
export function h(spec, attrs, ...children) {
	const [tag, ...classes] = spec.split('.');
	const el = document.createElement(tag || 'div');
	if (classes.length) el.className = classes.join(' ');
	if (attrs) {
		for (const [k, v] of Object.entries(attrs)) {
			if (v === undefined || v === null || v === false) continue;
			if (k === 'on') {
				for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
			} else if (k === 'class') {
				el.className = [el.className, v].filter(Boolean).join(' ');
			} else if (k === 'text') {
				el.textContent = v;
			} else if (k === 'dataset') {
				Object.assign(el.dataset, v);
			} else if (v === true) {
				el.setAttribute(k, '');
			} else if (k in el && typeof v !== 'string') {
				el[k] = v;
			} else {
				el.setAttribute(k, String(v));
			}
		}
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === undefined || c === null || c === false) continue;
		if (Array.isArray(c)) append(el, c);
		else if (c instanceof Node) el.appendChild(c);
		else el.appendChild(document.createTextNode(String(c)));
	}
}

export function clear(el) {
	while (el.firstChild) el.removeChild(el.firstChild);
	return el;
}

export function replace(el, ...children) {
	clear(el);
	append(el, children);
	return el;
}

// ---- time -------------------------------------------------------------------------

export function toDate(iso, ms) {
	if (typeof ms === 'number' && ms > 0) return new Date(ms);
	if (!iso) return null;
	const d = new Date(iso);
	return isNaN(d.getTime()) ? null : d;
}

const pad = (n) => String(n).padStart(2, '0');

export function localDate(d) {
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function localTime(d) {
	return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function utcText(d) {
	return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function zoneName() {
	try {
		return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
	} catch {
		return 'local time';
	}
}

export function hoverText(d) {
	return `${localDate(d)} ${localTime(d)} ${zoneName()}\n${utcText(d)}`;
}

export function ago(d, now = Date.now()) {
	const s = Math.round((now - d.getTime()) / 1000);
	const abs = Math.abs(s);
	let n, unit;
	if (abs < 10) return 'just now';
	if (abs < 60) [n, unit] = [abs, 'second'];
	else if (abs < 3600) [n, unit] = [Math.floor(abs / 60), 'minute'];
	else if (abs < 86400) [n, unit] = [Math.floor(abs / 3600), 'hour'];
	else [n, unit] = [Math.floor(abs / 86400), 'day'];
	const t = `${n} ${unit}${n === 1 ? '' : 's'}`;
	return s >= 0 ? `${t} ago` : `in ${t}`;
}

// <time> showing local date and time (or a part of it), exact local and UTC on hover.
export function timeEl(iso, ms, mode = 'datetime') {
	const d = toDate(iso, ms);
	if (!d) return h('span.muted', null, '—');
	let text;
	if (mode === 'date') text = localDate(d);
	else if (mode === 'time') text = localTime(d);
	else if (mode === 'ago') text = ago(d);
	else text = `${localDate(d)} ${localTime(d)}`;
	return h('time', { datetime: d.toISOString(), title: hoverText(d) }, text);
}

export function duration(seconds) {
	let s = Math.max(0, Math.floor(Number(seconds) || 0));
	const d = Math.floor(s / 86400);
	s -= d * 86400;
	const hr = Math.floor(s / 3600);
	s -= hr * 3600;
	const m = Math.floor(s / 60);
	s -= m * 60;
	if (d) return `${d} d ${hr} h ${m} min`;
	if (hr) return `${hr} h ${m} min`;
	if (m) return `${m} min ${s} s`;
	return `${s} s`;
}

export function bytes(n) {
	n = Number(n) || 0;
	const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
	let i = 0;
	while (n >= 1024 && i < units.length - 1) {
		n /= 1024;
		i++;
	}
	return i === 0 ? `${n} bytes` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

export function plural(n, one, many) {
	return `${n} ${n === 1 ? one : many}`;
}

// ---- messages and form errors -------------------------------------------------------

// A status line under a form or a screen title: kind is 'ok', 'error' or 'info'.
export function notice(el, kind, text, fix) {
	replace(el, text, fix ? h('span.fix', null, h('strong', null, 'Fix: '), fix) : null);
	el.className = `notice notice-${kind}`;
	el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
	el.hidden = !text;
}

export function noticeEl() {
	const el = h('p.notice');
	el.hidden = true;
	return el;
}

export function clearFormErrors(form) {
	for (const e of form.querySelectorAll('.field-error')) e.remove();
	for (const c of form.querySelectorAll('[aria-invalid]')) {
		c.removeAttribute('aria-invalid');
		c.removeAttribute('aria-describedby');
	}
}

let errSeq = 0;

// Puts an error next to the control named `field` (or returns false if there is none).
export function fieldError(form, field, message, fix) {
	const ctl = field ? form.elements.namedItem(field) : null;
	if (!ctl || !(ctl instanceof Element)) return false;
	const id = `err-${++errSeq}`;
	const err = h('div.field-error', { id, role: 'alert' },
		h('span.msg', null, message || 'This value is not valid.'),
		fix ? h('span.fix', null, h('strong', null, 'Fix: '), fix) : null);
	const wrap = ctl.closest('.field') || ctl.parentElement;
	wrap.appendChild(err);
	ctl.setAttribute('aria-invalid', 'true');
	ctl.setAttribute('aria-describedby', id);
	return true;
}

// Shows an API error: next to its field when the form has it, else in the notice line.
export function showError(form, noticeLine, err) {
	if (form) clearFormErrors(form);
	const placed = form && fieldError(form, err.field, err.message, err.fix);
	if (placed) {
		notice(noticeLine, 'error', 'Please correct the field marked below.');
		const ctl = form.elements.namedItem(err.field);
		if (ctl && ctl.focus) ctl.focus();
	} else {
		notice(noticeLine, 'error', err.message, err.fix);
	}
}

// A labelled control wrapped for layout and error placement.
export function field(label, control, hint) {
	const id = control.id || `f-${control.name}-${++errSeq}`;
	control.id = id;
	let hintEl = null;
	if (hint) {
		hintEl = h('p.hint', { id: `${id}-hint` }, hint);
		control.setAttribute('aria-describedby', hintEl.id);
	}
	return h('div.field', null, h('label', { for: id }, label), control, hintEl);
}

export function input(name, attrs = {}) {
	return h('input', { name, type: 'text', ...attrs });
}

export function textarea(name, attrs = {}) {
	return h('textarea', { name, rows: 4, spellcheck: 'false', ...attrs });
}

export function select(name, options, value) {
	return h('select', { name },
		options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

export function button(label, attrs = {}) {
	return h('button.btn', { type: 'button', ...attrs }, label);
}

// Disables a form's submit button while the request runs.
export async function busy(form, fn) {
	const btns = form.querySelectorAll('button');
	btns.forEach((b) => (b.disabled = true));
	form.setAttribute('aria-busy', 'true');
	try {
		return await fn();
	} finally {
		btns.forEach((b) => (b.disabled = false));
		form.removeAttribute('aria-busy');
	}
}

// ---- dialogs ------------------------------------------------------------------------

// A modal <dialog> asking to confirm; resolves true when confirmed.
export function confirmDialog(title, text, confirmLabel, danger = true) {
	return new Promise((resolve) => {
		const ok = h(`button.btn.${danger ? 'btn-danger' : 'btn-primary'}`,
			{ type: 'submit', value: 'ok' }, confirmLabel);
		const dlg = h('dialog.dialog', { 'aria-labelledby': 'dlg-title' },
			h('form', { method: 'dialog' },
				h('h2', { id: 'dlg-title' }, title),
				h('p', null, text),
				h('div.actions',
					null,
					h('button.btn', { type: 'submit', value: 'cancel' }, 'Cancel'),
					ok)));
		dlg.addEventListener('close', () => {
			resolve(dlg.returnValue === 'ok');
			dlg.remove();
		});
		document.body.appendChild(dlg);
		dlg.showModal();
		ok.focus();
	});
}

// ---- copy ---------------------------------------------------------------------------

export async function copyText(text) {
	try {
		await navigator.clipboard.writeText(text);
		return true;
	} catch {
		const ta = h('textarea.offscreen', { readonly: true }, text);
		document.body.appendChild(ta);
		ta.select();
		let ok = false;
		try {
			ok = document.execCommand('copy');
		} catch {
			ok = false;
		}
		ta.remove();
		return ok;
	}
}

export function copyButton(getText, label = 'Copy') {
	const b = button(label, { class: 'btn-small' });
	b.addEventListener('click', async () => {
		const ok = await copyText(getText());
		b.textContent = ok ? 'Copied' : 'Select and copy';
		setTimeout(() => (b.textContent = label), 1500);
	});
	return b;
}

// ---- tables and paging --------------------------------------------------------------

export function table(caption, headers, rows, cls = '') {
	// On a narrow screen each row becomes a block; cells show their column name then.
	for (const tr of rows) {
		[...tr.children].forEach((td, i) => {
			if (!td.classList.contains('empty') && headers[i]) td.dataset.label = headers[i];
		});
	}
	// A focusable region, so a table wider than a narrow screen scrolls by keyboard too.
	return h('div.table-wrap', { tabindex: '0', role: 'region', 'aria-label': caption || 'Table' },
		h(`table${cls ? '.' + cls : ''}`, null,
			caption ? h('caption.sr-only', null, caption) : null,
			h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col' }, t)))),
			h('tbody', null, rows)));
}

// Lets the admin sort a fully loaded table by any column: a button in each header cell,
// aria-sort for assistive technology. Cells may carry data-sort with the value to sort by.
export function sortable(wrap) {
	const tbl = wrap.querySelector('table');
	const ths = [...tbl.querySelectorAll('thead th')];
	ths.forEach((th, col) => {
		if (th.dataset.nosort !== undefined) return;
		const b = h('button.th-sort', { type: 'button' }, th.textContent);
		replace(th, b);
		b.addEventListener('click', () => {
			const dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
			ths.forEach((t) => t.removeAttribute('aria-sort'));
			th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
			const body = tbl.tBodies[0];
			const key = (tr) => {
				const td = tr.cells[col];
				return td ? td.dataset.sort ?? td.textContent.trim().toLowerCase() : '';
			};
			const rows = [...body.rows].filter((r) => !r.querySelector('td.empty'));
			rows.sort((a, b2) => {
				const x = key(a), y = key(b2);
				if (x === '' || y === '') return (x === '') - (y === ''); // blanks last
				const nx = Number(x), ny = Number(y);
				const c = x !== '' && y !== '' && !isNaN(nx) && !isNaN(ny) ? nx - ny
					: String(x).localeCompare(String(y));
				return c * dir;
			});
			rows.forEach((r) => body.appendChild(r));
		});
	});
	return wrap;
}

export function debounce(fn, ms) {
	let t = null;
	return (...args) => {
		clearTimeout(t);
		t = setTimeout(() => fn(...args), ms);
	};
}

// Prev/next pager with "1-100 of 2345"; onChange(offset) loads a page.
export function pager(label, onChange) {
	const info = h('span.pager-info', { 'aria-live': 'polite' });
	const prev = button('Previous', { class: 'btn-small' });
	const next = button('Next', { class: 'btn-small' });
	const el = h('nav.pager', { 'aria-label': label }, prev, info, next);
	let state = { offset: 0, limit: 100, total: 0 };
	prev.addEventListener('click', () => onChange(Math.max(0, state.offset - state.limit)));
	next.addEventListener('click', () => onChange(state.offset + state.limit));
	return {
		el,
		update(offset, limit, total, shown) {
			state = { offset, limit, total };
			const first = total === 0 ? 0 : offset + 1;
			const last = offset + shown;
			info.textContent = `${first}–${last} of ${total}`;
			prev.disabled = offset <= 0;
			next.disabled = last >= total;
			el.hidden = total === 0;
		},
	};
}

export function emptyRow(cols, text) {
	return h('tr', null, h('td.empty', { colspan: cols }, text));
}

export function badge(text, kind) {
	return h(`span.badge.badge-${kind}`, null, text);
}

// Maps states and levels onto the few colours of the console.
export function stateKind(state) {
	const s = String(state || '').toLowerCase();
	if (/^(up|listening|connected|ok|running|active|ready|established|leader|follower)$/.test(s))
		return 'ok';
	if (/^(error|failed|down|fault|unreachable|refused|expired|stopped)$/.test(s)) return 'bad';
	if (/^(warning|warn|degraded|retrying|connecting|starting|pending|expiring)$/.test(s))
		return 'warn';
	return 'neutral';
}

export function levelKind(level) {
	const l = String(level || '').toLowerCase();
	if (l.startsWith('err')) return 'bad';
	if (l.startsWith('warn')) return 'warn';
	if (l === 'notice') return 'info';
	return 'neutral';
}

// Builds a query string from an object, leaving out empty values.
export function qs(params) {
	const u = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) {
		if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
	}
	const s = u.toString();
	return s ? `?${s}` : '';
}
