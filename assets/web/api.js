// fedgw console: the JSON API client (/api/v1), CSRF token and session handling.

let csrf = null;
let onUnauthorized = null;

export function setCsrf(token) {
	csrf = token || null;
}

// Called when an API answer says the session is gone (401 outside the login calls).
export function setUnauthorizedHandler(fn) {
	onUnauthorized = fn;
}

export class ApiError extends Error {
	constructor(status, body, retryAfter) {
		const e = (body && body.error) || {};
		super(e.message || defaultMessage(status));
		this.status = status;
		this.code = e.code || '';
		this.field = e.field || '';
		this.fix = e.fix || defaultFix(status);
		this.retryAfter = retryAfter ? Number(retryAfter) : 0;
	}
}

function defaultMessage(status) {
	if (status === 0) return 'The appliance did not answer.';
	if (status === 401) return 'You are not logged in.';
	if (status === 403) return 'The appliance refused this request.';
	if (status === 404) return 'Not found.';
	if (status === 409) return 'This conflicts with the current configuration.';
	if (status === 429) return 'Too many attempts.';
	if (status >= 500) return `The appliance failed to answer (HTTP ${status}).`;
	return `The request failed (HTTP ${status}).`;
}

function defaultFix(status) {
	if (status === 0) return 'Check that fedgw is running and that you can reach it.';
	if (status === 403) return 'Reload the page and log in again.';
	if (status >= 500) return 'Look at Logs for the cause.';
	return '';
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// api('GET', '/api/v1/status') -> parsed JSON (null for 204). Throws ApiError.
export async function api(method, path, body, opts = {}) {
	const headers = { 'X-Requested-With': 'fedgw', Accept: 'application/json' };
	const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	if (UNSAFE.has(method) && csrf) headers['X-CSRF-Token'] = csrf;
	let res;
	try {
		res = await fetch(path, init);
	} catch {
		throw new ApiError(0, null);
	}
	let data = null;
	if (res.status !== 204) {
		const text = await res.text();
		if (text) {
			try {
				data = JSON.parse(text);
			} catch {
				data = null;
			}
		}
	}
	if (!res.ok) {
		const err = new ApiError(res.status, data, res.headers.get('Retry-After'));
		if (res.status === 401 && !opts.quiet && onUnauthorized) onUnauthorized(err);
		throw err;
	}
	return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body === undefined ? {} : body, opts);
export const put = (path, body, opts) => api('PUT', path, body, opts);
export const del = (path, opts) => api('DELETE', path, undefined, opts);

export const enc = encodeURIComponent;
