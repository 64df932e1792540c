// fedgw console: pieces shared by the configuration screens (XMPP, SIP) — answers with
// their warnings, certificate choices, and the steps of "validate connection".
import { get } from './api.js';
import { h, badge, button, notice, plural, replace, stateKind } from './ui.js';

// "Saved ..." with the warnings the answer carries, below it.
export function answerNotice(el, ans, fallback) {
	const warnings = (ans && ans.warnings) || [];
	notice(el, warnings.length ? 'info' : 'ok', (ans && ans.message) || fallback);
	if (warnings.length) {
		el.appendChild(h('ul.warnings', null,
			warnings.map((w) => h('li', null, h('strong', null, 'Warning: '), w))));
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
