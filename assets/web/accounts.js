// fedgw console: the Accounts screen (administrators: list, add, change password, delete).
import { del, enc, get, post } from './api.js';
import { h, replace, timeEl, table, emptyRow, field, input, button, noticeEl, notice,
	showError, clearFormErrors, busy, confirmDialog, sortable } from './ui.js';

export function render(root, ctx) {
	const msg = noticeEl();
	const list = h('div');

	async function load() {
		try {
			const ans = await get('/api/v1/admins');
			const admins = ans.admins || [];
			const t = table('Administrators', ['Name', 'Created', 'Password changed',
				'Last login', 'Actions'],
			admins.length ? admins.map(row)
				: [emptyRow(5, 'No administrators. Add one below.')]);
			t.querySelector('th:last-child').dataset.nosort = '';
			replace(list, sortable(t));
		} catch (err) {
			notice(msg, 'error', err.message, err.fix);
		}
	}

	function row(a) {
		const self = a.name === ctx.admin;
		return h('tr', null,
			h('td', null, h('strong', null, a.name), self ? h('span.muted', null, ' (you)') : null),
			h('td.nowrap', null, timeEl(a.created, a.created_ms)),
			h('td.nowrap', null, timeEl(a.password_changed, a.password_changed_ms)),
			h('td.nowrap', null, a.last_login || a.last_login_ms
				? timeEl(a.last_login, a.last_login_ms) : h('span.muted', null, 'never')),
			h('td', null, h('div.row-actions', null,
				button('Change password', { class: 'btn-small',
					'aria-label': `Change password of ${a.name}`,
					on: { click: () => passwordDialog(a.name, self, msg) } }),
				self ? null : button('Delete', { class: 'btn-small btn-danger-quiet',
					'aria-label': `Delete ${a.name}`, on: { click: () => remove(a.name) } }))));
	}

	async function remove(name) {
		const ok = await confirmDialog(`Delete administrator "${name}"?`,
			`${name} will no longer be able to log in; open sessions of ${name} end now.`,
			'Delete');
		if (!ok) return;
		try {
			await del(`/api/v1/admins/${enc(name)}`);
			notice(msg, 'ok', `Administrator "${name}" deleted.`);
			load();
		} catch (err) {
			notice(msg, 'error', err.message, err.fix);
		}
	}

	replace(root,
		h('div.screen-head', null, h('h1', null, 'Accounts')),
		msg,
		h('section.card', { 'aria-labelledby': 'acc-list' },
			h('h2', { id: 'acc-list' }, 'Administrators'), list),
		h('section.card', { 'aria-labelledby': 'acc-add' },
			h('h2', { id: 'acc-add' }, 'Add administrator'), addForm(load)));
	load();
	return () => {
		for (const d of document.querySelectorAll('dialog.pw-dialog')) d.remove();
	};
}

function addForm(reload) {
	const msg = noticeEl();
	const form = h('form.form', { novalidate: true },
		field('Name', input('name', { required: true, maxlength: 64, autocomplete: 'off',
			autocapitalize: 'off', spellcheck: 'false' }),
			'Letters, digits, dot, dash and underscore.'),
		field('Password', input('password', { type: 'password', required: true,
			autocomplete: 'new-password' }), 'At least 10 characters.'),
		field('Confirm password', input('confirm', { type: 'password', required: true,
			autocomplete: 'new-password' })),
		msg,
		h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' },
			'Add administrator')));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		const e = form.elements;
		if (e.password.value !== e.confirm.value) {
			showError(form, msg, { field: 'confirm', message: 'The passwords do not match.',
				fix: 'Type the same password twice.' });
			return;
		}
		const name = e.name.value.trim();
		await busy(form, async () => {
			try {
				await post('/api/v1/admins', { name, password: e.password.value });
				notice(msg, 'ok', `Administrator "${name}" added. They can log in now.`);
				form.reset();
				reload();
			} catch (err) {
				showError(form, msg, err);
			}
		});
	});
	return form;
}

// Own password: current + new. Another administrator's: new only.
function passwordDialog(name, self, screenMsg) {
	const msg = noticeEl();
	const form = h('form.form', { novalidate: true },
		h('h2', { id: 'pw-title' }, self ? 'Change your password' : `Set a new password for ${name}`),
		self ? field('Current password', input('current_password', { type: 'password',
			required: true, autocomplete: 'current-password' })) : null,
		field('New password', input('new_password', { type: 'password', required: true,
			autocomplete: 'new-password' }), 'At least 10 characters.'),
		field('Confirm new password', input('confirm', { type: 'password', required: true,
			autocomplete: 'new-password' })),
		msg,
		h('div.actions', null,
			button('Cancel', { on: { click: () => dlg.close() } }),
			h('button.btn.btn-primary', { type: 'submit' }, 'Change password')));
	const dlg = h('dialog.dialog.pw-dialog', { 'aria-labelledby': 'pw-title' }, form);
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		const e = form.elements;
		if (e.new_password.value !== e.confirm.value) {
			showError(form, msg, { field: 'confirm', message: 'The passwords do not match.',
				fix: 'Type the same new password twice.' });
			return;
		}
		const body = { new_password: e.new_password.value };
		if (self) body.current_password = e.current_password.value;
		await busy(form, async () => {
			try {
				await post(`/api/v1/admins/${enc(name)}/password`, body);
				dlg.close();
				notice(screenMsg, 'ok', self ? 'Your password was changed.'
					: `The password of "${name}" was changed; their other sessions ended.`);
			} catch (err) {
				showError(form, msg, err);
			}
		});
	});
	dlg.addEventListener('close', () => dlg.remove());
	document.body.appendChild(dlg);
	dlg.showModal();
	const first = form.querySelector('input');
	if (first) first.focus();
}
