/* xmpp s2s: server-to-server stream negotiation state machines, initiating and receiving
 * (RFC 6120 §4, §5 STARTTLS, §6 SASL EXTERNAL with XEP-0178, §9; XEP-0220 dialback with
 * XEP-0185 keys and XEP-0344 certificate shortcut). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmpp/xmpp_internal.h"

#define NS_FEATURE_DIALBACK "urn:xmpp:features:dialback"
/* Domain pairs authenticated on one stream: real multiplexing uses a handful. */
#define MAX_PAIRS 64u
/* Dialback requests and verifies outstanding on one stream; peers send one per pair. */
#define MAX_PENDING 16u
/* Certificate names the I/O layer reported as verified for this peer. */
#define MAX_VERIFIED 16u
/* Dialback keys are 64 hex chars (XEP-0185); other servers' keys stay far below this. */
#define MAX_DIALBACK_KEY 1024u
/* SASL EXTERNAL authzid: base64 of one domain. */
#define MAX_SASL_TEXT (2u * XMPP_MAX_DOMAIN)

#define DEFAULT_OPEN_TIMEOUT_MS     30000
#define DEFAULT_DIALBACK_TIMEOUT_MS 30000
#define DEFAULT_IDLE_TIMEOUT_MS     600000

enum state {
	ST_INIT = 0,
	ST_WAIT_HEADER,   /* waiting for the peer's stream header */
	ST_WAIT_FEATURES, /* initiating: header seen, features not yet */
	ST_WAIT_PROCEED,  /* initiating: sent <starttls/> */
	ST_TLS,           /* handshake under way (both roles) */
	ST_WAIT_SASL,     /* initiating: sent <auth/> */
	ST_OPEN,          /* features exchanged; dialback, stanzas */
	ST_CLOSED,
};

struct pair {
	char *local;
	char *remote;
	enum xmpp_auth_method method;
};

struct pending {
	char *local;
	char *remote;
	char *stream_id; /* verifies only */
	char *key;       /* verifies only */
	bool sent;
	int64_t deadline;
};

struct xmpp_s2s {
	enum xmpp_s2s_role role;
	const struct xmpp_s2s_config *cfg;
	xmpp_action_cb cb;
	void *cb_ctx;
	struct xmpp_stream *stream;
	enum state state;
	int64_t now;

	/* Exact-size copies, never NULL (no_domain when empty): an idle stream keeps only
	 * what the names need. */
	char *local;  /* initiating: our domain; receiving: header 'to' */
	char *remote; /* initiating: peer; receiving: header 'from' or "" */
	char stream_id[XMPP_MAX_STREAM_ID + 1];

	bool header_sent;
	bool tls_active;
	bool peer_cert;
	bool sasl_done;
	bool sasl_failed;
	bool peer_dialback; /* peer declared/offered dialback */
	bool db_sent;       /* initiating: our db:result is out */
	bool ready;         /* initiating: may send db:verify */
	bool restart_pending;
	bool in_feed;

	char *verified[MAX_VERIFIED];
	size_t n_verified;
	/* Tables allocated on first use and grown to their caps (table_room). */
	struct pair *pairs;
	size_t n_pairs, cap_pairs;
	struct pending *pend; /* receiving: db:result awaiting verification */
	size_t n_pend, cap_pend;
	struct pending *verify; /* initiating: our db:verify requests */
	size_t n_verify, cap_verify;
	int64_t db_deadline; /* initiating: answer to our db:result */
	int64_t deadline[XMPP_TIMER__COUNT];

	struct fg_buf out;
};

/* The empty domain name, shared: never written, never freed. */
static char no_domain[1];

/* Replaces a domain field with an exact-size copy of v (cut at XMPP_MAX_DOMAIN). */
static bool set_domain(char **dst, const char *v)
{
	char *n = v[0] != '\0' ? strndup(v, XMPP_MAX_DOMAIN) : no_domain;
	if (n == NULL)
		return false;
	if (*dst != no_domain)
		free(*dst);
	*dst = n;
	return true;
}

/* Makes room for entry n of a table of elem-sized entries, allocating it on first use and
 * doubling it up to max entries; false when full or out of memory. */
static bool table_room(void **arr, size_t *cap, size_t n, size_t elem, size_t max)
{
	if (n < *cap)
		return true;
	if (n >= max)
		return false;
	size_t nc = *cap == 0 ? 2 : 2 * *cap;
	if (nc > max)
		nc = max;
	uint8_t *p = realloc(*arr, nc * elem);
	if (p == NULL)
		return false;
	memset(p + *cap * elem, 0, (nc - *cap) * elem);
	*arr = p;
	*cap = nc;
	return true;
}

static void emit(struct xmpp_s2s *s, const struct xmpp_action *a)
{
	s->cb(s->cb_ctx, a);
}

static void flush_out(struct xmpp_s2s *s)
{
	if (s->out.len == 0)
		return;
	struct xmpp_action a = {.kind = XMPP_ACT_SEND, .data = s->out.data, .len = s->out.len};
	emit(s, &a);
	fg_buf_reset(&s->out);
}

/* Appends literal markup; allocation failure surfaces at flush as a short write, which the
 * peer sees as a broken stream; there is nothing better to do without memory. */
static void put(struct xmpp_s2s *s, const char *markup)
{
	(void)fg_buf_append_str(&s->out, markup);
}

static void put_attr(struct xmpp_s2s *s, const char *name, const char *value)
{
	if (value == NULL)
		return;
	(void)fg_buf_printf(&s->out, " %s='", name);
	(void)xmpp_escape(&s->out, value, strlen(value), true);
	put(s, "'");
}

static void put_text(struct xmpp_s2s *s, const char *text)
{
	(void)xmpp_escape(&s->out, text, strlen(text), false);
}

static void timer_arm(struct xmpp_s2s *s, enum xmpp_timer t, int64_t deadline)
{
	s->deadline[t] = deadline;
	struct xmpp_action a = {.kind = XMPP_ACT_TIMER_ARM, .timer = t, .deadline_ms = deadline};
	emit(s, &a);
}

static void timer_cancel(struct xmpp_s2s *s, enum xmpp_timer t)
{
	if (s->deadline[t] == 0)
		return;
	s->deadline[t] = 0;
	struct xmpp_action a = {.kind = XMPP_ACT_TIMER_CANCEL, .timer = t};
	emit(s, &a);
}

static int64_t cfg_ms(int64_t v, int64_t def)
{
	return v > 0 ? v : def;
}

static void random_hex(struct xmpp_s2s *s, char *out, size_t nbytes)
{
	uint8_t raw[32];
	if (nbytes > sizeof(raw))
		nbytes = sizeof(raw);
	if (s->cfg->random_cb != NULL)
		s->cfg->random_cb(s->cfg->random_ctx, raw, nbytes);
	else
		fg_random(raw, nbytes);
	fg_hex(out, raw, nbytes);
}

static void send_header(struct xmpp_s2s *s, const char *from, const char *to, const char *id)
{
	put(s, "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
	       "xmlns:stream='http://etherx.jabber.org/streams' "
	       "xmlns:db='jabber:server:dialback'");
	put_attr(s, "from", from);
	put_attr(s, "to", to);
	put_attr(s, "id", id);
	put(s, " version='1.0'>");
	s->header_sent = true;
}

static void free_pending(struct pending *p)
{
	free(p->local);
	free(p->remote);
	free(p->stream_id);
	if (p->key != NULL)
		explicit_bzero(p->key, strlen(p->key));
	free(p->key);
	memset(p, 0, sizeof(*p));
}

static void remove_pending(struct pending *arr, size_t *n, size_t i)
{
	free_pending(&arr[i]);
	arr[i] = arr[*n - 1];
	memset(&arr[*n - 1], 0, sizeof(arr[0]));
	(*n)--;
}

/* Closes with a stream error (RFC 6120 §4.9.1.1) or, with XMPP_SE_NONE, gracefully. text is
 * ours, never peer data. */
static void close_with(struct xmpp_s2s *s, enum xmpp_stream_error cond, const char *text)
{
	if (s->state == ST_CLOSED)
		return;
	/* RFC 6120 §4.9.1.2: an error before our header still needs the header first */
	if (!s->header_sent && s->role == XMPP_S2S_RECEIVING && cond != XMPP_SE_NONE) {
		if (s->stream_id[0] == '\0')
			random_hex(s, s->stream_id, 16);
		send_header(s, s->local[0] ? s->local : NULL, NULL, s->stream_id);
	}
	if (s->header_sent) {
		if (cond != XMPP_SE_NONE) {
			(void)fg_buf_printf(&s->out,
			                    "<stream:error><%s xmlns='" XMPP_NS_STREAM_ERRORS "'/>",
			                    xmpp_stream_error_name(cond));
			if (text != NULL && text[0] != '\0') {
				put(s, "<text xmlns='" XMPP_NS_STREAM_ERRORS "'>");
				put_text(s, text);
				put(s, "</text>");
			}
			put(s, "</stream:error>");
		}
		put(s, "</stream:stream>");
	}
	flush_out(s);
	s->state = ST_CLOSED;
	xmpp_stream_halt(s->stream);
	for (unsigned t = 0; t < XMPP_TIMER__COUNT; t++)
		timer_cancel(s, (enum xmpp_timer)t);
	struct xmpp_action a = {.kind = XMPP_ACT_CLOSE, .condition = cond, .text = text};
	emit(s, &a);
}

static bool is_local(const struct xmpp_s2s *s, const char *domain)
{
	return xmpp__domain_in(domain, s->cfg->local_domains, s->cfg->n_local_domains);
}

static bool cert_valid_for(const struct xmpp_s2s *s, const char *domain)
{
	if (!s->tls_active || domain == NULL)
		return false;
	for (size_t i = 0; i < s->n_verified; i++) {
		if (strcasecmp(s->verified[i], domain) == 0)
			return true;
	}
	return false;
}

static struct pair *find_pair(const struct xmpp_s2s *s, const char *local, const char *remote)
{
	for (size_t i = 0; i < s->n_pairs; i++) {
		if (strcasecmp(s->pairs[i].local, local) == 0 &&
		    strcasecmp(s->pairs[i].remote, remote) == 0)
			return (struct pair *)&s->pairs[i];
	}
	return NULL;
}

static bool remote_known(const struct xmpp_s2s *s, const char *remote)
{
	for (size_t i = 0; i < s->n_pairs; i++) {
		if (strcasecmp(s->pairs[i].remote, remote) == 0)
			return true;
	}
	return false;
}

static void authenticated(struct xmpp_s2s *s, const char *local, const char *remote,
                          enum xmpp_auth_method method)
{
	if (find_pair(s, local, remote) == NULL) {
		if (s->n_pairs == MAX_PAIRS) {
			close_with(s, XMPP_SE_RESOURCE_CONSTRAINT, "too many domain pairs");
			return;
		}
		if (!table_room((void **)&s->pairs, &s->cap_pairs, s->n_pairs, sizeof(*s->pairs),
		                MAX_PAIRS)) {
			close_with(s, XMPP_SE_RESOURCE_CONSTRAINT, "out of memory");
			return;
		}
		struct pair *p = &s->pairs[s->n_pairs];
		p->local = strdup(local);
		p->remote = strdup(remote);
		if (p->local == NULL || p->remote == NULL) {
			free(p->local);
			free(p->remote);
			close_with(s, XMPP_SE_RESOURCE_CONSTRAINT, "out of memory");
			return;
		}
		p->method = method;
		s->n_pairs++;
	}
	/* RFC 6120 §13.12: the large stanza cap applies only once the peer is authenticated */
	xmpp_stream_set_max_stanza(s->stream, s->cfg->max_stanza_bytes != 0
	                                          ? s->cfg->max_stanza_bytes
	                                          : XMPP_MAX_STANZA_BYTES);
	timer_cancel(s, XMPP_TIMER_OPEN);
	flush_out(s);
	struct xmpp_action a = {
	    .kind = XMPP_ACT_AUTHENTICATED, .local = local, .remote = remote, .method = method};
	emit(s, &a);
}

static void rearm_dialback_timer(struct xmpp_s2s *s)
{
	int64_t next = 0;
	for (size_t i = 0; i < s->n_pend; i++) {
		if (next == 0 || s->pend[i].deadline < next)
			next = s->pend[i].deadline;
	}
	for (size_t i = 0; i < s->n_verify; i++) {
		if (s->verify[i].sent && (next == 0 || s->verify[i].deadline < next))
			next = s->verify[i].deadline;
	}
	if (s->db_deadline != 0 && (next == 0 || s->db_deadline < next))
		next = s->db_deadline;
	if (next == 0)
		timer_cancel(s, XMPP_TIMER_DIALBACK);
	else if (next != s->deadline[XMPP_TIMER_DIALBACK])
		timer_arm(s, XMPP_TIMER_DIALBACK, next);
}

/* ---- receiving role ------------------------------------------------------------------- */

static void send_features(struct xmpp_s2s *s)
{
	const struct xmpp_s2s_config *c = s->cfg;
	put(s, "<stream:features>");
	if (!s->tls_active && c->tls_mode != XMPP_TLS_OFF) {
		put(s, "<starttls xmlns='" XMPP_NS_TLS "'>");
		if (c->tls_mode == XMPP_TLS_REQUIRED)
			put(s, "<required/>");
		put(s, "</starttls>");
	}
	if (s->tls_active || c->tls_mode != XMPP_TLS_REQUIRED) {
		/* XEP-0178 §3: EXTERNAL is offered when the peer presented a certificate */
		if (c->sasl_external_in && s->tls_active && s->peer_cert && !s->sasl_done)
			put(s,
			    "<mechanisms xmlns='" XMPP_NS_SASL "'><mechanism>EXTERNAL</mechanism>"
			    "</mechanisms>");
		/* XEP-0220 §2.4: advertise dialback with error support */
		if (c->dialback)
			put(s, "<dialback xmlns='" NS_FEATURE_DIALBACK "'><errors/></dialback>");
	}
	put(s, "</stream:features>");
	flush_out(s);
}

static bool recv_header(struct xmpp_s2s *s, const struct xmpp_stream_header *h)
{
	/* RFC 6120 §4.7.2: 'to' names one of our domains */
	if (h->to != NULL && !set_domain(&s->local, h->to)) {
		close_with(s, XMPP_SE_RESOURCE_CONSTRAINT, "out of memory");
		return false;
	}
	random_hex(s, s->stream_id, 16);
	if (h->to == NULL || !is_local(s, h->to)) {
		close_with(s, XMPP_SE_HOST_UNKNOWN, "this server does not serve that domain");
		return false;
	}
	char from[XMPP_MAX_DOMAIN + 1] = "";
	if (h->from != NULL && !xmpp_jid_domain(h->from, from, sizeof(from))) {
		close_with(s, XMPP_SE_INVALID_FROM, "malformed 'from'");
		return false;
	}
	if (!set_domain(&s->remote, from)) {
		close_with(s, XMPP_SE_RESOURCE_CONSTRAINT, "out of memory");
		return false;
	}
	if (h->dialback_ns)
		s->peer_dialback = true;
	send_header(s, s->local, from[0] ? from : NULL, s->stream_id);
	send_features(s);
	s->state = ST_OPEN;
	return true;
}

static bool recv_starttls(struct xmpp_s2s *s)
{
	if (s->tls_active) {
		close_with(s, XMPP_SE_POLICY_VIOLATION, "TLS already active");
		return false;
	}
	if (s->cfg->tls_mode == XMPP_TLS_OFF) {
		/* RFC 6120 §5.4.2.2: <failure/> then close the stream */
		put(s, "<failure xmlns='" XMPP_NS_TLS "'/>");
		close_with(s, XMPP_SE_NONE, "STARTTLS not offered");
		return false;
	}
	put(s, "<proceed xmlns='" XMPP_NS_TLS "'/>");
	flush_out(s);
	s->state = ST_TLS;
	struct xmpp_action a = {.kind = XMPP_ACT_START_TLS};
	emit(s, &a);
	/* RFC 6120 §5.4.3.3: nothing after <starttls/> in clear is processed */
	return false;
}

static void sasl_failure(struct xmpp_s2s *s, const char *cond)
{
	(void)fg_buf_printf(&s->out, "<failure xmlns='" XMPP_NS_SASL "'><%s/></failure>", cond);
	flush_out(s);
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict RFC 4648 base64 decode into a NUL-terminated string; false on junk or NUL bytes. */
static bool b64_decode(const char *in, char *out, size_t outsize)
{
	size_t len = strlen(in), o = 0;
	if (len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad > 0 || (v[k] = b64_val(in[i + k])) < 0) {
				return false;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
		             (uint32_t)v[3];
		uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
		for (int k = 0; k < 3 - pad; k++) {
			if (o + 1 >= outsize || bytes[k] == 0)
				return false;
			out[o++] = (char)bytes[k];
		}
	}
	out[o] = '\0';
	return true;
}

static bool recv_auth(struct xmpp_s2s *s, const struct xmpp_node *n)
{
	const char *mech = xmpp_node_attr(n, "mechanism");
	if (!s->tls_active || !s->cfg->sasl_external_in || s->sasl_done || !s->peer_cert ||
	    mech == NULL || strcmp(mech, "EXTERNAL") != 0) {
		sasl_failure(s, "invalid-mechanism");
		return true;
	}
	struct fg_buf text = {0};
	char authzid[XMPP_MAX_DOMAIN + 1] = "";
	bool ok = xmpp_node_text(n, &text) == FG_OK;
	const char *t = ok ? fg_buf_cstr(&text) : "";
	/* RFC 6120 §6.4.2: "=" is an empty response; XEP-0178 §3: empty authzid means the
	 * stream's 'from' */
	if (!ok || strlen(t) > MAX_SASL_TEXT) {
		fg_buf_free(&text);
		sasl_failure(s, "malformed-request");
		return true;
	}
	if (t[0] != '\0' && strcmp(t, "=") != 0) {
		if (!b64_decode(t, authzid, sizeof(authzid))) {
			fg_buf_free(&text);
			sasl_failure(s, "incorrect-encoding");
			return true;
		}
	}
	fg_buf_free(&text);
	if (authzid[0] == '\0')
		fg_strlcpy(authzid, s->remote, sizeof(authzid));
	if (authzid[0] == '\0' || (s->remote[0] != '\0' && strcasecmp(authzid, s->remote) != 0)) {
		sasl_failure(s, "invalid-authzid");
		return true;
	}
	if (!cert_valid_for(s, authzid)) {
		/* XEP-0178 §4: the peer may fall back to dialback on this stream */
		sasl_failure(s, "not-authorized");
		return true;
	}
	put(s, "<success xmlns='" XMPP_NS_SASL "'/>");
	s->sasl_done = true;
	authenticated(s, s->local, authzid, XMPP_AUTH_SASL_EXTERNAL);
	if (s->state == ST_CLOSED)
		return false;
	/* RFC 6120 §6.4.6: the initiating entity restarts the stream */
	s->restart_pending = true;
	s->state = ST_WAIT_HEADER;
	return false;
}

static bool tls_required_unmet(struct xmpp_s2s *s)
{
	if (s->cfg->tls_mode == XMPP_TLS_REQUIRED && !s->tls_active) {
		/* RFC 6120 §5.3.1: mandatory-to-negotiate TLS comes first */
		close_with(s, XMPP_SE_POLICY_VIOLATION, "STARTTLS required");
		return true;
	}
	return false;
}

/* Reads from/to of a dialback element into bare domains; closes on failure. */
static bool db_addrs(struct xmpp_s2s *s, const struct xmpp_node *n, char *from, char *to)
{
	const char *f = xmpp_node_attr(n, "from"), *t = xmpp_node_attr(n, "to");
	if (f == NULL || !xmpp_jid_domain(f, from, XMPP_MAX_DOMAIN + 1) || strchr(f, '@') ||
	    strchr(f, '/')) {
		close_with(s, XMPP_SE_INVALID_FROM, "dialback 'from' is not a domain");
		return false;
	}
	if (t == NULL || !xmpp_jid_domain(t, to, XMPP_MAX_DOMAIN + 1) || !is_local(s, to)) {
		close_with(s, XMPP_SE_HOST_UNKNOWN, "dialback 'to' is not served here");
		return false;
	}
	return true;
}

static bool db_key(struct xmpp_s2s *s, const struct xmpp_node *n, struct fg_buf *key)
{
	if (xmpp_node_text(n, key) != FG_OK || key->len == 0 || key->len > MAX_DIALBACK_KEY) {
		close_with(s, XMPP_SE_BAD_FORMAT, "bad dialback key");
		return false;
	}
	return true;
}

static void send_db_result(struct xmpp_s2s *s, const char *from, const char *to, const char *type)
{
	put(s, "<db:result");
	put_attr(s, "from", from);
	put_attr(s, "to", to);
	put_attr(s, "type", type);
	put(s, "/>");
}

static bool recv_db_result(struct xmpp_s2s *s, const struct xmpp_node *n)
{
	char from[XMPP_MAX_DOMAIN + 1], to[XMPP_MAX_DOMAIN + 1];
	struct fg_buf key = {0};
	bool go_on = false;
	if (xmpp_node_attr(n, "type") != NULL)
		return true; /* an answer on a receiving stream: not ours, ignore */
	if (!s->cfg->dialback) {
		close_with(s, XMPP_SE_POLICY_VIOLATION, "dialback is disabled");
		goto out;
	}
	if (tls_required_unmet(s) || !db_addrs(s, n, from, to) || !db_key(s, n, &key))
		goto out;
	if (find_pair(s, to, from) != NULL) {
		send_db_result(s, to, from, "valid");
		flush_out(s);
		go_on = true;
		goto out;
	}
	/* XEP-0344 §2.4: a certificate verified for the originating domain proves it already */
	if (cert_valid_for(s, from)) {
		send_db_result(s, to, from, "valid");
		authenticated(s, to, from, XMPP_AUTH_DIALBACK);
		go_on = s->state != ST_CLOSED;
		goto out;
	}
	for (size_t i = 0; i < s->n_pend; i++) {
		if (strcasecmp(s->pend[i].local, to) == 0 &&
		    strcasecmp(s->pend[i].remote, from) == 0) {
			go_on = true; /* already being verified */
			goto out;
		}
	}
	if (s->n_pend == MAX_PENDING) {
		close_with(s, XMPP_SE_RESOURCE_CONSTRAINT, "too many dialback requests");
		goto out;
	}
	if (!table_room((void **)&s->pend, &s->cap_pend, s->n_pend, sizeof(*s->pend),
	                MAX_PENDING)) {
		close_with(s, XMPP_SE_RESOURCE_CONSTRAINT, "out of memory");
		goto out;
	}
	struct pending *p = &s->pend[s->n_pend];
	p->local = strdup(to);
	p->remote = strdup(from);
	if (p->local == NULL || p->remote == NULL) {
		free_pending(p);
		close_with(s, XMPP_SE_RESOURCE_CONSTRAINT, "out of memory");
		goto out;
	}
	p->deadline = s->now + cfg_ms(s->cfg->dialback_timeout_ms, DEFAULT_DIALBACK_TIMEOUT_MS);
	s->n_pend++;
	rearm_dialback_timer(s);
	struct xmpp_action a = {.kind = XMPP_ACT_DIALBACK_VERIFY,
	                        .local = to,
	                        .remote = from,
	                        .stream_id = s->stream_id,
	                        .key = fg_buf_cstr(&key)};
	emit(s, &a);
	go_on = true;
out:
	if (key.data != NULL)
		explicit_bzero(key.data, key.len);
	fg_buf_free(&key);
	return go_on;
}

/* We are the authoritative server (XEP-0220 §2.1.3): check the key with our secret. */
static bool recv_db_verify_request(struct xmpp_s2s *s, const struct xmpp_node *n)
{
	char from[XMPP_MAX_DOMAIN + 1], to[XMPP_MAX_DOMAIN + 1];
	struct fg_buf key = {0};
	bool go_on = false;
	const char *id = xmpp_node_attr(n, "id");
	if (!s->cfg->dialback) {
		close_with(s, XMPP_SE_POLICY_VIOLATION, "dialback is disabled");
		goto out;
	}
	if (tls_required_unmet(s) || !db_addrs(s, n, from, to) || !db_key(s, n, &key))
		goto out;
	if (id == NULL || strlen(id) > XMPP_MAX_STREAM_ID) {
		close_with(s, XMPP_SE_BAD_FORMAT, "dialback verify without a valid id");
		goto out;
	}
	/* receiving server = 'from' of the verify, originating = 'to' (us) */
	bool valid = xmpp_dialback_key_check(fg_buf_cstr(&key), s->cfg->dialback_secret,
	                                     s->cfg->dialback_secret_len, from, to, id);
	put(s, "<db:verify");
	put_attr(s, "from", to);
	put_attr(s, "to", from);
	put_attr(s, "id", id);
	put_attr(s, "type", valid ? "valid" : "invalid");
	put(s, "/>");
	flush_out(s);
	go_on = true;
out:
	if (key.data != NULL)
		explicit_bzero(key.data, key.len);
	fg_buf_free(&key);
	return go_on;
}

static bool is_stanza(const struct xmpp_node *n)
{
	return strcmp(n->ns, XMPP_NS_SERVER) == 0 &&
	       (strcmp(n->name, "message") == 0 || strcmp(n->name, "presence") == 0 ||
	        strcmp(n->name, "iq") == 0);
}

static bool recv_stanza(struct xmpp_s2s *s, const struct xmpp_node *n)
{
	/* RFC 6120 §6.1/§9: nothing is accepted before a domain pair is authenticated */
	if (s->n_pairs == 0) {
		close_with(s, XMPP_SE_NOT_AUTHORIZED, "stanza before authentication");
		return false;
	}
	const char *from = xmpp_node_attr(n, "from"), *to = xmpp_node_attr(n, "to");
	char fd[XMPP_MAX_DOMAIN + 1], td[XMPP_MAX_DOMAIN + 1];
	/* RFC 6120 §8.1.1.1, §8.1.2.1: s2s stanzas carry both addresses */
	if (from == NULL || to == NULL) {
		close_with(s, XMPP_SE_IMPROPER_ADDRESSING, "stanza without 'to' or 'from'");
		return false;
	}
	if (strlen(from) > XMPP_MAX_JID || !xmpp_jid_domain(from, fd, sizeof(fd))) {
		close_with(s, XMPP_SE_INVALID_FROM, "malformed 'from'");
		return false;
	}
	if (strlen(to) > XMPP_MAX_JID || !xmpp_jid_domain(to, td, sizeof(td))) {
		close_with(s, XMPP_SE_IMPROPER_ADDRESSING, "malformed 'to'");
		return false;
	}
	if (!is_local(s, td)) {
		close_with(s, XMPP_SE_HOST_UNKNOWN, "'to' is not served here");
		return false;
	}
	/* RFC 6120 §4.9.3.9: 'from' must be a domain authenticated for this 'to' */
	if (find_pair(s, td, fd) == NULL) {
		close_with(s, XMPP_SE_INVALID_FROM,
		           remote_known(s, fd) ? "domain pair not authenticated"
		                               : "'from' domain not authenticated");
		return false;
	}
	struct xmpp_action a = {.kind = XMPP_ACT_DELIVER, .local = td, .remote = fd, .stanza = n};
	emit(s, &a);
	return s->state != ST_CLOSED;
}

static bool recv_element(struct xmpp_s2s *s, const struct xmpp_node *n)
{
	if (strcmp(n->ns, XMPP_NS_TLS) == 0 && strcmp(n->name, "starttls") == 0)
		return recv_starttls(s);
	if (strcmp(n->ns, XMPP_NS_SASL) == 0 && strcmp(n->name, "auth") == 0) {
		if (tls_required_unmet(s))
			return false;
		return recv_auth(s, n);
	}
	if (strcmp(n->ns, XMPP_NS_DIALBACK) == 0 && strcmp(n->name, "result") == 0)
		return recv_db_result(s, n);
	if (strcmp(n->ns, XMPP_NS_DIALBACK) == 0 && strcmp(n->name, "verify") == 0)
		return recv_db_verify_request(s, n);
	if (is_stanza(n)) {
		if (tls_required_unmet(s))
			return false;
		return recv_stanza(s, n);
	}
	close_with(s, XMPP_SE_UNSUPPORTED_STANZA_TYPE, "unexpected element");
	return false;
}

/* ---- initiating role ------------------------------------------------------------------ */

static void send_queued_verifies(struct xmpp_s2s *s)
{
	if (!s->ready)
		return;
	bool any = false;
	for (size_t i = 0; i < s->n_verify; i++) {
		struct pending *v = &s->verify[i];
		if (v->sent)
			continue;
		put(s, "<db:verify");
		put_attr(s, "from", v->local);
		put_attr(s, "to", v->remote);
		put_attr(s, "id", v->stream_id);
		put(s, ">");
		put_text(s, v->key);
		put(s, "</db:verify>");
		v->sent = true;
		v->deadline =
		    s->now + cfg_ms(s->cfg->dialback_timeout_ms, DEFAULT_DIALBACK_TIMEOUT_MS);
		any = true;
	}
	flush_out(s);
	if (any)
		rearm_dialback_timer(s);
}

static void send_our_db_result(struct xmpp_s2s *s)
{
	char key[XMPP_DIALBACK_KEY_HEX + 1];
	/* XEP-0185: receiving = the peer, originating = us, id = the id the peer gave us */
	if (xmpp_dialback_key(key, s->cfg->dialback_secret, s->cfg->dialback_secret_len, s->remote,
	                      s->local, s->stream_id) != FG_OK) {
		close_with(s, XMPP_SE_INTERNAL_SERVER_ERROR, "cannot compute dialback key");
		return;
	}
	put(s, "<db:result");
	put_attr(s, "from", s->local);
	put_attr(s, "to", s->remote);
	put(s, ">");
	put(s, key);
	put(s, "</db:result>");
	explicit_bzero(key, sizeof(key));
	flush_out(s);
	s->db_sent = true;
	s->db_deadline = s->now + cfg_ms(s->cfg->dialback_timeout_ms, DEFAULT_DIALBACK_TIMEOUT_MS);
	rearm_dialback_timer(s);
}

static bool init_header(struct xmpp_s2s *s, const struct xmpp_stream_header *h)
{
	/* RFC 6120 §4.7.1: the response comes from the domain we asked for */
	if (h->from != NULL && strcasecmp(h->from, s->remote) != 0) {
		close_with(s, XMPP_SE_INVALID_FROM, "peer answered for another domain");
		return false;
	}
	if (h->id == NULL || h->id[0] == '\0') {
		close_with(s, XMPP_SE_BAD_FORMAT, "stream header without id");
		return false;
	}
	fg_strlcpy(s->stream_id, h->id, sizeof(s->stream_id));
	if (h->dialback_ns)
		s->peer_dialback = true;
	s->state = ST_WAIT_FEATURES;
	return true;
}

static bool has_external(const struct xmpp_node *features)
{
	const struct xmpp_node *m = xmpp_node_child(features, XMPP_NS_SASL, "mechanisms");
	if (m == NULL)
		return false;
	for (const struct xmpp_node *c = m->children; c != NULL; c = c->next) {
		if (!xmpp_node_is(c, XMPP_NS_SASL, "mechanism"))
			continue;
		struct fg_buf t = {0};
		bool yes =
		    xmpp_node_text(c, &t) == FG_OK && strcmp(fg_buf_cstr(&t), "EXTERNAL") == 0;
		fg_buf_free(&t);
		if (yes)
			return true;
	}
	return false;
}

static void start_dialback_or_fail(struct xmpp_s2s *s)
{
	if (s->cfg->dialback && s->peer_dialback && !s->db_sent)
		send_our_db_result(s);
	else if (!s->db_sent)
		close_with(s, XMPP_SE_UNSUPPORTED_FEATURE, "no usable authentication method");
}

static bool init_features(struct xmpp_s2s *s, const struct xmpp_node *f)
{
	const struct xmpp_node *tls = xmpp_node_child(f, XMPP_NS_TLS, "starttls");
	if (xmpp_node_child(f, NS_FEATURE_DIALBACK, "dialback") != NULL)
		s->peer_dialback = true;
	if (!s->tls_active) {
		if (tls != NULL && s->cfg->tls_mode != XMPP_TLS_OFF) {
			put(s, "<starttls xmlns='" XMPP_NS_TLS "'/>");
			flush_out(s);
			s->state = ST_WAIT_PROCEED;
			return true;
		}
		if (s->cfg->tls_mode == XMPP_TLS_REQUIRED) {
			close_with(s, XMPP_SE_POLICY_VIOLATION, "peer does not offer STARTTLS");
			return false;
		}
		if (tls != NULL && xmpp_node_child(tls, XMPP_NS_TLS, "required") != NULL) {
			close_with(s, XMPP_SE_UNSUPPORTED_FEATURE,
			           "peer requires TLS, disabled here");
			return false;
		}
	}
	s->state = ST_OPEN;
	s->ready = true;
	send_queued_verifies(s);
	if (s->state == ST_CLOSED || find_pair(s, s->local, s->remote) != NULL)
		return s->state != ST_CLOSED;
	if (s->tls_active && s->cfg->sasl_external_out && !s->sasl_failed && has_external(f)) {
		/* XEP-0178 §3: "=" lets the peer take the authzid from our stream 'from' */
		put(s, "<auth xmlns='" XMPP_NS_SASL "' mechanism='EXTERNAL'>=</auth>");
		flush_out(s);
		s->state = ST_WAIT_SASL;
		return true;
	}
	start_dialback_or_fail(s);
	return s->state != ST_CLOSED;
}

static bool init_db_result(struct xmpp_s2s *s, const struct xmpp_node *n)
{
	const char *type = xmpp_node_attr(n, "type");
	const char *from = xmpp_node_attr(n, "from"), *to = xmpp_node_attr(n, "to");
	if (type == NULL || from == NULL || to == NULL || !s->db_sent ||
	    strcasecmp(from, s->remote) != 0 || strcasecmp(to, s->local) != 0)
		return true; /* not an answer to our request: ignore (XEP-0220 §2.1.4) */
	s->db_deadline = 0;
	rearm_dialback_timer(s);
	if (strcmp(type, "valid") == 0) {
		authenticated(s, s->local, s->remote, XMPP_AUTH_DIALBACK);
		return s->state != ST_CLOSED;
	}
	close_with(s, XMPP_SE_NOT_AUTHORIZED,
	           strcmp(type, "invalid") == 0 ? "dialback refused" : "dialback error");
	return false;
}

static bool init_db_verify(struct xmpp_s2s *s, const struct xmpp_node *n)
{
	const char *type = xmpp_node_attr(n, "type"), *id = xmpp_node_attr(n, "id");
	const char *from = xmpp_node_attr(n, "from"), *to = xmpp_node_attr(n, "to");
	if (type == NULL || id == NULL || from == NULL || to == NULL)
		return true;
	for (size_t i = 0; i < s->n_verify; i++) {
		struct pending *v = &s->verify[i];
		if (!v->sent || strcasecmp(v->local, to) != 0 || strcasecmp(v->remote, from) != 0 ||
		    strcmp(v->stream_id, id) != 0)
			continue;
		struct xmpp_action a = {.kind = XMPP_ACT_VERIFY_RESULT,
		                        .local = v->local,
		                        .remote = v->remote,
		                        .stream_id = v->stream_id,
		                        .valid = strcmp(type, "valid") == 0};
		emit(s, &a);
		remove_pending(s->verify, &s->n_verify, i);
		rearm_dialback_timer(s);
		return s->state != ST_CLOSED;
	}
	return true; /* unsolicited: ignore */
}

static bool init_element(struct xmpp_s2s *s, const struct xmpp_node *n)
{
	/* Our db:verify requests go out as soon as the stream is ready, before a SASL <auth/>
	 * (RFC 6120 §6): the peer may answer them (XEP-0220 §2.1.4) before the SASL outcome or,
	 * across the restart after <success/>, before its new features. */
	if ((s->state == ST_WAIT_SASL || s->state == ST_WAIT_FEATURES) &&
	    strcmp(n->ns, XMPP_NS_DIALBACK) == 0 && strcmp(n->name, "verify") == 0)
		return init_db_verify(s, n);
	if (s->state == ST_WAIT_FEATURES) {
		if (xmpp_node_is(n, XMPP_NS_STREAMS, "features"))
			return init_features(s, n);
		close_with(s, XMPP_SE_NOT_AUTHORIZED, "expected stream features");
		return false;
	}
	if (s->state == ST_WAIT_PROCEED) {
		if (xmpp_node_is(n, XMPP_NS_TLS, "proceed")) {
			s->state = ST_TLS;
			struct xmpp_action a = {.kind = XMPP_ACT_START_TLS};
			emit(s, &a);
			return false; /* RFC 6120 §5.4.3.3: drop anything after it */
		}
		close_with(s, XMPP_SE_POLICY_VIOLATION, "STARTTLS refused by peer");
		return false;
	}
	if (s->state == ST_WAIT_SASL) {
		if (xmpp_node_is(n, XMPP_NS_SASL, "success")) {
			s->sasl_done = true;
			authenticated(s, s->local, s->remote, XMPP_AUTH_SASL_EXTERNAL);
			if (s->state == ST_CLOSED)
				return false;
			/* RFC 6120 §6.4.6: restart the stream without closing it */
			s->restart_pending = true;
			s->state = ST_WAIT_HEADER;
			return false;
		}
		if (xmpp_node_is(n, XMPP_NS_SASL, "failure")) {
			/* XEP-0178 §4: dialback remains possible */
			s->sasl_failed = true;
			s->state = ST_OPEN;
			start_dialback_or_fail(s);
			return s->state != ST_CLOSED;
		}
		close_with(s, XMPP_SE_NOT_AUTHORIZED, "expected SASL outcome");
		return false;
	}
	if (strcmp(n->ns, XMPP_NS_DIALBACK) == 0 && strcmp(n->name, "result") == 0)
		return init_db_result(s, n);
	if (strcmp(n->ns, XMPP_NS_DIALBACK) == 0 && strcmp(n->name, "verify") == 0)
		return init_db_verify(s, n);
	/* stanzas flow only from the initiating side on a s2s stream (RFC 6120 §4.2) */
	close_with(s, XMPP_SE_NOT_AUTHORIZED, "peer may not send stanzas on this stream");
	return false;
}

/* ---- stream callbacks ----------------------------------------------------------------- */

static bool on_header(void *ctx, const struct xmpp_stream_header *h)
{
	struct xmpp_s2s *s = ctx;
	if (s->state != ST_WAIT_HEADER) {
		close_with(s, XMPP_SE_BAD_FORMAT, "unexpected stream header");
		return false;
	}
	if (s->role == XMPP_S2S_RECEIVING)
		return recv_header(s, h);
	return init_header(s, h);
}

static bool on_stanza(void *ctx, const struct xmpp_node *n)
{
	struct xmpp_s2s *s = ctx;
	if (s->state == ST_CLOSED)
		return false;
	if (xmpp_node_is(n, XMPP_NS_STREAMS, "error")) {
		enum xmpp_stream_error cond = XMPP_SE_UNDEFINED_CONDITION;
		for (const struct xmpp_node *c = n->children; c != NULL; c = c->next) {
			if (c->name != NULL && strcmp(c->ns, XMPP_NS_STREAM_ERRORS) == 0 &&
			    strcmp(c->name, "text") != 0) {
				cond = xmpp_stream_error_parse(c->name);
				break;
			}
		}
		/* RFC 6120 §4.9.1.3: the peer closes; we close our side without an error */
		put(s, "</stream:stream>");
		flush_out(s);
		s->state = ST_CLOSED;
		xmpp_stream_halt(s->stream);
		for (unsigned t = 0; t < XMPP_TIMER__COUNT; t++)
			timer_cancel(s, (enum xmpp_timer)t);
		struct xmpp_action a = {
		    .kind = XMPP_ACT_CLOSE, .condition = cond, .text = "peer sent stream error"};
		emit(s, &a);
		return false;
	}
	if (s->role == XMPP_S2S_RECEIVING)
		return recv_element(s, n);
	return init_element(s, n);
}

static void on_close(void *ctx)
{
	close_with(ctx, XMPP_SE_NONE, "peer closed the stream");
}

static const struct xmpp_stream_ops stream_ops = {on_header, on_stanza, on_close};

/* ---- public API ----------------------------------------------------------------------- */

enum fg_err xmpp_s2s_new(struct xmpp_s2s **out, enum xmpp_s2s_role role,
                         const struct xmpp_s2s_config *cfg, const char *local, const char *remote,
                         xmpp_action_cb cb, void *cb_ctx)
{
	*out = NULL;
	if (cfg == NULL || cb == NULL)
		return FG_ERR_INVAL;
	if (role == XMPP_S2S_INITIATING &&
	    (local == NULL || remote == NULL || strlen(local) > XMPP_MAX_DOMAIN ||
	     strlen(remote) > XMPP_MAX_DOMAIN))
		return FG_ERR_INVAL;
	struct xmpp_s2s *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return FG_ERR_NOMEM;
	s->role = role;
	s->cfg = cfg;
	s->cb = cb;
	s->cb_ctx = cb_ctx;
	s->local = no_domain;
	s->remote = no_domain;
	if ((local != NULL && !set_domain(&s->local, local)) ||
	    (remote != NULL && !set_domain(&s->remote, remote))) {
		xmpp_s2s_free(s);
		return FG_ERR_NOMEM;
	}
	/* the stream lives as long as the connection and is compacted when idle */
	struct xmpp_stream_config sc = {.content_ns = XMPP_NS_SERVER, .own_pages = true};
	enum fg_err err = xmpp_stream_new(&s->stream, &sc, &stream_ops, s);
	if (err != FG_OK) {
		xmpp_s2s_free(s);
		return err;
	}
	*out = s;
	return FG_OK;
}

void xmpp_s2s_free(struct xmpp_s2s *s)
{
	if (s == NULL)
		return;
	xmpp_stream_free(s->stream);
	for (size_t i = 0; i < s->n_pairs; i++) {
		free(s->pairs[i].local);
		free(s->pairs[i].remote);
	}
	for (size_t i = 0; i < s->n_pend; i++)
		free_pending(&s->pend[i]);
	for (size_t i = 0; i < s->n_verify; i++)
		free_pending(&s->verify[i]);
	free(s->pairs);
	free(s->pend);
	free(s->verify);
	for (size_t i = 0; i < s->n_verified; i++)
		free(s->verified[i]);
	if (s->local != no_domain)
		free(s->local);
	if (s->remote != no_domain)
		free(s->remote);
	fg_buf_free(&s->out);
	free(s);
}

static void send_initiating_header(struct xmpp_s2s *s)
{
	send_header(s, s->local, s->remote, NULL);
	flush_out(s);
	s->state = ST_WAIT_HEADER;
}

void xmpp_s2s_start(struct xmpp_s2s *s, int64_t now_ms)
{
	if (s->state != ST_INIT)
		return;
	s->now = now_ms;
	timer_arm(s, XMPP_TIMER_OPEN,
	          now_ms + cfg_ms(s->cfg->open_timeout_ms, DEFAULT_OPEN_TIMEOUT_MS));
	timer_arm(s, XMPP_TIMER_IDLE,
	          now_ms + cfg_ms(s->cfg->idle_timeout_ms, DEFAULT_IDLE_TIMEOUT_MS));
	if (s->role == XMPP_S2S_INITIATING)
		send_initiating_header(s);
	else
		s->state = ST_WAIT_HEADER;
}

static void do_restart(struct xmpp_s2s *s)
{
	s->restart_pending = false;
	s->header_sent = false;
	if (xmpp_stream_restart(s->stream) != FG_OK) {
		close_with(s, XMPP_SE_INTERNAL_SERVER_ERROR, "stream restart failed");
		return;
	}
	s->state = ST_WAIT_HEADER;
	if (s->role == XMPP_S2S_INITIATING)
		send_initiating_header(s);
}

void xmpp_s2s_feed(struct xmpp_s2s *s, const uint8_t *buf, size_t len, int64_t now_ms)
{
	if (s->state == ST_CLOSED || s->state == ST_INIT || s->in_feed)
		return;
	s->now = now_ms;
	timer_arm(s, XMPP_TIMER_IDLE,
	          now_ms + cfg_ms(s->cfg->idle_timeout_ms, DEFAULT_IDLE_TIMEOUT_MS));
	s->in_feed = true;
	enum xmpp_stream_error e = xmpp_stream_feed(s->stream, buf, len);
	s->in_feed = false;
	if (s->state == ST_CLOSED)
		return;
	if (e != XMPP_SE_NONE) {
		close_with(s, e, xmpp_stream_error_text(s->stream));
		return;
	}
	if (s->restart_pending)
		do_restart(s);
	else
		send_queued_verifies(s); /* requests queued from inside the action callback */
}

void xmpp_s2s_tls_started(struct xmpp_s2s *s, bool peer_cert, int64_t now_ms)
{
	if (s->state != ST_TLS || s->in_feed)
		return;
	s->now = now_ms;
	s->tls_active = true;
	s->peer_cert = peer_cert;
	if (s->role == XMPP_S2S_RECEIVING && s->cfg->require_client_cert && !peer_cert) {
		s->header_sent = false;
		(void)xmpp_stream_restart(s->stream);
		close_with(s, XMPP_SE_POLICY_VIOLATION, "client certificate required");
		return;
	}
	/* RFC 6120 §5.4.3.3: a fresh stream over TLS; clear-text leftovers are gone */
	do_restart(s);
}

void xmpp_s2s_peer_verified(struct xmpp_s2s *s, const char *domain)
{
	if (domain == NULL || s->n_verified == MAX_VERIFIED || strlen(domain) > XMPP_MAX_DOMAIN)
		return;
	char *d = strdup(domain);
	if (d != NULL)
		s->verified[s->n_verified++] = d;
}

void xmpp_s2s_dialback_result(struct xmpp_s2s *s, const char *local, const char *remote,
                              const char *stream_id, bool valid, int64_t now_ms)
{
	if (s->state == ST_CLOSED || s->in_feed || local == NULL || remote == NULL)
		return;
	s->now = now_ms;
	/* the answer is only good for the stream it was asked for */
	if (stream_id != NULL && strcmp(stream_id, s->stream_id) != 0)
		return;
	for (size_t i = 0; i < s->n_pend; i++) {
		if (strcasecmp(s->pend[i].local, local) != 0 ||
		    strcasecmp(s->pend[i].remote, remote) != 0)
			continue;
		char l[XMPP_MAX_DOMAIN + 1], r[XMPP_MAX_DOMAIN + 1];
		fg_strlcpy(l, s->pend[i].local, sizeof(l));
		fg_strlcpy(r, s->pend[i].remote, sizeof(r));
		remove_pending(s->pend, &s->n_pend, i);
		rearm_dialback_timer(s);
		send_db_result(s, l, r, valid ? "valid" : "invalid");
		if (valid) {
			authenticated(s, l, r, XMPP_AUTH_DIALBACK);
		} else {
			/* RFC 3920 §8.3 step 10 / XEP-0220 §2.1.4: a forged key ends the stream */
			close_with(s, XMPP_SE_NOT_AUTHORIZED, "dialback key invalid");
		}
		return;
	}
}

enum fg_err xmpp_s2s_send_verify(struct xmpp_s2s *s, const char *local, const char *remote,
                                 const char *stream_id, const char *key)
{
	if (s->role != XMPP_S2S_INITIATING || local == NULL || remote == NULL ||
	    stream_id == NULL || key == NULL)
		return FG_ERR_INVAL;
	if (s->state == ST_CLOSED)
		return FG_ERR_IO;
	if (s->n_verify == MAX_PENDING)
		return FG_ERR_AGAIN;
	if (!table_room((void **)&s->verify, &s->cap_verify, s->n_verify, sizeof(*s->verify),
	                MAX_PENDING))
		return FG_ERR_NOMEM;
	struct pending *v = &s->verify[s->n_verify];
	v->local = strdup(local);
	v->remote = strdup(remote);
	v->stream_id = strdup(stream_id);
	v->key = strdup(key);
	if (v->local == NULL || v->remote == NULL || v->stream_id == NULL || v->key == NULL) {
		free_pending(v);
		return FG_ERR_NOMEM;
	}
	s->n_verify++;
	if (!s->in_feed)
		send_queued_verifies(s);
	return FG_OK;
}

enum fg_err xmpp_s2s_send_stanza(struct xmpp_s2s *s, const struct xmpp_node *stanza)
{
	if (s->state == ST_CLOSED)
		return FG_ERR_IO;
	const char *from = xmpp_node_attr(stanza, "from"), *to = xmpp_node_attr(stanza, "to");
	char fd[XMPP_MAX_DOMAIN + 1], td[XMPP_MAX_DOMAIN + 1];
	if (from == NULL || to == NULL || !xmpp_jid_domain(from, fd, sizeof(fd)) ||
	    !xmpp_jid_domain(to, td, sizeof(td)))
		return FG_ERR_INVAL;
	if (s->role != XMPP_S2S_INITIATING || find_pair(s, fd, td) == NULL)
		return FG_ERR_PERM;
	enum fg_err err = xmpp_node_serialize(stanza, XMPP_NS_SERVER, &s->out);
	if (err != FG_OK)
		return err;
	flush_out(s);
	return FG_OK;
}

enum fg_err xmpp_s2s_send_bytes(struct xmpp_s2s *s, const char *local, const char *remote,
                                const uint8_t *stanza, size_t len)
{
	if (s->state == ST_CLOSED)
		return FG_ERR_IO;
	if (local == NULL || remote == NULL || stanza == NULL || len == 0)
		return FG_ERR_INVAL;
	if (s->role != XMPP_S2S_INITIATING || find_pair(s, local, remote) == NULL)
		return FG_ERR_PERM;
	if (s->out.len != 0) {
		/* bytes of our own wait: keep the order */
		enum fg_err err = fg_buf_append(&s->out, stanza, len);
		if (err != FG_OK)
			return err;
		flush_out(s);
		return FG_OK;
	}
	struct xmpp_action a = {.kind = XMPP_ACT_SEND, .data = stanza, .len = len};
	emit(s, &a);
	return FG_OK;
}

void xmpp_s2s_on_timer(struct xmpp_s2s *s, enum xmpp_timer t, int64_t now_ms)
{
	if (s->state == ST_CLOSED || s->in_feed || (unsigned)t >= XMPP_TIMER__COUNT)
		return;
	s->now = now_ms;
	if (s->deadline[t] == 0 || now_ms < s->deadline[t])
		return; /* stale */
	s->deadline[t] = 0;
	switch (t) {
	case XMPP_TIMER_OPEN:
		close_with(s, XMPP_SE_CONNECTION_TIMEOUT, "authentication took too long");
		return;
	case XMPP_TIMER_IDLE:
		close_with(s, XMPP_SE_NONE, "idle");
		return;
	case XMPP_TIMER_DIALBACK:
	case XMPP_TIMER__COUNT:
		break;
	}
	if (s->db_deadline != 0 && s->db_deadline <= now_ms) {
		close_with(s, XMPP_SE_CONNECTION_TIMEOUT, "no dialback answer");
		return;
	}
	for (size_t i = 0; i < s->n_pend;) {
		if (s->pend[i].deadline > now_ms) {
			i++;
			continue;
		}
		/* XEP-0220 §2.4: report the authoritative server's silence as an error */
		put(s, "<db:result");
		put_attr(s, "from", s->pend[i].local);
		put_attr(s, "to", s->pend[i].remote);
		put(s, " type='error'><error type='wait'><remote-server-timeout "
		       "xmlns='" XMPP_NS_STANZA_ERRORS "'/></error></db:result>");
		remove_pending(s->pend, &s->n_pend, i);
	}
	flush_out(s);
	for (size_t i = 0; i < s->n_verify;) {
		struct pending *v = &s->verify[i];
		if (!v->sent || v->deadline > now_ms) {
			i++;
			continue;
		}
		struct xmpp_action a = {.kind = XMPP_ACT_VERIFY_RESULT,
		                        .local = v->local,
		                        .remote = v->remote,
		                        .stream_id = v->stream_id,
		                        .valid = false};
		emit(s, &a);
		remove_pending(s->verify, &s->n_verify, i);
	}
	rearm_dialback_timer(s);
}

void xmpp_s2s_close(struct xmpp_s2s *s, enum xmpp_stream_error cond, const char *text)
{
	if (s->in_feed)
		return;
	close_with(s, cond, text);
}

bool xmpp_s2s_is_authenticated(const struct xmpp_s2s *s, const char *local, const char *remote)
{
	return local != NULL && remote != NULL && find_pair(s, local, remote) != NULL;
}

bool xmpp_s2s_compact(struct xmpp_s2s *s)
{
	if (s == NULL || s->in_feed)
		return false;
	if (s->out.len == 0)
		fg_buf_free(&s->out);
	return xmpp_stream_compact(s->stream);
}

const char *xmpp_s2s_stream_id(const struct xmpp_s2s *s)
{
	return s->stream_id;
}
