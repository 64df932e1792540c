/* xmpp DOM: per-stanza arena, node accessors and an escaping serializer (XML 1.0 §2.2, §2.4;
 * RFC 6120 §11). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmpp/xmpp_internal.h"

/* Chunks are at least this large; a stanza of a few KiB needs one or two. */
#define ARENA_CHUNK_MIN 8192u

struct xmpp__arena_chunk {
	struct xmpp__arena_chunk *next;
	size_t size;
	size_t off;
	max_align_t data[];
};

void *xmpp__arena_alloc(struct xmpp__arena *a, size_t size)
{
	const size_t align = sizeof(max_align_t);
	size = (size + align - 1) / align * align;
	if (size == 0)
		size = align;
	struct xmpp__arena_chunk *c = a->chunks;
	if (c == NULL || c->size - c->off < size) {
		size_t want = size > ARENA_CHUNK_MIN ? size : ARENA_CHUNK_MIN;
		c = malloc(sizeof(*c) + want);
		if (c == NULL)
			return NULL;
		c->size = want;
		c->off = 0;
		c->next = a->chunks;
		a->chunks = c;
	}
	void *p = (uint8_t *)c->data + c->off;
	FG_UNPOISON(p, size);
	c->off += size;
	a->used += size;
	return p;
}

char *xmpp__arena_strndup(struct xmpp__arena *a, const char *s, size_t len)
{
	char *p = xmpp__arena_alloc(a, len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void xmpp__arena_recycle(struct xmpp__arena *a)
{
	/* the oldest chunk is the one of ARENA_CHUNK_MIN bytes most stanzas fit in */
	struct xmpp__arena_chunk *keep = a->chunks;
	while (keep != NULL && keep->next != NULL) {
		struct xmpp__arena_chunk *next = keep->next;
		free(keep);
		keep = next;
	}
	if (keep != NULL && keep->size != ARENA_CHUNK_MIN) {
		free(keep);
		keep = NULL;
	}
	if (keep != NULL) {
		keep->off = 0;
		/* until handed out again: a use of the last stanza's tree is still reported */
		FG_POISON(keep->data, keep->size);
	}
	a->chunks = keep;
	a->used = 0;
}

void xmpp__arena_reset(struct xmpp__arena *a)
{
	struct xmpp__arena_chunk *c = a->chunks;
	while (c != NULL) {
		struct xmpp__arena_chunk *next = c->next;
		FG_UNPOISON(c->data, c->size);
		free(c);
		c = next;
	}
	a->chunks = NULL;
	a->used = 0;
}

/* XML 1.0 §2.2 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF] */
static bool xml_char_ok(uint32_t cp)
{
	if (cp < 0x20)
		return cp == 0x9 || cp == 0xa || cp == 0xd;
	return cp != 0xfffe && cp != 0xffff;
}

bool xmpp__xml_chars_ok(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = fg_utf8_decode(s + i, len - i, &cp);
		if (n == 0 || !xml_char_ok(cp))
			return false;
		i += n;
	}
	return true;
}

enum fg_err xmpp_escape(struct fg_buf *out, const char *s, size_t len, bool attr)
{
	/* one pass: characters are checked where they are copied */
	size_t start = out->len;
	size_t run = 0;
	enum fg_err err = fg_buf_reserve(out, len);
	if (err != FG_OK)
		return err;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		const char *ent = NULL;
		if (c >= 0x20 && c < 0x80 && c != '&' && c != '<' && c != '>' && c != '\'' &&
		    c != '"') {
			i++; /* the common case: printable ASCII copied as it is */
			continue;
		}
		if (c >= 0x80) {
			uint32_t cp;
			size_t n = fg_utf8_decode((const uint8_t *)s + i, len - i, &cp);
			if (n == 0 || !xml_char_ok(cp)) {
				err = FG_ERR_INVAL;
				goto fail;
			}
			i += n;
			continue;
		}
		switch (c) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			/* XML 1.0 §2.4: "]]>" in text must be escaped; escaping every '>' is
			 * simpler */
			ent = "&gt;";
			break;
		case '"':
			/* quotes are escaped in text too, so the output is safe in any context */
			ent = "&quot;";
			break;
		case '\'':
			ent = "&apos;";
			break;
		case '\r':
			/* A raw CR would be normalised away by the receiver's parser. */
			ent = "&#13;";
			break;
		case '\t':
			ent = attr ? "&#9;" : NULL;
			break;
		case '\n':
			/* XML 1.0 §3.3.3: attribute values are whitespace-normalised */
			ent = attr ? "&#10;" : NULL;
			break;
		default:
			if (c < 0x20) {
				/* XML 1.0 §2.2: no other C0 control */
				err = FG_ERR_INVAL;
				goto fail;
			}
			break;
		}
		if (ent == NULL) {
			i++;
			continue;
		}
		if ((err = fg_buf_append(out, s + run, i - run)) != FG_OK)
			goto fail;
		if ((err = fg_buf_append_str(out, ent)) != FG_OK)
			goto fail;
		run = ++i;
	}
	if ((err = fg_buf_append(out, s + run, len - run)) != FG_OK)
		goto fail;
	return FG_OK;
fail:
	out->len = start;
	return err;
}

const char *xmpp_node_attr(const struct xmpp_node *n, const char *name)
{
	if (n == NULL || n->name == NULL)
		return NULL;
	for (const struct xmpp_attr *a = n->attrs; a != NULL; a = a->next) {
		if (a->ns[0] == '\0' && strcmp(a->name, name) == 0)
			return a->value;
	}
	return NULL;
}

bool xmpp_node_is(const struct xmpp_node *n, const char *ns, const char *name)
{
	return n != NULL && n->name != NULL && strcmp(n->ns, ns) == 0 && strcmp(n->name, name) == 0;
}

const struct xmpp_node *xmpp_node_child(const struct xmpp_node *n, const char *ns, const char *name)
{
	if (n == NULL)
		return NULL;
	for (const struct xmpp_node *c = n->children; c != NULL; c = c->next) {
		if (c->name == NULL)
			continue;
		if (ns != NULL && strcmp(c->ns, ns) != 0)
			continue;
		if (name != NULL && strcmp(c->name, name) != 0)
			continue;
		return c;
	}
	return NULL;
}

enum fg_err xmpp_node_text(const struct xmpp_node *n, struct fg_buf *out)
{
	enum fg_err err = fg_buf_reserve(out, 1);
	if (err != FG_OK)
		return err;
	for (const struct xmpp_node *c = n->children; c != NULL; c = c->next) {
		if (c->name != NULL)
			continue;
		if ((err = fg_buf_append(out, c->text, c->text_len)) != FG_OK)
			return err;
	}
	fg_buf_cstr(out);
	return FG_OK;
}

/* a + b + c without printf (markup around a name) */
static enum fg_err put3(struct fg_buf *out, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	enum fg_err err = fg_buf_reserve(out, la + lb + lc);
	if (err != FG_OK)
		return err;
	memcpy(out->data + out->len, a, la);
	memcpy(out->data + out->len + la, b, lb);
	memcpy(out->data + out->len + la + lb, c, lc);
	out->len += la + lb + lc;
	return FG_OK;
}

static enum fg_err serialize_attr(const struct xmpp_attr *a, unsigned idx, struct fg_buf *out)
{
	enum fg_err err;
	if (a->ns[0] == '\0') {
		err = put3(out, " ", a->name, "='");
	} else if (strcmp(a->ns, XMPP_NS_XML) == 0) {
		/* the xml: prefix is bound by definition (Namespaces in XML §3) */
		err = put3(out, " xml:", a->name, "='");
	} else {
		/* other qualified attributes get a private prefix declared on the element */
		err = fg_buf_printf(out, " xmlns:a%u='", idx);
		if (err == FG_OK)
			err = xmpp_escape(out, a->ns, strlen(a->ns), true);
		if (err == FG_OK)
			err = fg_buf_printf(out, "' a%u:%s='", idx, a->name);
	}
	if (err == FG_OK)
		err = xmpp_escape(out, a->value, strlen(a->value), true);
	if (err == FG_OK)
		err = fg_buf_append_str(out, "'");
	return err;
}

static enum fg_err serialize_rec(const struct xmpp_node *n, const char *parent_ns,
                                 struct fg_buf *out, unsigned depth)
{
	enum fg_err err;
	if (n->name == NULL)
		return xmpp_escape(out, n->text, n->text_len, false);
	/* our own DOMs come from the parser (depth-capped); guard anyway */
	if (depth > XMPP_MAX_DEPTH + 2)
		return FG_ERR_TOOBIG;
	if ((err = put3(out, "<", n->name, "")) != FG_OK)
		return err;
	if (parent_ns == NULL || strcmp(n->ns, parent_ns) != 0) {
		if ((err = fg_buf_append_str(out, " xmlns='")) != FG_OK)
			return err;
		if ((err = xmpp_escape(out, n->ns, strlen(n->ns), true)) != FG_OK)
			return err;
		if ((err = fg_buf_append_str(out, "'")) != FG_OK)
			return err;
	}
	unsigned idx = 0;
	for (const struct xmpp_attr *a = n->attrs; a != NULL; a = a->next, idx++) {
		if ((err = serialize_attr(a, idx, out)) != FG_OK)
			return err;
	}
	if (n->children == NULL)
		return fg_buf_append_str(out, "/>");
	if ((err = fg_buf_append_str(out, ">")) != FG_OK)
		return err;
	for (const struct xmpp_node *c = n->children; c != NULL; c = c->next) {
		if ((err = serialize_rec(c, n->ns, out, depth + 1)) != FG_OK)
			return err;
	}
	return put3(out, "</", n->name, ">");
}

enum fg_err xmpp_node_serialize(const struct xmpp_node *n, const char *parent_ns,
                                struct fg_buf *out)
{
	size_t start = out->len;
	enum fg_err err = serialize_rec(n, parent_ns, out, 0);
	if (err != FG_OK)
		out->len = start;
	return err;
}

bool xmpp__domain_in(const char *name, const char *const *list, size_t n)
{
	if (name == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (list[i] != NULL && strcasecmp(list[i], name) == 0)
			return true;
	}
	return false;
}

bool xmpp_jid_domain(const char *jid, char *out, size_t outsize)
{
	if (jid == NULL || jid[0] == '\0')
		return false;
	/* RFC 7622 §3.1: domainpart follows the first '@' and ends before the first '/' */
	const char *slash = strchr(jid, '/');
	size_t end = slash != NULL ? (size_t)(slash - jid) : strlen(jid);
	const char *at = memchr(jid, '@', end);
	const char *d = at != NULL ? at + 1 : jid;
	size_t len = (size_t)(jid + end - d);
	if (len == 0 || len > XMPP_MAX_DOMAIN || len + 1 > outsize)
		return false;
	memcpy(out, d, len);
	out[len] = '\0';
	/* a trailing dot is stripped (RFC 7622 §3.2) */
	if (len > 1 && out[len - 1] == '.')
		out[len - 1] = '\0';
	return true;
}
