// fedgw console: the Status screen (summary, listeners, fault conditions, recent errors,
// counters). It redraws from the 5-second status poll without moving scroll or focus.
import { h, replace, timeEl, toDate, ago, hoverText, duration, bytes, table, emptyRow,
	badge, stateKind, levelKind } from './ui.js';

let view = null;

export function render(root, ctx) {
	view = {
		summary: h('div'),
		listeners: h('div'),
		objects: h('div'),
		faults: h('div'),
		recent: h('div'),
		counters: h('div'),
		objectsSection: null,
	};
	view.objectsSection = h('section.card', { 'aria-labelledby': 'st-objects' },
		h('h2', { id: 'st-objects' }, 'Components'), view.objects);
	view.objectsSection.hidden = true;
	replace(root,
		h('div.screen-head', null, h('h1', null, 'Status'),
			h('p.muted.small', { 'aria-live': 'off' }, 'Refreshes every 5 seconds.')),
		h('section.card', { 'aria-labelledby': 'st-faults', id: 'faults', tabindex: '-1' },
			h('h2', { id: 'st-faults' }, 'Fault conditions'), view.faults),
		h('div.grid-2', null,
			h('section.card', { 'aria-labelledby': 'st-system' },
				h('h2', { id: 'st-system' }, 'System'), view.summary),
			h('section.card', { 'aria-labelledby': 'st-counters' },
				h('h2', { id: 'st-counters' }, 'Counters'), view.counters)),
		h('section.card', { 'aria-labelledby': 'st-listeners' },
			h('h2', { id: 'st-listeners' }, 'Listeners'), view.listeners),
		view.objectsSection,
		h('section.card', { 'aria-labelledby': 'st-recent' },
			h('div.card-head', null, h('h2', { id: 'st-recent' }, 'Recent errors and warnings'),
				h('a', { href: '#/logs' }, 'All logs')),
			view.recent));
	if (ctx.lastStatus) onStatus(ctx.lastStatus);
	else replace(view.summary, h('p.muted', null, 'Loading…'));
	ctx.refreshStatus();
	return () => {
		view = null;
	};
}

// Relative times ("3 minutes ago") are refreshed at least this often even when nothing
// else changed; otherwise a section is left alone so a text selection survives.
const REDRAW_MAX_AGE_MS = 30000;

// Redraws one section when its data changed, keeping open <details> and the focus.
const drawn = new WeakMap(); // container -> {sig, at}

function update(container, data, build) {
	const sig = JSON.stringify(data);
	const now = Date.now();
	const last = drawn.get(container);
	if (last && last.sig === sig && now - last.at < REDRAW_MAX_AGE_MS) return;
	drawn.set(container, { sig, at: now });
	redraw(container, build(data));
}

function redraw(container, ...children) {
	const open = new Set([...container.querySelectorAll('details[open]')]
		.map((d) => d.dataset.key));
	const focusKey = container.contains(document.activeElement)
		? document.activeElement.dataset.key : null;
	replace(container, ...children);
	for (const d of container.querySelectorAll('details')) {
		if (open.has(d.dataset.key)) d.open = true;
	}
	if (focusKey) {
		const el = [...container.querySelectorAll('[data-key]')]
			.find((e) => e.dataset.key === focusKey && e.tagName !== 'DETAILS');
		if (el) el.focus({ preventScroll: true });
	}
}

export function onStatus(st) {
	if (!view) return;
	// Uptime changes every poll: the system facts are always redrawn (nothing to select).
	redraw(view.summary, summary(st));
	update(view.faults, st.faults || {}, faults);
	update(view.listeners, st.listeners || [], listeners);
	// Listeners have their own table and counters their own card; the rest are the
	// engine's other components.
	const objs = (st.objects || []).filter((o) => o.kind !== 'listener' && o.kind !== 'counters');
	view.objectsSection.hidden = objs.length === 0;
	update(view.objects, objs, (o) => (o.length ? objects(o) : ''));
	update(view.recent, st.recent || [], recent);
	update(view.counters, st.counters || {}, counters);
}

function since(iso, ms) {
	const d = toDate(iso, ms);
	if (!d) return h('span.muted', null, '—');
	return h('time', { datetime: d.toISOString(), title: hoverText(d) }, ago(d));
}

function summary(st) {
	const store = st.store || {};
	const pct = Math.max(0, Math.min(100, Number(store.percent) || 0));
	const started = toDate(st.started, st.started_ms);
	return h('dl.facts', null,
		h('dt', null, 'Version'), h('dd', null, st.version || '—'),
		h('dt', null, 'Uptime'), h('dd', null, duration(st.uptime_s),
			started ? h('span.muted', null, ' (since ', timeEl(st.started, st.started_ms), ')')
				: null),
		h('dt', null, 'Host name'), h('dd', null, st.hostname || '—'),
		h('dt', null, 'Data directory'), h('dd', null, h('code', null, st.data_dir || '—')),
		h('dt', null, 'Store usage'), h('dd', null,
			h('meter', { min: 0, max: 100, low: 70, high: 90, optimum: 0, value: pct,
				'aria-label': 'Store usage' }),
			` ${bytes(store.used_bytes)} of ${bytes(store.map_bytes)} (${pct.toFixed(0)}%)`));
}

function faultItem(f, cleared) {
	const sev = String(f.severity || '').toLowerCase().startsWith('err') ? 'bad' : 'warn';
	return h(`li.fault.fault-${cleared ? 'cleared' : sev}`, null,
		h('div.fault-head', null,
			cleared ? badge('Cleared', 'neutral') : badge(sev === 'bad' ? 'Error' : 'Warning', sev),
			h('strong.fault-cond', null, f.condition || 'Fault'),
			f.object ? h('span.muted', null, ' · ', f.object) : null),
		h('p.fault-when.small', null, 'Raised ', timeEl(f.raised, f.raised_ms),
			cleared && (f.cleared || f.cleared_ms)
				? [', cleared ', timeEl(f.cleared, f.cleared_ms)] : null),
		f.cause ? h('p', null, h('span.label', null, 'Cause: '), f.cause) : null,
		f.fix ? h('p', null, h('span.label', null, 'Fix: '), f.fix) : null,
		f.detail ? h('details', { dataset: { key: `fault-${f.id}-${cleared ? 'c' : 'a'}` } },
			h('summary', { dataset: { key: `sum-${f.id}-${cleared ? 'c' : 'a'}` } },
				'Technical detail'),
			h('pre.detail', null, f.detail)) : null);
}

function faults(fs) {
	const active = fs.active || [];
	const cleared = fs.cleared || [];
	return h('div', null,
		active.length
			? h('ul.faults', { 'aria-label': 'Active faults' }, active.map((f) => faultItem(f, false)))
			: h('p.ok-line', null, 'No active faults. Everything fedgw checks is working.'),
		cleared.length ? h('h3', null, 'Recently cleared') : null,
		cleared.length
			? h('ul.faults', { 'aria-label': 'Recently cleared faults' },
				cleared.map((f) => faultItem(f, true)))
			: null);
}

function listeners(ls) {
	return table('Listeners', ['Name', 'State', 'Reason', 'Since'],
		ls.length
			? ls.map((l) => h('tr', null,
				h('td', null, l.name || l.id),
				h('td', null, badge(l.state || 'unknown', stateKind(l.state))),
				h('td', null, l.reason || ''),
				h('td', null, since(l.since, l.since_ms))))
			: [emptyRow(4, 'No listeners yet.')]);
}

function objects(os) {
	return table('Components', ['Name', 'Kind', 'State', 'Reason', 'Since'],
		os.map((o) => h('tr', null,
			h('td', null, o.name || o.id),
			h('td', null, o.kind || ''),
			h('td', null, badge(o.state || 'unknown', stateKind(o.state))),
			h('td', null, o.reason || ''),
			h('td', null, since(o.since, o.since_ms)))));
}

function recent(entries) {
	if (!entries.length)
		return h('p.muted', null, 'No errors or warnings recently.');
	return table('Recent errors and warnings', ['Time', 'Level', 'Subsystem', 'Message'],
		entries.map((e) => h('tr', null,
			h('td.nowrap', null, timeEl(e.time, e.time_ms)),
			h('td', null, badge(e.level, levelKind(e.level))),
			h('td', null, e.subsystem || ''),
			h('td.msg', null, e.message || ''))));
}

function counters(cs) {
	const names = Object.keys(cs).sort();
	if (!names.length) return h('p.muted', null, 'No counters yet.');
	return h('dl.facts.counters', null, names.map((n) => [
		h('dt', null, n.replace(/[._]/g, ' ')),
		h('dd.num', null, Number(cs[n]).toLocaleString()),
	]));
}

