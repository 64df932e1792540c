// fedgw console: the Backup screen (download the whole store sealed with a passphrase,
// restore it from a file).
import { ApiError, get } from './api.js';
import { h, replace, field, input, button, noticeEl, notice, showError, clearFormErrors,
	busy, confirmDialog, bytes } from './ui.js';

// Largest file the console uploads (the API's cap); `fedgw restore` takes larger ones.
const RESTORE_MAX_BYTES = 64 * 1024 * 1024;
const PASSPHRASE_MIN = 12;

// The CSRF token of this session (the API client keeps its own copy private).
async function csrfToken() {
	const sess = await get('/api/v1/session');
	return (sess && sess.csrf) || '';
}

// POST with a raw or JSON body; the answer, or an ApiError as the API client throws it.
async function send(path, body, headers) {
	let res;
	try {
		res = await fetch(path, {
			method: 'POST', body, credentials: 'same-origin', cache: 'no-store',
			headers: { 'X-Requested-With': 'fedgw', 'X-CSRF-Token': await csrfToken(),
				...headers },
		});
	} catch (err) {
		if (err instanceof ApiError) throw err;
		throw new ApiError(0, null);
	}
	if (!res.ok) {
		let data = null;
		try {
			data = await res.json();
		} catch {
			data = null;
		}
		throw new ApiError(res.status, data);
	}
	return res;
}

function chars(s) {
	return Array.from(s).length;
}

function filenameOf(res) {
	const m = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
	return m ? m[1] : 'fedgw-backup.fgbk';
}

export function render(root, ctx) {
	replace(root,
		h('div.screen-head', null, h('h1', null, 'Backup')),
		h('p.lead', null, 'A backup holds the whole configuration: settings, domains, allow ',
			'list, policy, certificates with their private keys, bridges and administrators, ',
			'with the log and the audit trail. It is encrypted with a passphrase you choose; ',
			'without the passphrase it cannot be restored.'),
		h('section.card', { 'aria-labelledby': 'bk-create' },
			h('h2', { id: 'bk-create' }, 'Create a backup'), createForm()),
		h('section.card', { 'aria-labelledby': 'bk-restore' },
			h('h2', { id: 'bk-restore' }, 'Restore from a backup'), restoreForm(ctx)));
	return null;
}

function createForm() {
	const msg = noticeEl();
	const form = h('form.form', { novalidate: true },
		field('Passphrase', input('passphrase', { type: 'password', required: true,
			autocomplete: 'new-password', minlength: PASSPHRASE_MIN }),
		'At least 12 characters. Keep it safe: fedgw does not store it.'),
		field('Confirm passphrase', input('confirm', { type: 'password', required: true,
			autocomplete: 'new-password' })),
		msg,
		h('div.actions', null, h('button.btn.btn-primary', { type: 'submit' },
			'Download backup')));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		const e = form.elements;
		const passphrase = e.passphrase.value;
		if (chars(passphrase) < PASSPHRASE_MIN) {
			showError(form, msg, { field: 'passphrase',
				message: 'The passphrase must have at least 12 characters.',
				fix: 'Choose a longer passphrase.' });
			return;
		}
		if (passphrase !== e.confirm.value) {
			showError(form, msg, { field: 'confirm', message: 'The passphrases do not match.',
				fix: 'Type the same passphrase twice.' });
			return;
		}
		await busy(form, async () => {
			notice(msg, 'info', 'Making the backup…');
			try {
				const res = await send('/api/v1/backup', JSON.stringify({ passphrase }),
					{ 'Content-Type': 'application/json' });
				const blob = await res.blob();
				const url = URL.createObjectURL(blob);
				const a = h('a', { href: url, download: filenameOf(res) });
				a.hidden = true;
				document.body.appendChild(a);
				a.click();
				a.remove();
				setTimeout(() => URL.revokeObjectURL(url), 60000);
				notice(msg, 'ok', `Backup downloaded (${bytes(blob.size)}). Keep the passphrase ` +
					'with it: the file cannot be restored without it.');
				form.reset();
			} catch (err) {
				showError(form, msg, err);
			}
		});
	});
	return form;
}

function restoreForm(ctx) {
	const msg = noticeEl();
	const form = h('form.form', { novalidate: true },
		field('Backup file', input('file', { type: 'file', required: true, accept: '.fgbk' }),
			'A .fgbk file made by this console or by fedgw backup (at most 64 MiB here).'),
		field('Passphrase', input('passphrase', { type: 'password', required: true,
			autocomplete: 'off' })),
		msg,
		h('div.actions', null, h('button.btn.btn-danger', { type: 'submit' },
			'Restore…')));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearFormErrors(form);
		const e = form.elements;
		const file = e.file.files && e.file.files[0];
		if (!file) {
			showError(form, msg, { field: 'file', message: 'Choose a backup file.',
				fix: 'Pick the .fgbk file to restore.' });
			return;
		}
		if (file.size > RESTORE_MAX_BYTES) {
			showError(form, msg, { field: 'file',
				message: 'The file is larger than the console takes (64 MiB).',
				fix: 'Restore it on the appliance with: fedgw restore FILE' });
			return;
		}
		if (!e.passphrase.value) {
			showError(form, msg, { field: 'passphrase', message: 'Enter the passphrase.',
				fix: 'Use the passphrase the backup was made with.' });
			return;
		}
		const ok = await confirmDialog('Replace everything with this backup?',
			'Every setting, domain, certificate and private key, bridge and administrator, ' +
			'the log and the audit trail are replaced by the contents of the backup. ' +
			'Everyone, you included, has to log in again.', 'Restore');
		if (!ok) return;
		await busy(form, async () => {
			notice(msg, 'info', 'Restoring…');
			try {
				const res = await send('/api/v1/restore', file, {
					'Content-Type': 'application/octet-stream',
					'X-Backup-Passphrase': encodeURIComponent(e.passphrase.value),
				});
				const ans = await res.json();
				const n = (ans && ans.records) || 0;
				const text = `Restored ${n} records. Log in again.`;
				notice(msg, 'ok', text);
				form.reset();
				restoredDialog(text, ctx);
			} catch (err) {
				showError(form, msg, err);
			}
		});
	});
	return form;
}

// The session ended with the restore: say so in a dialog that outlives the screen.
function restoredDialog(text, ctx) {
	const ok = button('Log in again', { class: 'btn-primary' });
	const dlg = h('dialog.dialog', { 'aria-labelledby': 'bk-done-title' },
		h('h2', { id: 'bk-done-title' }, 'Backup restored'), h('p', null, text),
		h('div.actions', null, ok));
	ok.addEventListener('click', () => dlg.close());
	dlg.addEventListener('close', () => {
		dlg.remove();
		if (ctx && ctx.refreshStatus) ctx.refreshStatus();
	});
	document.body.appendChild(dlg);
	dlg.showModal();
	ok.focus();
}
