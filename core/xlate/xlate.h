/* xlate: SIP <-> XMPP translation: addresses and errors (RFC 7247), messages (RFC 7572), presence
 * (RFC 8048), chat states (XEP-0085, RFC 3994). */
#ifndef FEDGW_XLATE_H
#define FEDGW_XLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* Limits on peer-controlled input. */
#define XLATE_MAX_JID_PART  1023  /* RFC 7622 §3.1: each JID part is at most 1023 bytes */
#define XLATE_MAX_BODY      65536 /* same cap as a SIP body (SIP_MAX_BODY) */
#define XLATE_MAX_XML       65536 /* PIDF / isComposing documents */
#define XLATE_MAX_XML_DEPTH 32    /* PIDF nests 4-5 levels; anything deeper is abuse */
#define XLATE_MAX_NOTE      8192  /* one status text; longer is refused, never cut */

/* ---- addresses (RFC 7247 §6) ---- */

/* sip:, sips:, im: or pres: user@domain[;gr=x] -> user@domain[/x] (RFC 7247 §6.4). The user
 * part is percent-decoded; a character a JID localpart forbids (RFC 7622 §3.3.1: " & ' / :
 * < > @; space by PRECIS, §3.3) and '\' are XEP-0106-escaped; control characters and NUL
 * are refused. The domain is lower-cased, the localpart kept as is. A temporary GRUU (gr
 * with no value) is refused (§6.3). Appends to jid. *why (may be NULL) gets a reason. */
enum fg_err xlate_addr_sip_to_xmpp(const char *uri, size_t len, struct fg_buf *jid,
                                   const char **why);
/* What xlate_addr_uri_to_jid wrote, as lengths and offsets into the JID. */
struct xlate_jid_parts {
	size_t len;          /* the whole JID, without its NUL */
	size_t local_len;    /* 0: no localpart (then no '@') */
	size_t domain_off;   /* where the domainpart starts */
	size_t domain_len;   /* the domainpart, up to '/' or the end */
	size_t resource_len; /* 0: no resourcepart; else it ends the JID, after a '/' */
};
struct sip_uri;
/* xlate_addr_sip_to_xmpp for a URI the SIP parser already split (struct sip_uri, sip.h):
 * the same rules and refusals, with no parse, no allocation and no formatting. domain (may
 * be NULL) is written as the domainpart instead of the lower-cased host (a SIP domain
 * served as an XMPP domain; domain mapping is local policy, RFC 7247 §6.1); the host is
 * still checked. Writes a NUL-terminated
 * JID into out (FG_ERR_TOOBIG when it needs more than outsize bytes) and its parts. */
enum fg_err xlate_addr_uri_to_jid(const struct sip_uri *uri, const char *domain, char *out,
                                  size_t outsize, struct xlate_jid_parts *parts, const char **why);
/* user@domain[/res] -> sip:user@domain[;gr=res] (RFC 7247 §6.5): XEP-0106 escapes are
 * undone, then characters not allowed in a SIP user part (RFC 3261 §25.1) are
 * percent-encoded. */
enum fg_err xlate_addr_xmpp_to_sip(const char *jid, size_t len, struct fg_buf *uri,
                                   const char **why);

/* ---- errors (RFC 7247 §7) ---- */

enum xlate_stanza_error {
	XLATE_ERR_BAD_REQUEST = 0,
	XLATE_ERR_CONFLICT,
	XLATE_ERR_FEATURE_NOT_IMPLEMENTED,
	XLATE_ERR_FORBIDDEN,
	XLATE_ERR_GONE,
	XLATE_ERR_INTERNAL_SERVER_ERROR,
	XLATE_ERR_ITEM_NOT_FOUND,
	XLATE_ERR_JID_MALFORMED,
	XLATE_ERR_NOT_ACCEPTABLE,
	XLATE_ERR_NOT_ALLOWED,
	XLATE_ERR_NOT_AUTHORIZED,
	XLATE_ERR_POLICY_VIOLATION,
	XLATE_ERR_RECIPIENT_UNAVAILABLE,
	XLATE_ERR_REDIRECT,
	XLATE_ERR_REGISTRATION_REQUIRED,
	XLATE_ERR_REMOTE_SERVER_NOT_FOUND,
	XLATE_ERR_REMOTE_SERVER_TIMEOUT,
	XLATE_ERR_RESOURCE_CONSTRAINT,
	XLATE_ERR_SERVICE_UNAVAILABLE,
	XLATE_ERR_SUBSCRIPTION_REQUIRED,
	XLATE_ERR_UNDEFINED_CONDITION,
	XLATE_ERR_UNEXPECTED_REQUEST,
	XLATE_ERR__COUNT
};

enum xlate_error_type {
	XLATE_TYPE_AUTH = 0,
	XLATE_TYPE_CANCEL,
	XLATE_TYPE_CONTINUE,
	XLATE_TYPE_MODIFY,
	XLATE_TYPE_WAIT,
};

/* One row of RFC 7247 §7.2 Table 3 (SIP response -> XMPP condition). Class rows ("4xx")
 * have code % 100 == 0 and cover codes not listed. */
struct xlate_sip_to_xmpp_row {
	unsigned code;
	bool is_class;
	enum xlate_stanza_error cond;
	enum xlate_error_type type;
};
/* One row of RFC 7247 §7.1 Table 2 (XMPP condition -> SIP response). code: the error is
 * about a full JID (one endpoint), or the RFC gives one code; code_bare: about a bare JID
 * (the user), the 6xx / 501 of the table's notes 1 and 2. */
struct xlate_xmpp_to_sip_row {
	enum xlate_stanza_error cond;
	unsigned code;
	unsigned code_bare;
};
extern const struct xlate_sip_to_xmpp_row xlate_sip_to_xmpp_table[];
extern const size_t xlate_sip_to_xmpp_table_len;
extern const struct xlate_xmpp_to_sip_row xlate_xmpp_to_sip_table[];
extern const size_t xlate_xmpp_to_sip_table_len;

/* SIP status (300-699) -> XMPP condition and type; false for 1xx, 2xx and codes past 699.
 * 301 maps to gone: the caller puts the Contact address in <gone/> (§7.2 note 1). */
bool xlate_error_from_sip(unsigned code, enum xlate_stanza_error *cond,
                          enum xlate_error_type *type);
/* XMPP condition -> SIP status code for an error about a full JID (gone: 410). */
unsigned xlate_error_to_sip(enum xlate_stanza_error cond);
/* The same with what RFC 7247 §7.1 notes 1-3 need: bare_jid when the error is about a bare
 * JID (localpart@domainpart), new_address when the <gone/> carries a new address (301, the
 * caller puts it in Contact). */
unsigned xlate_error_to_sip_for(enum xlate_stanza_error cond, bool bare_jid, bool new_address);
const char *xlate_stanza_error_name(enum xlate_stanza_error cond); /* "item-not-found" */
bool xlate_stanza_error_parse(const char *name, enum xlate_stanza_error *out);
const char *xlate_error_type_name(enum xlate_error_type type); /* "cancel" */

/* ---- messages (RFC 7572) ---- */

/* Is the Content-Type value (len bytes, parameters allowed) exactly the media type want
 * ("application/im-iscomposing+xml"; type and subtype compare case-insensitively, RFC 2045
 * §5.1)? A longer subtype ("...+xmlfoo") is another type. */
bool xlate_media_type_is(const char *content_type, size_t len, const char *want);

/* An XMPP <message/> reduced to what RFC 7572 maps. Strings are owned (malloc'd), NULL
 * when absent; xlate_im_clear frees them. */
struct xlate_im {
	char *body;
	char *subject;
	char *thread;       /* RFC 7572 §4/§5: <thread/> <-> SIP Call-ID */
	char *lang;         /* xml:lang <-> Content-Language (its first valid tag, RFC 7572 §8) */
	char *subject_lang; /* a CPIM "Subject:;lang=xx" (RFC 3862 §3.3): <subject xml:lang> */
	char *id;
	/* xlate_im_to_xml writes type='chat' (a MESSAGE inside an IM session, RFC 7573) when
	 * set, else no type: a pager-mode MESSAGE MUST have none or 'normal' (RFC 7572 §5) */
	bool chat;
	/* the XHTML-IM <html/> element of a text/html MESSAGE (RFC 7572 §7), serialized, or
	 * NULL; xlate_im_to_xml writes it after <body/> */
	char *html;
};
void xlate_im_clear(struct xlate_im *im);

/* SIP MESSAGE -> XMPP. content_type: the Content-Type value ("text/plain;charset=UTF-8",
 * "text/html" or "message/cpim" holding either); subject/content_language/call_id: header
 * values or NULL. text/html gives the plain text in body and the XHTML-IM in html
 * (xlate_html_convert; no text at all is FG_ERR_PARSE). Refuses
 * other types and charsets with FG_ERR_VERSION (answer 415) and invalid UTF-8 with
 * FG_ERR_PARSE (answer 400). */
enum fg_err xlate_im_from_sip(const char *content_type, const uint8_t *body, size_t len,
                              const char *subject, const char *content_language,
                              const char *call_id, struct xlate_im *out, const char **why);
/* XMPP -> SIP MESSAGE: body bytes, content type (always text/plain;charset=UTF-8) and
 * extra header lines ("Subject: ...\r\nContent-Language: ...\r\n"). Header values are
 * checked for CR/LF (header injection); the Call-ID for im->thread comes from
 * xlate_call_id_from_thread. */
enum fg_err xlate_im_to_sip(const struct xlate_im *im, struct fg_buf *body,
                            struct fg_buf *extra_headers, const char **content_type);
/* RFC 7572 Table 1: <thread/> -> Call-ID. A thread that is an RFC 3261 §25.1 callid of at
 * most XLATE_MAX_THREAD_CALL_ID bytes is the Call-ID as it is; any other (a space, non-ASCII
 * text, too long) gets one derived from it, "th-" + 32 hex digits of its hash + "@" + host,
 * the same for the same thread, and *derived is set: the caller keeps the pair so that the
 * Call-ID of a reply maps back to the thread (RFC 7572 Table 2). out: at least
 * XLATE_MAX_THREAD_CALL_ID + 1 bytes and room for the host. */
#define XLATE_MAX_THREAD_CALL_ID    128 /* longer Call-IDs are legal but break some stacks */
#define XLATE_THREAD_CALL_ID_PREFIX "th-"
enum fg_err xlate_call_id_from_thread(const char *thread, size_t len, const char *host, char *out,
                                      size_t outsize, bool *derived);
/* Is s (len bytes) a Call-ID by RFC 3261 §25.1 (word ["@" word])? */
bool xlate_call_id_valid(const char *s, size_t len);
/* Serialises <message [type='chat'] from to [id] [xml:lang]><subject/><body/><thread/>
 * with XML escaping (for the router and for tests); type='chat' only when im->chat. */
enum fg_err xlate_im_to_xml(const struct xlate_im *im, const char *from, const char *to,
                            struct fg_buf *out);

/* The parts of a SIP MESSAGE that RFC 7572 maps, borrowed from the parsed request. A NULL
 * pointer is an absent header; a header value ends at its length or at a NUL, whichever
 * comes first. content_type NULL means text/plain (lenient: RFC 3261 §20.15 wants a
 * Content-Type with a body; text/plain is the RFC 2045 §5.2 default). */
struct xlate_im_sip {
	const char *content_type;
	size_t content_type_len;
	const uint8_t *body;
	size_t body_len;
	const char *subject;
	size_t subject_len;
	const char *content_language;
	size_t content_language_len;
	const char *call_id;
	size_t call_id_len;
	bool chat; /* inside an IM session: type='chat'; else no type (RFC 7572 §5) */
};
/* SIP MESSAGE -> the stanza, in one pass and without copying any field: the checks and
 * errors of xlate_im_from_sip (FG_ERR_VERSION: answer 415; FG_ERR_PARSE: 400), then what
 * xlate_im_to_xml writes for from and to (JIDs of from_len/to_len bytes) and id (NULL: no
 * id). Values are checked and escaped as the s2s stream carries them (xmpp_escape); a
 * value XML cannot carry is FG_ERR_PARSE. Appends to out; out is unchanged on error. */
enum fg_err xlate_im_sip_to_xml(const struct xlate_im_sip *in, const char *from, size_t from_len,
                                const char *to, size_t to_len, const char *id, struct fg_buf *out,
                                const char **why);

/* ---- text/html -> XHTML-IM (RFC 7572 §7, XEP-0071) ---- */

#define XLATE_XHTML_IM_NS "http://jabber.org/protocol/xhtml-im"
/* Open elements kept: IM markup nests a few levels, and message/html/body plus this must
 * stay under the receiving stream's depth cap (XMPP_MAX_DEPTH 32). Deeper ones are dropped,
 * their text kept. */
#define XLATE_HTML_MAX_DEPTH 16
/* The XHTML-IM written for one body: markup may grow (<u> becomes a styled <span>, '&'
 * becomes "&amp;"); twice the body cap keeps the stanza far under XMPP_MAX_STANZA_BYTES.
 * Past it the <html/> is left out and the <body/> alone carries the text. */
#define XLATE_HTML_MAX_XHTML (2 * XLATE_MAX_BODY)
/* One href or src: longer URIs are not links anyone types into a chat. */
#define XLATE_HTML_MAX_URL 4096

/* A text/html body (UTF-8) -> its plain-text equivalent, appended to text (for <body/>,
 * XEP-0071: it MUST be there), and the XHTML-IM element appended to xhtml: <html
 * xmlns='http://jabber.org/protocol/xhtml-im'><body
 * xmlns='http://www.w3.org/1999/xhtml'> ...</body></html>, reduced to the XEP-0071
 * recommended profile: b -> strong, i -> em, u -> span with text-decoration, div -> p,
 * font -> span style; other elements are dropped with their text kept; script, style,
 * title and the text of head are dropped; hrefs and srcs only http, https, mailto, xmpp
 * and sip; style only the profile's CSS properties; open elements closed, stray end tags
 * ignored. Text is entity-decoded and white space collapsed as a browser shows it; block
 * ends and <br> are line breaks. xhtml gets nothing when its XLATE_HTML_MAX_XHTML cap is
 * passed. FG_ERR_PARSE: not UTF-8 text (a NUL or a control character), or no text at
 * all; FG_ERR_TOOBIG: more than XLATE_MAX_BODY bytes. Both buffers are unchanged on
 * error. */
enum fg_err xlate_html_convert(const uint8_t *html, size_t len, struct fg_buf *text,
                               struct fg_buf *xhtml, const char **why);

/* ---- presence (RFC 8048, PIDF RFC 3863, RPID RFC 4480) ---- */

enum xlate_show {
	XLATE_SHOW_NONE = 0, /* available, no <show/> */
	XLATE_SHOW_AWAY,
	XLATE_SHOW_CHAT,
	XLATE_SHOW_DND,
	XLATE_SHOW_XA,
};

struct xlate_presence {
	bool available; /* PIDF basic open/closed <-> no type / type='unavailable' */
	enum xlate_show show;
	char *status;      /* <status/> <-> <note/>, owned, NULL when absent */
	char *status_lang; /* xml:lang of the note, owned, NULL when absent */
	int priority;      /* -128..127 <-> PIDF <contact priority> 0..1 */
	bool has_priority;
	/* XMPP resourcepart -> PIDF tuple id "ID-<resource>" (RFC 8048 §6.2 Table 1 row 2,
	 * note 2), owned, NULL: none (the tuple id is then "t1"). Not set by the parser. */
	char *resource;
	/* <presence xml:lang> <-> Content-Language (RFC 8048 §6.2 Table 1, §6.3 Table 2),
	 * owned, NULL when absent. Not set by the parser (it is a SIP header). */
	char *lang;
};
void xlate_presence_clear(struct xlate_presence *p);

/* Parses a PIDF document (with RPID activities) into p. A <show xmlns='jabber:client'>
 * inside a tuple's <status> gives p->show and wins over RPID (RFC 8048 §6.3 Table 2 row 3).
 * DOCTYPE, entity declarations, processing instructions and comments are refused before
 * anything is expanded. */
enum fg_err xlate_pidf_parse(const uint8_t *xml, size_t len, struct xlate_presence *p,
                             const char **why);
/* Builds a PIDF document for entity ("pres:user@domain" or a sip: URI): one tuple, its id
 * from p->resource ("ID-" + the resource, characters an xs:ID cannot hold as "_"), basic
 * open/closed, the XMPP <show/> in the 'jabber:client' namespace inside <status> (RFC 8048
 * §6.2 note 7, RECOMMENDED) next to the RPID activities, and <note/> from <status/>.
 * contact (may be NULL) is the tuple's <contact>; it carries the priority 0..127 as 0..1
 * (note 6: a negative priority is never mapped). */
enum fg_err xlate_pidf_build(const struct xlate_presence *p, const char *entity,
                             const char *contact, struct fg_buf *out);
const char *xlate_show_name(enum xlate_show show); /* "away"; NULL for NONE */
bool xlate_show_parse(const char *s, enum xlate_show *out);

/* Subscription handling (RFC 8048 §5.2, §5.3, §7; RFC 6665 §4.1.3, §4.2.1, §4.4.3). */
enum xlate_sub {
	XLATE_SUB_SUBSCRIBE = 0,
	XLATE_SUB_SUBSCRIBED,
	XLATE_SUB_UNSUBSCRIBE,
	XLATE_SUB_UNSUBSCRIBED,
	XLATE_SUB_PROBE,
	/* SIP -> XMPP only: the SIP watcher ends its notification dialog (SUBSCRIBE Expires 0
	 * in the dialog). RFC 8048 §5.3.3: XMPP presence type 'unavailable'; the XMPP
	 * authorization stays (never an unsubscribe). */
	XLATE_SUB_END_DIALOG,
};
/* One row: an XMPP presence type and the SIP side that carries it. */
struct xlate_sub_row {
	enum xlate_sub xmpp;
	const char *sip_method; /* "SUBSCRIBE" or "NOTIFY" */
	int expires;            /* SUBSCRIBE: -1 = default period, 0 = Expires: 0; NOTIFY: -1 */
	const char *state;      /* NOTIFY Subscription-State value, NULL for SUBSCRIBE */
	const char *reason;     /* ;reason= for terminated, or NULL */
};
extern const struct xlate_sub_row xlate_sub_table[];
extern const size_t xlate_sub_table_len;
/* RFC 3856 §6.4: the presence package's default subscription period (the implied Expires
 * when a SUBSCRIBE has none, RFC 6665 §3.1.1). */
#define XLATE_SUB_DEFAULT_EXPIRES 3600
/* Largest Subscription-State retry-after honoured: a day (a larger one is taken as a day). */
#define XLATE_SUB_MAX_RETRY_AFTER 86400
const struct xlate_sub_row *xlate_sub_to_sip(enum xlate_sub sub);
/* SIP -> XMPP: method SUBSCRIBE with expires (-1 when absent), or NOTIFY with its
 * Subscription-State value ("active;expires=60", "terminated;reason=rejected").
 * SUBSCRIBE with Expires 0 inside an existing subscription's dialog ends that dialog
 * (XLATE_SUB_END_DIALOG, RFC 8048 §5.3.3); outside one it is a fetch (XLATE_SUB_PROBE,
 * RFC 6665 §4.4.3, RFC 8048 §7.2). NOTIFY terminated maps to XLATE_SUB_UNSUBSCRIBED only
 * for the reasons after which RFC 6665 §4.1.3 says not to subscribe again (rejected,
 * noresource, invariant). false: nothing to send to XMPP (NOTIFY pending; or terminated
 * with no reason, an unknown one or one that allows a new subscription). */
bool xlate_sub_from_sip(const char *method, long expires, const char *subscription_state,
                        bool subscription_exists, enum xlate_sub *out);
/* The retry-after parameter of a Subscription-State value in seconds (capped at
 * XLATE_SUB_MAX_RETRY_AFTER), or -1 when absent or malformed (RFC 6665 §4.1.3). */
long xlate_sub_retry_after(const char *subscription_state);
const char *xlate_sub_name(enum xlate_sub sub); /* "subscribe"; END_DIALOG: "unavailable" */

/* ---- chat states (XEP-0085 <-> RFC 3994 isComposing) ---- */

enum xlate_chatstate {
	XLATE_CS_ACTIVE = 0,
	XLATE_CS_COMPOSING,
	XLATE_CS_PAUSED,
	XLATE_CS_INACTIVE,
	XLATE_CS_GONE,
};
#define XLATE_ISCOMPOSING_TYPE "application/im-iscomposing+xml"
/* RFC 3994 §3.2: a refresh SHOULD be at least 60 s; 90 s as in its §5 example */
#define XLATE_ISCOMPOSING_REFRESH 90
/* A peer's <refresh> longer than an hour is read as an hour: a composer gone that long has
 * gone idle by any measure, and the receiver's timer stays bounded. */
#define XLATE_ISCOMPOSING_REFRESH_MAX 3600
/* Builds an isComposing document (RFC 7573 §6 Table 4): composing -> "active" with
 * refresh, others "idle" (gone too: outside a session there is nothing better). */
enum fg_err xlate_chatstate_to_iscomposing(enum xlate_chatstate cs, struct fg_buf *out);
/* Parses isComposing (RFC 7573 §6 Table 3): "active" -> composing, "idle" -> active; any
 * other state token is idle (RFC 3994 §3.5). A document with no <state> is refused. */
enum fg_err xlate_chatstate_from_iscomposing(const uint8_t *xml, size_t len,
                                             enum xlate_chatstate *out, const char **why);
/* The same, and the document's <refresh> in seconds into *refresh_s (RFC 3994 §3.3): -1 when
 * absent or not a positive integer (the receiver then waits 120 s), at most
 * XLATE_ISCOMPOSING_REFRESH_MAX. */
enum fg_err xlate_iscomposing_parse(const uint8_t *xml, size_t len, enum xlate_chatstate *out,
                                    long *refresh_s, const char **why);
const char *xlate_chatstate_name(enum xlate_chatstate cs); /* "composing" */

#endif
