// fedgw console: the Audit screen (who changed what and when: search, paging).
import { get } from './api.js';
import { h, replace, timeEl, table, emptyRow, badge, pager, debounce, field, input, noticeEl,
	notice, qs } from './ui.js';

const PAGE = 100;

export function render(root) {
	const state = { q: '', offset: 0, seq: 0 };
	const msg = noticeEl();
	const body = h('div');
	const search = input('q', { type: 'search', placeholder: 'Actor, action or detail',
		autocomplete: 'off' });
	const pg = pager('Audit pages', (offset) => {
		state.offset = offset;
		load();
	});

	async function load() {
		const seq = ++state.seq;
		try {
			const ans = await get(`/api/v1/audit${qs({ q: state.q, offset: state.offset,
				limit: PAGE })}`);
			if (seq !== state.seq) return;
			const entries = ans.entries || [];
			replace(body, table('Audit trail', ['Time', 'Actor', 'Source', 'Action', 'Detail',
				'Result'],
			entries.length ? entries.map(row)
				: [emptyRow(6, state.q ? 'No audit entries match this search.'
					: 'No audit entries yet. Changes made in the console or the CLI appear here.')],
			'audit'));
			pg.update(state.offset, PAGE, ans.total || 0, entries.length);
		} catch (err) {
			if (seq === state.seq) notice(msg, 'error', err.message, err.fix);
		}
	}

	search.addEventListener('input', debounce(() => {
		state.q = search.value.trim();
		state.offset = 0;
		load();
	}, 300));

	replace(root,
		h('div.screen-head', null, h('h1', null, 'Audit')),
		h('form.filters', { role: 'search', on: { submit: (e) => e.preventDefault() } },
			field('Search', search)),
		msg, body, pg.el);
	load();
	return null;
}

function row(e) {
	const ok = e.ok !== false;
	return h('tr', null,
		h('td.nowrap', null, timeEl(e.time, e.time_ms)),
		h('td', null, e.actor || ''),
		h('td', null, e.source || ''),
		h('td', null, e.action || ''),
		h('td.msg', null, e.detail || ''),
		h('td', null, badge(ok ? 'OK' : 'Failed', ok ? 'ok' : 'bad')));
}
