/* Address lists: which peers a setting trusts, as IP addresses and prefixes. */
#include "base/base.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

struct prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned bits;
};

static const char *const item_seps = ", \t\r\n";

/* One item ("192.0.2.7", "10.0.0.0/8", "2001:db8::/32"): false with *why. */
static bool prefix_parse(const char *item, size_t len, struct prefix *p, const char **why)
{
	char text[INET6_ADDRSTRLEN + 8];
	if (len >= sizeof(text)) {
		*why = "is too long for an address";
		return false;
	}
	memcpy(text, item, len);
	text[len] = '\0';
	char *slash = strchr(text, '/');
	if (slash != NULL)
		*slash = '\0';
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, text, p->addr) == 1) {
		p->family = AF_INET;
		p->bits = 32;
	} else if (inet_pton(AF_INET6, text, p->addr) == 1) {
		p->family = AF_INET6;
		p->bits = 128;
	} else {
		*why = "is not an IPv4 or IPv6 address";
		return false;
	}
	if (slash != NULL) {
		uint64_t bits;
		if (!fg_parse_u64(slash + 1, 0, p->bits, &bits)) {
			*why = p->family == AF_INET ? "has a prefix length that is not 0 to 32"
			                            : "has a prefix length that is not 0 to 128";
			return false;
		}
		p->bits = (unsigned)bits;
	}
	for (unsigned i = p->bits; i < (p->family == AF_INET ? 32u : 128u); i++) {
		if (p->addr[i / 8] & (0x80u >> (i % 8))) {
			*why = "has address bits set past its prefix length (write the network's "
			       "first address, as in 10.0.0.0/8)";
			return false;
		}
	}
	return true;
}

static bool prefix_contains(const struct prefix *p, int family, const uint8_t *addr)
{
	if (p->family != family)
		return false;
	unsigned whole = p->bits / 8, rest = p->bits % 8;
	if (memcmp(p->addr, addr, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (p->addr[whole] & mask) == (addr[whole] & mask);
}

/* Walks the items of a list: the next one's start and length, or false at the end. */
static bool next_item(const char **s, const char **item, size_t *len)
{
	*s += strspn(*s, item_seps);
	if (**s == '\0')
		return false;
	*item = *s;
	*len = strcspn(*s, item_seps);
	*s += *len;
	return true;
}

bool fg_addr_list_norm(const char *in, char *out, size_t outsize, char *bad, size_t badsize,
                       const char **why)
{
	size_t used = 0, n = 0;
	const char *item;
	size_t len;
	out[0] = '\0';
	bad[0] = '\0';
	while (next_item(&in, &item, &len)) {
		struct prefix p;
		snprintf(bad, badsize, "%.*s", (int)len, item);
		if (!prefix_parse(item, len, &p, why))
			return false;
		if (++n > FG_ADDR_LIST_MAX) {
			*why = "is one item too many (at most " FG_ADDR_LIST_MAX_TEXT ")";
			return false;
		}
		char text[INET6_ADDRSTRLEN];
		inet_ntop(p.family, p.addr, text, sizeof(text));
		int w = (p.bits == (p.family == AF_INET ? 32u : 128u))
		            ? snprintf(out + used, outsize - used, "%s%s", used ? ", " : "", text)
		            : snprintf(out + used, outsize - used, "%s%s/%u", used ? ", " : "",
		                       text, p.bits);
		if (w < 0 || (size_t)w >= outsize - used) {
			*why = "does not fit: the list is too long";
			out[used] = '\0';
			return false;
		}
		used += (size_t)w;
	}
	bad[0] = '\0';
	return true;
}

bool fg_addr_list_match(const char *list, const char *ip)
{
	uint8_t addr[16];
	int family;
	if (inet_pton(AF_INET, ip, addr) == 1) {
		family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, addr) == 1) {
		family = AF_INET6;
		static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
			memmove(addr, addr + 12, 4); /* RFC 4291 §2.5.5.2: the IPv4 peer it is */
			family = AF_INET;
		}
	} else {
		return false;
	}
	const char *item;
	size_t len;
	while (next_item(&list, &item, &len)) {
		struct prefix p;
		const char *why;
		if (prefix_parse(item, len, &p, &why) && prefix_contains(&p, family, addr))
			return true;
	}
	return false;
}
