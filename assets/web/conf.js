// fedgw console: pieces shared by the configuration screens (XMPP, SIP) — the screen's
// head and sections, settings forms bound to the API's settings, answers with their
// warnings, certificate choices, and the steps of "validate connection".
import { del, enc, get, post, put } from './api.js';
import { h, badge, busy, button, clearFormErrors, confirmDialog, field, input, notice, plural,
	replace, showError, stateKind } from './ui.js';

// Live state refreshes this often.
export const REFRESH_MS = 5000;
// A validation is polled this often while it runs.
const VALIDATE_POLL_MS = 1000;

// A configuration screen: its head with the on/off badge (from GET /api/v1/<area>/settings),
// the sections as a sub-navigation, and ctx for the section drawn into body. Returns
// { body, ctx, cleanup }.
export function confScreen(root, { area, title, lead, sections, current, on, off }) {
	const timers = [];
	const body = h('div');
	const subnav = h('nav.subnav', { 'aria-label': `${area.toUpperCase()} sections` },
		h('ul', null, sections.map(([id, label]) => h('li', null,
			h('a', { href: `#/${area}/${id}`, 'aria-current': id === current ? 'page' : null },
				label)))));
	const state = h('span');
	replace(root,
		h('div.screen-head', null, h('h1', null, title), state, h('p.muted.small', null, lead)),
		subnav, body);
	const showState = (st) => replace(state, st.enabled ? badge(on, 'ok') : badge(off, 'warn'));
	get(`/api/v1/${area}/settings`).then(showState).catch(() => {});
	const ctx = { every: (fn, ms) => timers.push(setInterval(fn, ms)), timers,
		settingsSaved: showState };
	return { body, ctx, cleanup: () => timers.forEach((t) => clearInterval(t)) };
}

// ---- settings forms ---------------------------------------------------------------------

// Controls bound to the settings as loaded (values()).
export function settingFields(prefix, values) {
	return {
		check(name, label, hint) {
			const id = `${prefix}-${name}`;
			return h('div.field.check', null,
				h('input', { type: 'checkbox', id, name, checked: !!values()[name],
					'aria-describedby': hint ? `${id}-hint` : null }),
				h('label', { for: id }, label),
				hint ? h('p.hint', { id: `${id}-hint` }, hint) : null);
		},
		num(name, label, min, max, hint) {
			return field(label, input(name, { type: 'number', min, max,
				value: String(values()[name] ?? ''), required: true }), hint);
		},
		list(name, label, hint, placeholder) {
			return field(label, input(name, { value: (values()[name] || []).join(', '),
				placeholder, autocomplete: 'off', spellcheck: 'false' }), hint);
		},
	};
}

function listValue(s) {
	return String(s || '').split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
}

// What the form changes, in the order of fields ([name, kind]): kind is check, select,
// text (one line), host (empty = the default, "<name>_default" says it is in use), list or
// num (sent as a number when it is one, else as typed for the API to refuse).
function settingChanges(e, fields, loaded) {
	const changes = {};
	for (const [k, kind] of fields) {
		if (kind === 'check') {
			if (e[k].checked !== !!loaded[k]) changes[k] = e[k].checked;
		} else if (kind === 'select') {
			if (e[k].value !== loaded[k]) changes[k] = e[k].value;
		} else if (kind === 'list') {
			const v = listValue(e[k].value);
			if (JSON.stringify(v) !== JSON.stringify(loaded[k] || [])) changes[k] = v;
		} else {
			const raw = e[k].value.trim();
			const was = kind === 'host' ? (loaded[`${k}_default`] ? '' : loaded[k] || '')
				: kind === 'num' ? String(loaded[k]) : loaded[k];
			if (raw !== was) changes[k] = kind === 'num' && /^\d+$/.test(raw) ? Number(raw) : raw;
		}
	}
	return changes;
}

// Saves the changed settings with PUT url: refusals next to their field, the answer and its
// warnings in msg; state.get()/state.set() hold the settings as loaded, redraw() redraws
// the form, saved() runs after a save.
export function settingsSubmit(form, msg, { url, fields, state, ctx, redraw, saved }) {
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		const changes = settingChanges(form.elements, fields, state.get());
		if (!Object.keys(changes).length) {
			notice(msg, 'info', 'Nothing to save: no setting was changed.');
			return;
		}
		await busy(form, async () => {
			try {
				const ans = await put(url, changes);
				state.set(ans.settings || state.get());
				ctx.settingsSaved(state.get());
				redraw();
				answerNotice(msg, ans, 'Saved.');
				if (saved) saved();
			} catch (err) {
				showError(form, msg, err);
			}
		});
	});
}

// "Saved ..." with the warnings the answer carries, below it.
export function answerNotice(el, ans, fallback) {
	const warnings = (ans && ans.warnings) || [];
	notice(el, warnings.length ? 'info' : 'ok', (ans && ans.message) || fallback);
	if (warnings.length) {
		el.appendChild(h('ul.warnings', null,
			warnings.map((w) => h('li', null, h('strong', null, 'Warning: '), w))));
	}
}

// ---- records (domains, allow-list entries, exceptions) ----------------------------------

// A record form's buttons: add, or save and cancel while editing.
export function recordActions(editing, addLabel, onCancel) {
	return h('div.actions', null,
		h('button.btn.btn-primary', { type: 'submit' }, editing ? 'Save changes' : addLabel),
		editing ? button('Cancel', { on: { click: onCancel } }) : null);
}

// Sends a record form (send() makes the request): then after() redraws, and the answer
// shows in msg (done when it has no message); a refusal shows next to its field.
export async function saveRecord(form, fmsg, { send, after, msg, done }) {
	await busy(form, async () => {
		try {
			const ans = await send();
			await after();
			answerNotice(msg, ans, done);
		} catch (err) {
			showError(form, fmsg, err);
		}
	});
}

// Asks (title, text, confirmLabel), deletes with DELETE url, then after() redraws and the
// answer shows in msg (done when it has no message).
export async function removeRecord(msg, { title, text, confirmLabel = 'Delete', url, after,
	done }) {
	if (!await confirmDialog(title, text, confirmLabel)) return;
	try {
		const ans = await del(url);
		await after();
		answerNotice(msg, ans, done);
	} catch (err) {
		notice(msg, 'error', err.message, err.fix);
	}
}

async function certificates(keep) {
	try {
		const ans = await get('/api/v1/certificates');
		return (ans.certificates || []).filter(keep);
	} catch {
		return [];
	}
}

// Certificates this gateway can present (they have their private key here).
export function certificatesWithKeys() {
	return certificates((c) => c.kind === 'certificate' && c.has_key);
}

// Trusted CA bundles, to check a peer's certificate.
export function caBundles() {
	return certificates((c) => c.kind === 'ca_bundle');
}

export function certOptions(certs, noneLabel) {
	return [['', noneLabel], ...certs.map((c) => [c.id, c.name || c.id])];
}

// ---- live state beside the configuration ----------------------------------------------

// Returns a function that draws into el the listeners whose status id matches listenerRe
// and the active faults whose id matches faultRe (from GET /api/v1/status), redrawing only
// on a change; off() says whether the service is turned off (for the text when nothing
// listens).
export function liveState(el, { listenerRe, faultRe, offText, noneText, off }) {
	let sig = '';
	return async function load() {
		try {
			const st = await get('/api/v1/status');
			const listeners = (st.listeners || []).filter((l) => listenerRe.test(l.id));
			const faults = ((st.faults && st.faults.active) || [])
				.filter((f) => faultRe.test(f.id));
			const next = JSON.stringify([listeners.map((l) => [l.name, l.state, l.reason]),
				faults.map((f) => f.id), off()]);
			if (next === sig) return;
			sig = next;
			replace(el,
				listeners.length
					? h('ul.records', null, listeners.map((l) => h('li', null,
						badge(l.state, stateKind(l.state)), ' ', l.name,
						l.reason ? h('span.muted', null, ` — ${l.reason}`) : null)))
					: h('p.muted', null, off() ? offText : noneText),
				faults.length ? h('ul.faults', null, faults.map((f) => h('li.fault.fault-bad', null,
					h('div.fault-head', null, h('strong', null, f.condition), ' ',
						h('span', null, f.object)),
					h('p', null, f.cause),
					f.fix ? h('p.fix', null, h('strong', null, 'Fix: '), f.fix) : null))) : null);
		} catch {
			/* the next refresh tries again */
		}
	};
}

// ---- validate connection ------------------------------------------------------------------

function phaseState(steps, ids) {
	const mine = steps.filter((s) => ids.includes(s.id) || ids.some((i) => s.id.startsWith(i + '.')));
	if (!mine.length) return 'waiting';
	if (mine.some((s) => s.state === 'fail')) return 'fail';
	if (mine.some((s) => s.state === 'running')) return 'running';
	if (mine.some((s) => s.state === 'warn')) return 'warn';
	if (mine.every((s) => s.state === 'skip')) return 'skip';
	return 'pass';
}

const STATE_LABEL = { pass: 'passed', fail: 'failed', warn: 'warning', skip: 'skipped',
	running: 'running', waiting: 'not run' };

// "not run (an earlier step failed)" -> "(an earlier step failed)"; other text in parentheses.
function reasonText(detail) {
	const t = String(detail).replace(/^not run\s*/i, '').trim();
	return /^\(.*\)$/.test(t) ? t : `(${t})`;
}

// A validation's outcome: the verdict, the phases as a row (phases: [label, [step ids]]),
// each step with its detail and fix, the steps not run on one line, and "Try again".
export function validationView(v, phases, { okText, onRetry }) {
	const steps = v.steps || [];
	const row = h('ol.phases', { 'aria-label': 'Validation steps' },
		phases.map(([label, ids]) => {
			const st = phaseState(steps, ids);
			return h(`li.phase.phase-${st}`, null, h('span.phase-name', null, label),
				h('span.phase-state', null, STATE_LABEL[st]));
		}));
	// Steps not run are listed together: one line instead of a card each.
	const skipped = steps.filter((s) => s.state === 'skip');
	const skipLine = skipped.length ? h('li.step.step-skip', null,
		h('div.step-head', null, badge('not run', 'neutral'), ' ',
			h('strong', null, plural(skipped.length, 'step', 'steps') + ' not run'),
			skipped[0].detail ? ` ${reasonText(skipped[0].detail)}` : ''),
		h('p.muted.small', null, skipped.map((s) => s.title).join(' · '))) : null;
	const details = h('ul.steps', null, steps.filter((s) => s.state !== 'skip').map((s) => h(`li.step.step-${s.state}`, null,
		h('div.step-head', null, badge(STATE_LABEL[s.state] || s.state,
			s.state === 'pass' ? 'ok' : s.state === 'fail' ? 'bad'
				: s.state === 'warn' ? 'warn' : 'neutral'), ' ', h('strong', null, s.title)),
		s.detail ? h('p', null, s.detail) : null,
		s.fix && s.state !== 'pass' ? h('p.fix', null, h('strong', null, 'Fix: '), s.fix)
			: null,
		s.tech ? h('details', null, h('summary', null, 'Technical detail'),
			h('pre.detail', null, s.tech)) : null)), skipLine);
	const verdict = !v.done ? h('p.muted', null, `Validating ${v.domain}…`)
		: v.ok ? h('p.ok-line', null, okText)
			: h('p.notice.notice-error', { role: 'alert' }, `Validation of ${v.domain} ` +
				'failed: see the fix under the failed step.');
	const again = v.done ? h('div.actions', null, button('Try again', {
		on: { click: onRetry } })) : null;
	return [verdict, row, details, again];
}

// Runs a validation with POST url {domain} and follows it (GET url/<id>) until it is done:
// draw(v) shows each state, refusals go to msg (next to the field of form). Returns
// start(domain, form).
export function validationRunner(ctx, { url, msg, result, draw }) {
	let pollTimer = null;
	// The screen's cleanup clears every timer in ctx.timers, this one included.
	function stopPoll() {
		if (pollTimer) clearInterval(pollTimer);
		pollTimer = null;
	}

	async function poll(id) {
		try {
			const v = await get(`${url}/${enc(id)}`);
			draw(v);
			if (v.done) stopPoll();
		} catch (err) {
			stopPoll();
			notice(msg, 'error', err.message, err.fix);
		}
	}

	return async function start(domain, form) {
		stopPoll();
		msg.hidden = true;
		replace(result, h('p.muted', null, `Validating ${domain}…`));
		try {
			const ans = await post(url, { domain });
			poll(ans.id);
			pollTimer = setInterval(() => poll(ans.id), VALIDATE_POLL_MS);
			ctx.timers.push(pollTimer);
		} catch (err) {
			replace(result);
			showError(form, msg, err);
		}
	};
}
