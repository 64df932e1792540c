// fedgw console: the Logs screen (filter by level and text, paging, download, clear).
import { del, get } from './api.js';
import { h, replace, timeEl, table, emptyRow, badge, levelKind, pager, debounce, select,
	field, input, noticeEl, notice, confirmDialog, button, qs, plural } from './ui.js';

const PAGE = 100;
// Log lines reach the store in batches (at most ~200 ms apart in the daemon).
const CLEARED_LINE_DELAY_MS = 800;

export function render(root) {
	const state = { level: '', q: '', offset: 0, seq: 0 };
	const msg = noticeEl();
	const body = h('div');
	const level = select('level', [
		['', 'All levels'],
		['info', 'Info and above'],
		['notice', 'Notice and above'],
		['warning', 'Warnings and errors'],
		['error', 'Errors only'],
	], '');
	const search = input('q', { type: 'search', placeholder: 'Text in message or subsystem',
		autocomplete: 'off' });
	const download = h('a.btn', { href: '/api/v1/logs/download', download: '' }, 'Download');
	const clearBtn = button('Clear logs…', { class: 'btn-danger' });
	const pg = pager('Log pages', (offset) => {
		state.offset = offset;
		load();
	});

	async function load() {
		const seq = ++state.seq;
		const filt = { level: state.level, q: state.q };
		download.href = `/api/v1/logs/download${qs(filt)}`;
		try {
			const ans = await get(`/api/v1/logs${qs({ ...filt, offset: state.offset,
				limit: PAGE })}`);
			if (seq !== state.seq) return; // a newer request is on its way
			const entries = ans.entries || [];
			const total = ans.total || 0;
			if (state.offset > 0 && entries.length === 0 && total > 0) {
				state.offset = Math.max(0, Math.floor((total - 1) / PAGE) * PAGE);
				load();
				return;
			}
			replace(body, table('Log messages', ['Date', 'Time', 'Level', 'Subsystem', 'Message'],
				entries.length ? entries.map(row)
					: [emptyRow(5, state.level || state.q
						? 'No log messages match this filter. Clear the filter to see all.'
						: 'No log messages yet.')], 'logs'));
			pg.update(state.offset, PAGE, total, entries.length);
		} catch (err) {
			if (seq === state.seq) notice(msg, 'error', err.message, err.fix);
		}
	}

	level.addEventListener('change', () => {
		state.level = level.value;
		state.offset = 0;
		load();
	});
	// Waits for a pause in typing so each key does not cost a request.
	search.addEventListener('input', debounce(() => {
		state.q = search.value.trim();
		state.offset = 0;
		load();
	}, 300));

	clearBtn.addEventListener('click', async () => {
		const ok = await confirmDialog('Clear all log messages?',
			'Every log message stored on this appliance will be removed. The clearing itself ' +
			'is logged and recorded in the audit trail. You can download the logs first.',
			'Clear logs');
		if (!ok) {
			clearBtn.focus();
			return;
		}
		try {
			const ans = await del('/api/v1/logs');
			const n = ans && typeof ans.removed === 'number' ? ans.removed : 0;
			notice(msg, 'ok', `Logs cleared: ${plural(n, 'message', 'messages')} removed.`);
			state.offset = 0;
			load();
			// The daemon writes its "cleared by" line to the store a moment later.
			setTimeout(() => {
				if (root.isConnected && state.offset === 0) load();
			}, CLEARED_LINE_DELAY_MS);
		} catch (err) {
			notice(msg, 'error', err.message, err.fix);
		}
		clearBtn.focus();
	});

	const filters = h('form.filters', { role: 'search', on: { submit: (e) => e.preventDefault() } },
		field('Level', level), field('Search', search),
		h('div.filter-actions', null, download, clearBtn));

	replace(root,
		h('div.screen-head', null, h('h1', null, 'Logs')),
		filters, msg, body, pg.el);
	load();
	return null;
}

function row(e) {
	return h('tr', null,
		h('td.nowrap', null, timeEl(e.time, e.time_ms, 'date')),
		h('td.nowrap', null, timeEl(e.time, e.time_ms, 'time')),
		h('td', null, badge(e.level, levelKind(e.level))),
		h('td', null, e.subsystem || ''),
		h('td.msg', null, e.message || ''));
}
