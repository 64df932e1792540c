/* xlate: text/html -> plain text + XHTML-IM (RFC 7572 §7, XEP-0071 recommended profile). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "xlate/xlate_internal.h"

/* A forgiving HTML tokenizer (no tree, no DOM): tags are mapped to the XHTML-IM recommended
 * profile through a small stack of open output elements, so the output is always
 * well-formed XML whatever the input nests or leaves open. Text is decoded (entities) and
 * collapsed as a browser renders it, and written twice: into the plain-text <body/> and,
 * escaped, into the XHTML-IM <body/>. */

#define HTML_MAX_NAME    16   /* longest tag or attribute name we look at ("blockquote") */
#define HTML_MAX_STYLE   1024 /* one style attribute; IM styling is a few declarations */
#define HTML_MAX_STYLE_V 256  /* one CSS value ("Times New Roman, serif", "rgb(1,2,3)") */
#define HTML_RUN         256  /* text staged before it is written to both outputs */
#define HTML_MAX_ENTITY  32   /* longest named reference looked at: ours are 8 or less */

enum out_el {
	O_NONE = 0,
	O_P,
	O_BLOCKQUOTE,
	O_UL,
	O_OL,
	O_LI,
	O_SPAN,
	O_A,
	O_EM,
	O_STRONG,
	O_CITE,
	O_BR,
	O_IMG,
};

static const char *const out_names[] = {
    [O_P] = "p",           [O_BLOCKQUOTE] = "blockquote",
    [O_UL] = "ul",         [O_OL] = "ol",
    [O_LI] = "li",         [O_SPAN] = "span",
    [O_A] = "a",           [O_EM] = "em",
    [O_STRONG] = "strong", [O_CITE] = "cite",
    [O_BR] = "br",         [O_IMG] = "img",
};

/* XEP-0071 recommended profile: which recommended-profile elements take a style attribute */
static bool out_styled(enum out_el o)
{
	return o == O_P || o == O_BLOCKQUOTE || o == O_UL || o == O_OL || o == O_LI ||
	       o == O_SPAN || o == O_A || o == O_CITE || o == O_IMG;
}

static bool out_inline(enum out_el o)
{
	return o == O_SPAN || o == O_A || o == O_EM || o == O_STRONG || o == O_CITE;
}

enum tag_flag {
	F_RAW = 1,  /* content is raw text, dropped whole (script, style, title...) */
	F_VOID = 2, /* no content and no end tag */
	F_PRE = 4,  /* white space kept */
	F_FONT = 8, /* color/size/face attributes become style */
	F_SEP = 16, /* table cell: a space before its text */
};

struct tag_map {
	const char *name;
	uint8_t out;       /* enum out_el */
	uint8_t nl;        /* newlines its start and end put into the plain text (block) */
	uint8_t flags;     /* enum tag_flag */
	const char *style; /* fixed style of a mapped element, NULL: none */
};

/* Every element not listed is dropped with its text kept. Sorted by name: tag_find is a
 * binary search. */
static const struct tag_map tag_table[] = {
    {"a", O_A, 0, 0, NULL},
    {"address", O_NONE, 1, 0, NULL},
    {"article", O_NONE, 1, 0, NULL},
    {"aside", O_NONE, 1, 0, NULL},
    {"b", O_STRONG, 0, 0, NULL},
    {"big", O_SPAN, 0, 0, "font-size: larger"},
    {"blockquote", O_BLOCKQUOTE, 2, 0, NULL},
    {"br", O_BR, 0, F_VOID, NULL},
    {"caption", O_NONE, 1, 0, NULL},
    {"center", O_P, 1, 0, "text-align: center"},
    {"cite", O_CITE, 0, 0, NULL},
    {"code", O_SPAN, 0, 0, "font-family: monospace"},
    {"dd", O_NONE, 1, 0, NULL},
    {"del", O_SPAN, 0, 0, "text-decoration: line-through"},
    {"dfn", O_EM, 0, 0, NULL},
    {"div", O_P, 1, 0, NULL},
    {"dl", O_NONE, 1, 0, NULL},
    {"dt", O_NONE, 1, 0, NULL},
    {"em", O_EM, 0, 0, NULL},
    {"fieldset", O_NONE, 1, 0, NULL},
    {"figcaption", O_NONE, 1, 0, NULL},
    {"figure", O_NONE, 1, 0, NULL},
    {"font", O_SPAN, 0, F_FONT, NULL},
    {"footer", O_NONE, 1, 0, NULL},
    {"form", O_NONE, 1, 0, NULL},
    {"h1", O_P, 2, 0, "font-weight: bold"},
    {"h2", O_P, 2, 0, "font-weight: bold"},
    {"h3", O_P, 2, 0, "font-weight: bold"},
    {"h4", O_P, 2, 0, "font-weight: bold"},
    {"h5", O_P, 2, 0, "font-weight: bold"},
    {"h6", O_P, 2, 0, "font-weight: bold"},
    {"header", O_NONE, 1, 0, NULL},
    {"hr", O_NONE, 1, F_VOID, NULL},
    {"i", O_EM, 0, 0, NULL},
    {"iframe", O_NONE, 0, F_RAW, NULL},
    {"img", O_IMG, 0, F_VOID, NULL},
    {"ins", O_SPAN, 0, 0, "text-decoration: underline"},
    {"kbd", O_SPAN, 0, 0, "font-family: monospace"},
    {"li", O_LI, 1, 0, NULL},
    {"main", O_NONE, 1, 0, NULL},
    {"nav", O_NONE, 1, 0, NULL},
    {"noembed", O_NONE, 0, F_RAW, NULL},
    {"noframes", O_NONE, 0, F_RAW, NULL},
    {"ol", O_OL, 1, 0, NULL},
    {"p", O_P, 2, 0, NULL},
    {"pre", O_P, 2, F_PRE, "font-family: monospace"},
    {"s", O_SPAN, 0, 0, "text-decoration: line-through"},
    {"samp", O_SPAN, 0, 0, "font-family: monospace"},
    {"script", O_NONE, 0, F_RAW, NULL},
    {"section", O_NONE, 1, 0, NULL},
    {"small", O_SPAN, 0, 0, "font-size: smaller"},
    {"span", O_SPAN, 0, 0, NULL},
    {"strike", O_SPAN, 0, 0, "text-decoration: line-through"},
    {"strong", O_STRONG, 0, 0, NULL},
    {"style", O_NONE, 0, F_RAW, NULL},
    {"table", O_NONE, 1, 0, NULL},
    {"td", O_NONE, 0, F_SEP, NULL},
    {"template", O_NONE, 0, F_RAW, NULL},
    {"textarea", O_NONE, 0, F_RAW, NULL},
    {"th", O_NONE, 0, F_SEP, NULL},
    {"title", O_NONE, 0, F_RAW, NULL},
    {"tr", O_NONE, 1, 0, NULL},
    {"tt", O_SPAN, 0, 0, "font-family: monospace"},
    {"u", O_SPAN, 0, 0, "text-decoration: underline"},
    {"ul", O_UL, 1, 0, NULL},
    {"var", O_EM, 0, 0, NULL},
    {"xmp", O_NONE, 0, F_RAW, NULL},
};
#define TAG_COUNT (sizeof(tag_table) / sizeof(tag_table[0]))

static const struct tag_map *tag_find(const char *name)
{
	size_t lo = 0, hi = TAG_COUNT;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, tag_table[mid].name);
		if (c == 0)
			return &tag_table[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- entities (HTML 5 §13.5: numeric references and the common named ones) ---- */

/* ISO 8859-1 U+00A0..U+00FF, in code point order (HTML 4.01 §24.2 names). */
static const char *const latin1_names[96] = {
    "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",
    "copy",   "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn",
    "sup2",   "sup3",   "acute",  "micro",  "para",   "middot", "cedil",  "sup1",   "ordm",
    "raquo",  "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde",
    "Auml",   "Aring",  "AElig",  "Ccedil", "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave",
    "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde",
    "Ouml",   "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",
    "szlig",  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil",
    "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",   "eth",
    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide", "oslash", "ugrave",
    "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml",
};

static const struct {
	const char *name;
	uint32_t cp;
} other_entities[] = {
    {"amp", '&'},      {"lt", '<'},        {"gt", '>'},        {"quot", '"'},
    {"apos", '\''},    {"ndash", 0x2013},  {"mdash", 0x2014},  {"lsquo", 0x2018},
    {"rsquo", 0x2019}, {"sbquo", 0x201a},  {"ldquo", 0x201c},  {"rdquo", 0x201d},
    {"bdquo", 0x201e}, {"bull", 0x2022},   {"hellip", 0x2026}, {"euro", 0x20ac},
    {"trade", 0x2122}, {"larr", 0x2190},   {"rarr", 0x2192},   {"hearts", 0x2665},
    {"ensp", 0x2002},  {"emsp", 0x2003},   {"thinsp", 0x2009}, {"zwj", 0x200d},
    {"zwnj", 0x200c},  {"dagger", 0x2020}, {"Dagger", 0x2021}, {"permil", 0x2030},
    {"OElig", 0x152},  {"oelig", 0x153},   {"Scaron", 0x160},  {"scaron", 0x161},
    {"Yuml", 0x178},   {"fnof", 0x192},    {"circ", 0x2c6},    {"tilde", 0x2dc},
};

/* HTML 5 §13.2.5.80: numeric references 0x80-0x9F are read as windows-1252 */
static const uint16_t cp1252[32] = {
    0x20ac, 0x81,   0x201a, 0x192,  0x201e, 0x2026, 0x2020, 0x2021, 0x2c6,  0x2030, 0x160,
    0x2039, 0x152,  0x8d,   0x17d,  0x8f,   0x90,   0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x2dc,  0x2122, 0x161,  0x203a, 0x153,  0x9d,   0x17e,  0x178,
};

static bool is_alpha(uint8_t b)
{
	return (b | 0x20) >= 'a' && (b | 0x20) <= 'z';
}

static bool is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

static bool is_hex(uint8_t b)
{
	return is_digit(b) || ((b | 0x20) >= 'a' && (b | 0x20) <= 'f');
}

/* An entity reference at p ('&'): its code point and length, or 0 when it is not one (the
 * '&' is then text). Named references need their ';' (a bare "AT&T" stays as it is). */
static size_t entity_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
	if (n < 3)
		return 0;
	if (p[1] == '#') {
		bool hex = n > 2 && (p[2] | 0x20) == 'x';
		size_t i = hex ? 3 : 2, start = i;
		uint32_t v = 0;
		while (i < n && (hex ? is_hex(p[i]) : is_digit(p[i]))) {
			uint32_t d = is_digit(p[i]) ? (uint32_t)(p[i] - '0')
			                            : (uint32_t)((p[i] | 0x20) - 'a' + 10);
			if (v <= 0x10ffff)
				v = v * (hex ? 16u : 10u) + d;
			i++;
		}
		if (i == start)
			return 0;
		if (i < n && p[i] == ';')
			i++;
		/* HTML 5 §13.2.5.80: NUL, surrogates and past U+10FFFF become U+FFFD; C0 controls
		 * other than white space cannot be carried by XML (XML 1.0 §2.2) either */
		if (v >= 0x80 && v <= 0x9f)
			v = cp1252[v - 0x80];
		if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) || v == 0xfffe || v == 0xffff ||
		    (v < 0x20 && v != '\t' && v != '\n' && v != '\r' && v != '\f'))
			v = 0xfffd;
		*cp = v;
		return i;
	}
	size_t i = 1;
	while (i < n && i < HTML_MAX_ENTITY && (is_alpha(p[i]) || is_digit(p[i])))
		i++;
	if (i >= n || p[i] != ';' || i == 1)
		return 0;
	size_t len = i - 1;
	const char *name = (const char *)p + 1;
	for (size_t k = 0; k < 96; k++) {
		if (strlen(latin1_names[k]) == len && memcmp(latin1_names[k], name, len) == 0) {
			*cp = 0xa0 + (uint32_t)k;
			return i + 1;
		}
	}
	for (size_t k = 0; k < sizeof(other_entities) / sizeof(other_entities[0]); k++) {
		if (strlen(other_entities[k].name) == len &&
		    memcmp(other_entities[k].name, name, len) == 0) {
			*cp = other_entities[k].cp;
			return i + 1;
		}
	}
	return 0;
}

static size_t utf8_put(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | (cp >> 6));
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | (cp >> 12));
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | (cp >> 18));
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---- the converter ---- */

struct open_el {
	const struct tag_map *tag; /* the source element, for its end tag */
	uint8_t out;               /* what was written for it */
	size_t link_text;          /* O_A: where its text starts in the plain text */
	size_t href_off, href_len; /* O_A: its href in conv.hrefs */
};

struct conv {
	struct fg_buf *text, *x;
	size_t tstart, xstart;
	bool xoff;       /* the XHTML-IM grew past its cap: only the plain text goes on */
	enum fg_err err; /* sticky */
	const char *why;
	bool any;           /* some text was written */
	bool pending_space; /* collapsed white space, written before the next text */
	unsigned nl_want;   /* newlines a block boundary asks for before the next text */
	unsigned trail_nl;  /* newlines that end the plain text now */
	bool br_want;       /* the boundary is not an XHTML block: write <br/> with the newline */
	bool x_block_edge;  /* the XHTML-IM ends at a block's start or end: a line starts anyway */
	unsigned pre;       /* open <pre> elements */
	bool in_head;       /* inside <head>: its text is not the message's */
	char run[HTML_RUN + 8];
	size_t run_len;
	struct open_el stack[XLATE_HTML_MAX_DEPTH];
	size_t depth;
	struct fg_buf scratch; /* one decoded attribute value */
	struct fg_buf style;   /* the style attribute being built */
	struct fg_buf hrefs;   /* hrefs of open links, for the plain-text link hint */
};

static void fail(struct conv *c, enum fg_err e, const char *why)
{
	if (c->err == FG_OK) {
		c->err = e;
		c->why = why;
	}
}

/* Raw markup into the XHTML-IM (checked against its cap). */
static void x_put(struct conv *c, const char *s, size_t n)
{
	if (c->xoff || c->err)
		return;
	if (c->x->len - c->xstart + n > XLATE_HTML_MAX_XHTML) {
		/* the <body/> carries the text; the XHTML-IM only enriches it */
		c->xoff = true;
		c->x->len = c->xstart;
		return;
	}
	enum fg_err e = fg_buf_append(c->x, s, n);
	if (e)
		fail(c, e, "out of memory");
}

#define X_LIT(c, lit) x_put((c), (lit), sizeof(lit) - 1)

static void x_esc(struct conv *c, const char *s, size_t n, bool attr)
{
	if (c->xoff || c->err)
		return;
	enum fg_err e = xmpp_escape(c->x, s, n, attr);
	if (e == FG_ERR_INVAL)
		fail(c, FG_ERR_PARSE, "text/html is not valid UTF-8 text");
	else if (e)
		fail(c, e, "out of memory");
	else if (c->x->len - c->xstart > XLATE_HTML_MAX_XHTML) {
		c->xoff = true; /* as in x_put */
		c->x->len = c->xstart;
	}
}

static void t_put(struct conv *c, const char *s, size_t n)
{
	if (c->err)
		return;
	enum fg_err e = fg_buf_append(c->text, s, n);
	if (e)
		fail(c, e, "out of memory");
}

/* Writes the staged text to both outputs. */
static void run_flush(struct conv *c)
{
	if (c->run_len == 0)
		return;
	t_put(c, c->run, c->run_len);
	x_esc(c, c->run, c->run_len, false);
	c->run_len = 0;
	c->x_block_edge = false;
}

/* Newlines a block boundary asked for, now that text follows it. */
static void newlines_flush(struct conv *c)
{
	if (c->nl_want > c->trail_nl && c->any) {
		run_flush(c);
		while (c->trail_nl < c->nl_want) {
			t_put(c, "\n", 1);
			c->trail_nl++;
		}
		if (c->br_want && !c->x_block_edge)
			X_LIT(c, "<br/>");
	}
	c->nl_want = 0;
	c->br_want = false;
}

/* A line break: a newline in the text, <br/> in the XHTML; none before the first text. */
static void line_break(struct conv *c)
{
	run_flush(c);
	if (c->any) {
		newlines_flush(c);
		t_put(c, "\n", 1);
		c->trail_nl++;
		X_LIT(c, "<br/>");
	}
	c->pending_space = false;
}

/* One character of text (its UTF-8 bytes): white space collapsed as a browser renders it
 * (CSS 2.1 §16.6.1), kept inside <pre>. */
static void text_char(struct conv *c, const uint8_t *b, size_t n)
{
	uint8_t ch = b[0];
	bool ws = n == 1 && (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f');
	if (ws && c->pre == 0) {
		c->pending_space = true;
		return;
	}
	if (ws && ch == '\r')
		return; /* CRLF in <pre> is one line break */
	if (ws && ch == '\n') {
		line_break(c); /* a line break inside <pre>: the same as <br> */
		return;
	}
	if (ws)
		ch = ' ';
	if (n == 1 && ch < 0x20) {
		fail(c, FG_ERR_PARSE, "text/html is not valid UTF-8 text");
		return;
	}
	newlines_flush(c);
	if (c->pending_space) {
		if (c->any && c->trail_nl == 0)
			c->run[c->run_len++] = ' ';
		c->pending_space = false;
	}
	/* flush only between characters: xmpp_escape reads whole UTF-8 sequences */
	if (c->run_len + n > HTML_RUN)
		run_flush(c);
	if (n == 1)
		c->run[c->run_len++] = (char)ch;
	else {
		memcpy(c->run + c->run_len, b, n);
		c->run_len += n;
	}
	c->any = true;
	c->trail_nl = 0;
}

/* Text of the document (between tags), its entities decoded unless it is an attribute
 * value that already was. */
static void text_span(struct conv *c, const uint8_t *p, size_t n, bool decode)
{
	for (size_t i = 0; i < n && c->err == FG_OK;) {
		uint32_t cp;
		size_t el;
		if (decode && p[i] == '&' && (el = entity_decode(p + i, n - i, &cp)) != 0) {
			uint8_t u[4];
			text_char(c, u, utf8_put(cp, u));
			i += el;
			continue;
		}
		size_t len = 1;
		if (p[i] >= 0xc0)
			len = p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2; /* valid UTF-8: checked */
		text_char(c, p + i, len);
		i += len;
	}
}

/* A block boundary: the text after it starts n lines further down. */
static void boundary(struct conv *c, unsigned n, bool br)
{
	c->pending_space = false;
	if (n > c->nl_want)
		c->nl_want = n;
	if (br)
		c->br_want = true;
}

/* ---- attributes ---- */

struct attrs {
	struct fg_buf *scratch;
	/* raw values (entities not decoded), p == NULL when absent */
	const uint8_t *v[9];
	size_t n[9];
};
enum { A_STYLE, A_HREF, A_SRC, A_ALT, A_WIDTH, A_HEIGHT, A_COLOR, A_SIZE, A_FACE };
static const char *const attr_names[9] = {"style",  "href",  "src",  "alt", "width",
                                          "height", "color", "size", "face"};

/* An attribute value with its entities decoded; control characters become spaces. */
static const char *attr_value(struct conv *c, const uint8_t *p, size_t n, size_t *len)
{
	fg_buf_reset(&c->scratch);
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t el = 0;
		uint8_t u[4];
		size_t ul;
		if (p[i] == '&' && (el = entity_decode(p + i, n - i, &cp)) != 0) {
			ul = utf8_put(cp, u);
			i += el;
		} else {
			u[0] = p[i] < 0x20 ? ' ' : p[i];
			ul = 1;
			i++;
		}
		if (ul == 1 && u[0] < 0x20)
			u[0] = ' ';
		if (fg_buf_append(&c->scratch, u, ul) != FG_OK) {
			fail(c, FG_ERR_NOMEM, "out of memory");
			*len = 0;
			return "";
		}
	}
	*len = c->scratch.len;
	return c->scratch.len ? (const char *)c->scratch.data : "";
}

/* XEP-0071 security considerations: only these URI schemes in href and src; no
 * javascript:, data:, vbscript: or relative references. White space around is trimmed (as
 * browsers do), any inside refuses the URI (a browser drops tabs and newlines:
 * "java\tscript:"). */
static bool uri_safe(const char *s, size_t *off, size_t *len)
{
	static const char *const schemes[] = {"http:", "https:", "mailto:", "xmpp:", "sip:"};
	size_t b = 0, e = *len;
	while (b < e &&
	       (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' || s[b] == '\r' || s[b] == '\f'))
		b++;
	while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' ||
	                 s[e - 1] == '\r' || s[e - 1] == '\f'))
		e--;
	if (e - b > XLATE_HTML_MAX_URL)
		return false;
	for (size_t i = b; i < e; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return false;
	for (size_t k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++) {
		size_t sl = strlen(schemes[k]);
		if (e - b > sl && strncasecmp(s + b, schemes[k], sl) == 0) {
			*off = b;
			*len = e - b;
			return true;
		}
	}
	return false;
}

/* XEP-0071 recommended profile: the CSS properties of the recommended profile. */
static bool css_prop_ok(const char *p, size_t n)
{
	static const char *const props[] = {
	    "background-color", "color",       "font-family",  "font-size",  "font-style",
	    "font-weight",      "margin-left", "margin-right", "text-align", "text-decoration"};
	for (size_t k = 0; k < sizeof(props) / sizeof(props[0]); k++)
		if (strlen(props[k]) == n && strncasecmp(p, props[k], n) == 0)
			return true;
	return false;
}

/* A CSS value: words, numbers, units, colours and rgb()/hsl() only. No url(), no
 * expression(), no escapes, no comments, no '!', no ';' (XEP-0071 security
 * considerations: style must not fetch or run anything). Quotes must pair (font names). */
static bool css_value_ok(const char *v, size_t n)
{
	unsigned sq = 0, dq = 0;
	if (n == 0 || n > HTML_MAX_STYLE_V)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (is_alpha(ch) || is_digit(ch) || ch == ' ' || ch == '#' || ch == '%' ||
		    ch == '.' || ch == ',' || ch == '-' || ch == '+' || ch == ')')
			continue;
		if (ch == '\'') {
			sq++;
			continue;
		}
		if (ch == '"') {
			dq++;
			continue;
		}
		if (ch == '(') {
			size_t w = i;
			while (w > 0 && is_alpha((uint8_t)v[w - 1]))
				w--;
			size_t wl = i - w;
			if ((wl == 3 && (strncasecmp(v + w, "rgb", 3) == 0 ||
			                 strncasecmp(v + w, "hsl", 3) == 0)) ||
			    (wl == 4 && (strncasecmp(v + w, "rgba", 4) == 0 ||
			                 strncasecmp(v + w, "hsla", 4) == 0)))
				continue;
		}
		return false;
	}
	return sq % 2 == 0 && dq % 2 == 0;
}

static void style_add(struct conv *c, const char *prop, size_t pl, const char *val, size_t vl)
{
	if (c->style.len + pl + vl + 4 > HTML_MAX_STYLE)
		return; /* more declarations than IM styling needs: the rest is dropped */
	enum fg_err e = FG_OK;
	if (c->style.len)
		e = fg_buf_append(&c->style, "; ", 2);
	if (!e)
		e = fg_buf_append(&c->style, prop, pl);
	if (!e)
		e = fg_buf_append(&c->style, ": ", 2);
	if (!e)
		e = fg_buf_append(&c->style, val, vl);
	if (e)
		fail(c, e, "out of memory");
}

static void css_trim(const char **p, const char **e)
{
	while (*p < *e && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r' || **p == '\f'))
		(*p)++;
	while (*e > *p && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\n' ||
	                   (*e)[-1] == '\r' || (*e)[-1] == '\f'))
		(*e)--;
}

/* The declarations of a style attribute that the profile allows, each one on its own:
 * a refused declaration drops only itself. */
static void style_filter(struct conv *c, const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	while (p < end) {
		const char *de = memchr(p, ';', (size_t)(end - p));
		if (de == NULL)
			de = end;
		const char *colon = memchr(p, ':', (size_t)(de - p));
		if (colon != NULL) {
			const char *pb = p, *pe = colon, *vb = colon + 1, *ve = de;
			css_trim(&pb, &pe);
			css_trim(&vb, &ve);
			char lower[HTML_MAX_NAME + 1];
			size_t pl = (size_t)(pe - pb);
			if (pl > 0 && pl <= HTML_MAX_NAME && css_prop_ok(pb, pl) &&
			    css_value_ok(vb, (size_t)(ve - vb))) {
				for (size_t i = 0; i < pl; i++)
					lower[i] = (char)(pb[i] | 0x20);
				style_add(c, lower, pl, vb, (size_t)(ve - vb));
			}
		}
		p = de + 1;
	}
}

/* <font color size face> (HTML 3.2) as CSS. */
static void font_style(struct conv *c, const struct attrs *a)
{
	size_t n;
	const char *v;
	if (a->v[A_COLOR] != NULL) {
		v = attr_value(c, a->v[A_COLOR], a->n[A_COLOR], &n);
		bool ok = n > 0 && n <= 32;
		for (size_t i = 0; ok && i < n; i++)
			ok = is_alpha((uint8_t)v[i]) || is_digit((uint8_t)v[i]) || v[i] == '#';
		if (ok)
			style_add(c, "color", 5, v, n);
	}
	if (a->v[A_SIZE] != NULL) {
		/* HTML 4.01 §15.2.2: 1-7, or relative to the default 3 */
		static const char *const sizes[] = {"x-small", "small",    "medium",  "large",
		                                    "x-large", "xx-large", "xx-large"};
		v = attr_value(c, a->v[A_SIZE], a->n[A_SIZE], &n);
		if (n == 1 && v[0] >= '1' && v[0] <= '7')
			style_add(c, "font-size", 9, sizes[v[0] - '1'], strlen(sizes[v[0] - '1']));
		else if (n == 2 && (v[0] == '+' || v[0] == '-') && v[1] >= '1' && v[1] <= '6') {
			int s = 3 + (v[0] == '+' ? 1 : -1) * (v[1] - '0');
			s = s < 1 ? 1 : s > 7 ? 7 : s;
			style_add(c, "font-size", 9, sizes[s - 1], strlen(sizes[s - 1]));
		}
	}
	if (a->v[A_FACE] != NULL) {
		v = attr_value(c, a->v[A_FACE], a->n[A_FACE], &n);
		if (css_value_ok(v, n))
			style_add(c, "font-family", 11, v, n);
	}
}

/* width/height of an image: a number of pixels or a percentage. */
static bool dimension_ok(const char *v, size_t n)
{
	if (n == 0 || n > 6)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_digit((uint8_t)v[i]) && !(v[i] == '%' && i == n - 1 && i > 0))
			return false;
	return true;
}

static void x_attr(struct conv *c, const char *name, const char *v, size_t n)
{
	x_put(c, " ", 1);
	x_put(c, name, strlen(name));
	X_LIT(c, "='");
	x_esc(c, v, n, true);
	X_LIT(c, "'");
}

/* ---- elements ---- */

static void close_top(struct conv *c)
{
	struct open_el *o = &c->stack[--c->depth];
	run_flush(c);
	X_LIT(c, "</");
	x_put(c, out_names[o->out], strlen(out_names[o->out]));
	X_LIT(c, ">");
	if (!out_inline((enum out_el)o->out))
		c->x_block_edge = true;
	if (o->out == O_A) {
		/* the plain text keeps the link's address when its text is something else */
		const char *href = (const char *)c->hrefs.data + o->href_off;
		size_t tl = c->text->len - o->link_text;
		const char *t = tl ? (const char *)c->text->data + o->link_text : "";
		while (tl > 0 && (*t == ' ' || *t == '\n')) {
			t++;
			tl--;
		}
		size_t colon = (size_t)((const char *)memchr(href, ':', o->href_len) - href);
		bool same = (tl == o->href_len && memcmp(t, href, tl) == 0) ||
		            (tl == o->href_len - colon - 1 && memcmp(t, href + colon + 1, tl) == 0);
		if (tl > 0 && !same && !c->err) {
			t_put(c, " <", 2);
			t_put(c, href, o->href_len);
			t_put(c, ">", 1);
			c->trail_nl = 0;
		}
		c->hrefs.len = o->href_off;
	}
	if (o->tag->flags & F_PRE)
		c->pre--;
}

static bool stack_has(const struct conv *c, enum out_el o)
{
	for (size_t i = c->depth; i-- > 0;)
		if (c->stack[i].out == o)
			return true;
	return false;
}

/* Before a block element opens: inline elements and a paragraph cannot hold it (XHTML 1.0
 * content model), so they close, as an HTML parser closes an open <p>. */
static void close_for_block(struct conv *c)
{
	while (c->depth > 0 && (out_inline((enum out_el)c->stack[c->depth - 1].out) ||
	                        c->stack[c->depth - 1].out == O_P))
		close_top(c);
}

/* The collapsed space before inline content that is not text (an image, a link). */
static void space_flush(struct conv *c)
{
	if (c->pending_space && c->nl_want == 0) {
		if (c->any && c->trail_nl == 0)
			c->run[c->run_len++] = ' ';
		c->pending_space = false;
		run_flush(c);
	}
}

/* <img>: kept with a src we may show; its alt text is its plain-text equivalent, in <body/>
 * always and in the XHTML-IM only when the image is not there to show it. */
static void img(struct conv *c, const struct attrs *a)
{
	size_t n = 0, off = 0;
	const char *v;
	bool shown = false;
	if (a->v[A_SRC] != NULL) {
		v = attr_value(c, a->v[A_SRC], a->n[A_SRC], &n);
		shown = uri_safe(v, &off, &n);
	}
	if (shown) {
		newlines_flush(c);
		space_flush(c);
		run_flush(c);
		X_LIT(c, "<img");
		if (a->v[A_ALT] != NULL) {
			v = attr_value(c, a->v[A_ALT], a->n[A_ALT], &n);
			x_attr(c, "alt", v, n);
		}
		v = attr_value(c, a->v[A_SRC], a->n[A_SRC], &n);
		(void)uri_safe(v, &off, &n);
		x_attr(c, "src", v + off, n);
		for (int k = A_WIDTH; k <= A_HEIGHT; k++) {
			if (a->v[k] == NULL)
				continue;
			v = attr_value(c, a->v[k], a->n[k], &n);
			if (dimension_ok(v, n))
				x_attr(c, attr_names[k], v, n);
		}
		X_LIT(c, "/>");
		c->x_block_edge = false;
	}
	if (a->v[A_ALT] == NULL)
		return;
	v = attr_value(c, a->v[A_ALT], a->n[A_ALT], &n);
	bool xoff = c->xoff;
	c->xoff = xoff || shown;
	text_span(c, (const uint8_t *)v, n, false);
	run_flush(c);
	c->xoff = xoff;
}

static void start_tag(struct conv *c, const struct tag_map *t, const struct attrs *a)
{
	enum out_el o = (enum out_el)t->out;
	size_t n = 0, off = 0;
	const char *v;
	if (t->nl)
		boundary(c, t->nl, o == O_NONE);
	if (t->flags & F_SEP)
		c->pending_space = true;
	if (o == O_NONE || c->err)
		return;
	run_flush(c);
	if (o == O_BR) {
		line_break(c);
		return;
	}
	if (o == O_IMG) {
		img(c, a);
		return;
	}
	if (c->depth >= XLATE_HTML_MAX_DEPTH)
		return; /* nested too deep: the element goes, its text stays */
	if (o == O_A) {
		if (a->v[A_HREF] == NULL)
			return;
		v = attr_value(c, a->v[A_HREF], a->n[A_HREF], &n);
		if (!uri_safe(v, &off, &n))
			return; /* no link we may keep: its text stays */
		/* HTML 5 §13.2.6.4.7: an <a> start tag closes an open <a> */
		while (stack_has(c, O_A))
			close_top(c);
	} else if (o == O_LI) {
		if (!stack_has(c, O_UL) && !stack_has(c, O_OL))
			return; /* no list to hold it: a line of text */
		while (c->stack[c->depth - 1].out != O_UL && c->stack[c->depth - 1].out != O_OL)
			close_top(c);
	} else if (!out_inline(o)) {
		close_for_block(c);
	}
	struct open_el *e = &c->stack[c->depth];
	*e = (struct open_el){.tag = t, .out = (uint8_t)o};
	if (o == O_A) {
		e->link_text = c->text->len;
		e->href_off = c->hrefs.len;
		e->href_len = n;
		if (fg_buf_append(&c->hrefs, v + off, n) != FG_OK) {
			fail(c, FG_ERR_NOMEM, "out of memory");
			return;
		}
	}
	c->depth++;
	if (t->flags & F_PRE)
		c->pre++;
	if (out_inline(o))
		space_flush(c); /* "a <b>b</b>", not "a<b> b</b>" */
	X_LIT(c, "<");
	x_put(c, out_names[o], strlen(out_names[o]));
	if (!out_inline(o))
		c->x_block_edge = true;
	if (o == O_A) {
		const char *href = (const char *)c->hrefs.data + e->href_off;
		x_attr(c, "href", href, e->href_len);
	}
	if (out_styled(o)) {
		fg_buf_reset(&c->style);
		if (t->style != NULL &&
		    fg_buf_append(&c->style, t->style, strlen(t->style)) != FG_OK)
			fail(c, FG_ERR_NOMEM, "out of memory");
		if (t->flags & F_FONT)
			font_style(c, a);
		if (a->v[A_STYLE] != NULL) {
			v = attr_value(c, a->v[A_STYLE], a->n[A_STYLE], &n);
			style_filter(c, v, n);
		}
		if (c->style.len)
			x_attr(c, "style", (const char *)c->style.data, c->style.len);
	}
	X_LIT(c, ">");
}

static void end_tag(struct conv *c, const struct tag_map *t)
{
	if (t->flags & F_VOID)
		return; /* "</br>", "</img>": nothing was opened */
	if (t->nl)
		boundary(c, t->nl, t->out == O_NONE);
	if (t->flags & F_SEP)
		c->pending_space = true;
	for (size_t i = c->depth; i-- > 0;) {
		if (c->stack[i].tag == t) {
			while (c->depth > i)
				close_top(c);
			return;
		}
	}
	/* a stray end tag: nothing to close */
}

/* ---- the tokenizer (HTML 5 §13.2.5, reduced: what a forgiving reader needs) ---- */

static bool is_space(uint8_t b)
{
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f';
}

/* A tag or attribute name, lower-cased into name (empty when too long to be one we map). */
static size_t read_name(const uint8_t *p, size_t i, size_t n, char name[HTML_MAX_NAME + 1])
{
	size_t k = 0;
	bool too_long = false;
	while (i < n && !is_space(p[i]) && p[i] != '/' && p[i] != '>' && p[i] != '=') {
		if (k < HTML_MAX_NAME)
			name[k++] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] | 0x20 : p[i]);
		else
			too_long = true;
		i++;
	}
	name[too_long ? 0 : k] = '\0';
	return i;
}

#define TAG_UNCLOSED SIZE_MAX
/* Attributes up to the tag's '>': returns the index after it, or TAG_UNCLOSED when the tag
 * never ends (HTML 5: EOF in a tag drops the tag). */
static size_t read_attrs(const uint8_t *p, size_t i, size_t n, struct attrs *a)
{
	while (i < n) {
		while (i < n && (is_space(p[i]) || p[i] == '/'))
			i++;
		if (i >= n)
			return TAG_UNCLOSED;
		if (p[i] == '>')
			return i + 1;
		char name[HTML_MAX_NAME + 1];
		size_t ni = i;
		i = read_name(p, i, n, name);
		if (i == ni)
			i++; /* a lone '=': skip it */
		while (i < n && is_space(p[i]))
			i++;
		const uint8_t *v = NULL;
		size_t vl = 0;
		if (i < n && p[i] == '=') {
			i++;
			while (i < n && is_space(p[i]))
				i++;
			if (i < n && (p[i] == '"' || p[i] == '\'')) {
				const uint8_t *q = memchr(p + i + 1, p[i], n - i - 1);
				if (q == NULL)
					return TAG_UNCLOSED;
				v = p + i + 1;
				vl = (size_t)(q - v);
				i = (size_t)(q - p) + 1;
			} else {
				size_t s = i;
				while (i < n && !is_space(p[i]) && p[i] != '>')
					i++;
				v = p + s;
				vl = i - s;
			}
		} else {
			v = p + i; /* a name alone: an empty value */
		}
		for (int k = 0; k < 9; k++) {
			if (a->v[k] == NULL && strcmp(name, attr_names[k]) == 0) {
				a->v[k] = v; /* HTML 5: the first of a repeated attribute wins */
				a->n[k] = vl;
			}
		}
	}
	return TAG_UNCLOSED;
}

static size_t find_byte(const uint8_t *p, size_t i, size_t n, uint8_t b)
{
	const uint8_t *q = i < n ? memchr(p + i, b, n - i) : NULL;
	return q ? (size_t)(q - p) : n;
}

/* The end of a raw-text element's content: the next "</name" (any case) followed by white
 * space, '/' or '>'. */
static size_t raw_end(const uint8_t *p, size_t i, size_t n, const char *name)
{
	size_t nl = strlen(name);
	while ((i = find_byte(p, i, n, '<')) < n) {
		if (i + 2 + nl <= n && p[i + 1] == '/' &&
		    strncasecmp((const char *)p + i + 2, name, nl) == 0 &&
		    (i + 2 + nl == n || is_space(p[i + 2 + nl]) || p[i + 2 + nl] == '/' ||
		     p[i + 2 + nl] == '>'))
			return i;
		i++;
	}
	return n;
}

static void convert(struct conv *c, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && c->err == FG_OK) {
		size_t lt = find_byte(p, i, n, '<');
		if (!c->in_head)
			text_span(c, p + i, lt - i, true);
		i = lt;
		if (i >= n || c->err)
			break;
		uint8_t nx = i + 1 < n ? p[i + 1] : 0;
		if (nx == '!') {
			/* a comment, or a DOCTYPE / CDATA / bogus comment up to '>' */
			if (i + 4 <= n && memcmp(p + i, "<!--", 4) == 0) {
				size_t k = i + 4;
				if (k < n && p[k] == '>')
					i = k + 1; /* "<!-->" */
				else if (k + 1 < n && p[k] == '-' && p[k + 1] == '>')
					i = k + 2; /* "<!--->" */
				else {
					/* EOF in a comment ends it */
					while ((k = find_byte(p, k, n, '>')) < n &&
					       !(p[k - 1] == '-' && p[k - 2] == '-'))
						k++;
					i = k < n ? k + 1 : n;
				}
			} else {
				i = find_byte(p, i, n, '>') + 1;
			}
			continue;
		}
		if (nx == '?') {
			i = find_byte(p, i, n, '>') + 1;
			continue;
		}
		if (nx == '/') {
			if (i + 2 < n && is_alpha(p[i + 2])) {
				char name[HTML_MAX_NAME + 1];
				size_t k = read_name(p, i + 2, n, name);
				struct attrs ignored = {0};
				i = read_attrs(p, k, n, &ignored);
				if (i == TAG_UNCLOSED)
					break; /* EOF inside a tag: the tag is dropped */
				const struct tag_map *t = tag_find(name);
				if (t != NULL)
					end_tag(c, t);
				else if (strcmp(name, "head") == 0)
					c->in_head = false;
			} else {
				i = find_byte(p, i, n, '>') + 1; /* "</>" or a bogus comment */
			}
			continue;
		}
		if (!is_alpha(nx)) {
			uint8_t b = '<';
			if (!c->in_head)
				text_char(c, &b, 1); /* HTML 5: '<' not starting a tag is text */
			i++;
			continue;
		}
		char name[HTML_MAX_NAME + 1];
		struct attrs a = {0};
		size_t k = read_name(p, i + 1, n, name);
		i = read_attrs(p, k, n, &a);
		if (i == TAG_UNCLOSED)
			break; /* EOF inside a tag: the tag is dropped */
		const struct tag_map *t = tag_find(name);
		if (t == NULL) {
			/* unknown, or void with no end tag to wait for (meta, link); <body> ends
			 * the <head> */
			if (strcmp(name, "head") == 0 || strcmp(name, "body") == 0)
				c->in_head = name[0] == 'h';
			continue;
		}
		if (t->flags & F_RAW) {
			i = raw_end(p, i, n, t->name); /* script, style...: never shown */
			continue;
		}
		c->in_head = false; /* HTML 5 §13.2.6.4.4: content ends the head */
		start_tag(c, t, &a);
	}
}

enum fg_err xlate_html_convert(const uint8_t *html, size_t len, struct fg_buf *text,
                               struct fg_buf *xhtml, const char **why)
{
	struct conv c = {.text = text, .x = xhtml, .tstart = text->len, .xstart = xhtml->len};
	if (len > XLATE_MAX_BODY) {
		if (why)
			*why = "message body too large";
		return FG_ERR_TOOBIG;
	}
	/* the same refusal as text/plain (RFC 7572 §5: the body is text) */
	if (!xlate__utf8_valid(html, len) || memchr(html, '\0', len)) {
		if (why)
			*why = "text/html is not valid UTF-8 text";
		return FG_ERR_PARSE;
	}
	X_LIT(&c,
	      "<html xmlns='" XLATE_XHTML_IM_NS "'><body xmlns='http://www.w3.org/1999/xhtml'>");
	convert(&c, html, len);
	while (c.depth > 0 && c.err == FG_OK)
		close_top(&c); /* unclosed elements close at the end */
	run_flush(&c);
	X_LIT(&c, "</body></html>");
	/* trailing line breaks (<br> at the end) are not text */
	while (text->len > c.tstart &&
	       (text->data[text->len - 1] == '\n' || text->data[text->len - 1] == ' '))
		text->len--;
	if (c.err == FG_OK && text->len == c.tstart)
		fail(&c, FG_ERR_PARSE, "text/html has no text");
	fg_buf_free(&c.scratch);
	fg_buf_free(&c.style);
	fg_buf_free(&c.hrefs);
	if (c.err != FG_OK) {
		text->len = c.tstart;
		xhtml->len = c.xstart;
		if (why)
			*why = c.why;
		return c.err;
	}
	return FG_OK;
}
