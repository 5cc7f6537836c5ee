/*  anchord - daemon/dnr.c: DNR options (RFC 9463) for this resolver.
 *
 *  DHCP and router advertisements can name an encrypted resolver: its
 *  authentication domain name (ADN), addresses and SVCB parameters.
 *  anchorctl dnr prints these bytes for DHCP servers to send. The layouts,
 *  all integers in network byte order:
 *
 *  DHCPv4 OPTION_V4_DNR (162), RFC 9463 5.1: code(1) len(1), then for
 *  every instance
 *      DNR-Instance-Data-Length(2)   octets of the instance after this field
 *      Service Priority(2)
 *      ADN Length(1) | ADN           uncompressed DNS wire format
 *      Addr Length(1) | IPv4 addresses, 4 octets each
 *      SvcParams                     the rest of the instance
 *  Options longer than 255 octets are split as RFC 3396 says; that is the
 *  DHCP server's job, so dnr_dhcpv4() returns the option data only.
 *
 *  DHCPv6 OPTION_V6_DNR (144), RFC 9463 4.1: one option per instance,
 *      option-code(2) option-len(2)
 *      Service Priority(2)
 *      ADN Length(2) | ADN
 *      Addr Length(2) | IPv6 addresses, 16 octets each
 *      SvcParams                     the rest of the option
 *  dnr_dhcpv6() returns the data after option-len.
 *
 *  IPv6 RA DNR option (type 144), RFC 9463 6.1: one option per instance,
 *      Type(1) Length(1)             Length in units of 8 octets, all of it
 *      Service Priority(2)
 *      Lifetime(4)                   seconds
 *      ADN Length(2) | ADN
 *      Addr Length(2) | IPv6 addresses
 *      SvcParams Length(2) | SvcParams
 *      Padding                       zeros up to a multiple of 8 octets
 *  dnr_ra() returns the whole option.
 *
 *  SvcParams are SVCB's wire format (RFC 9460 2.2): key(2) length(2)
 *  value, keys in increasing order: alpn (1, length-prefixed ids), port
 *  (3), dohpath (7, RFC 9461). RFC 9463 3.1.5 forbids the address hints
 *  there: the addresses have their own field.
 */
#include "daemon/daemon.h"

#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define SVC_KEY_ALPN 1
#define SVC_KEY_PORT 3
#define SVC_KEY_DOHPATH 7
#define DNR_RA_TYPE 144

/* A bounded writer: a write past cap sets overflow and writes nothing. */
struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static void put(struct wbuf *w, const void *data, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void put8(struct wbuf *w, unsigned v)
{
	uint8_t b = (uint8_t)v;
	put(w, &b, 1);
}

static void put16(struct wbuf *w, unsigned v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(w, b, 2);
}

static void put32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 8), (uint8_t)v };
	put(w, b, 4);
}

/* Write a length field of width octets at offset, once its value is
 * known; a value too large for the field is an overflow. */
static void patch_len(struct wbuf *w, size_t offset, size_t width,
		      size_t value)
{
	if (w->overflow || value >= (size_t)1 << (8 * width)) {
		w->overflow = true;
		return;
	}
	for (size_t i = 0; i < width; i++)
		w->p[offset + i] = (uint8_t)(value >> (8 * (width - 1 - i)));
}

static int finish(const struct wbuf *w)
{
	return w->overflow || w->len > INT_MAX ? -1 : (int)w->len;
}

/* ------------------------------------------------------------------ fields */

static const uint8_t *addr_bytes(const struct util_addr *a, size_t *len)
{
	if (a->ss.ss_family == AF_INET) {
		*len = 4;
		return (const uint8_t *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
	}
	*len = 16;
	return (const uint8_t *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
}

static size_t count_family(const struct dnr_instance *d, int family)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n_addrs; i++)
		n += d->addrs[i].ss.ss_family == family;
	return n;
}

/* Addr Length (width octets), then the addresses of one family. */
static void put_addrs(struct wbuf *w, const struct dnr_instance *d,
		      int family, size_t width)
{
	size_t at = w->len;
	for (size_t i = 0; i < width; i++)
		put8(w, 0);
	for (size_t i = 0; i < d->n_addrs; i++) {
		if (d->addrs[i].ss.ss_family != family)
			continue;
		size_t len;
		const uint8_t *b = addr_bytes(&d->addrs[i], &len);
		put(w, b, len);
	}
	patch_len(w, at, width, w->len - at - width);
}

/* ADN Length (width octets), then the name in uncompressed wire format. */
static void put_adn(struct wbuf *w, const char *adn, size_t width)
{
	uint8_t wire[DNS_MAX_NAME];
	int len = dns_name_from_str(adn, wire);
	if (len <= 1) {			/* not a name, or the root */
		w->overflow = true;
		return;
	}
	(width == 1 ? put8 : put16)(w, (unsigned)len);
	put(w, wire, (size_t)len);
}

/* alpn's value: each comma-separated id with a one-octet length. */
static void put_alpn_ids(struct wbuf *w, const char *list)
{
	for (;;) {
		size_t n = strcspn(list, ",");
		if (n == 0 || n > 255) {	/* alpn is mandatory in DNR */
			w->overflow = true;
			return;
		}
		put8(w, (unsigned)n);
		put(w, list, n);
		if (!list[n])
			return;
		list += n + 1;
	}
}

static void put_svc_param(struct wbuf *w, unsigned key, const void *value,
			  size_t len)
{
	put16(w, key);
	put16(w, (unsigned)len);
	put(w, value, len);
	if (len > 0xffff)
		w->overflow = true;
}

static void put_svcparams(struct wbuf *w, const struct dnr_instance *d)
{
	uint8_t alpn[512];
	struct wbuf a = { .p = alpn, .cap = sizeof(alpn) };
	put_alpn_ids(&a, d->alpn);
	w->overflow |= a.overflow;
	put_svc_param(w, SVC_KEY_ALPN, alpn, a.len);
	if (d->port) {
		uint8_t port[2] = { (uint8_t)(d->port >> 8), (uint8_t)d->port };
		put_svc_param(w, SVC_KEY_PORT, port, 2);
	}
	if (d->dohpath)
		put_svc_param(w, SVC_KEY_DOHPATH, d->dohpath,
			      strlen(d->dohpath));
}

/* ------------------------------------------------------------------ options */

int dnr_svcparams(const struct dnr_instance *d, uint8_t *out, size_t cap)
{
	struct wbuf w = { .p = out, .cap = cap };
	put_svcparams(&w, d);
	return finish(&w);
}

int dnr_dhcpv4(const struct dnr_instance *d, size_t n, uint8_t *out,
	       size_t cap)
{
	struct wbuf w = { .p = out, .cap = cap };
	for (size_t i = 0; i < n; i++) {
		if (count_family(&d[i], AF_INET) == 0)
			continue;
		size_t at = w.len;
		put16(&w, 0);		/* DNR-Instance-Data-Length */
		put16(&w, d[i].priority);
		put_adn(&w, d[i].adn, 1);
		put_addrs(&w, &d[i], AF_INET, 1);
		put_svcparams(&w, &d[i]);
		patch_len(&w, at, 2, w.len - at - 2);
	}
	return finish(&w);
}

int dnr_dhcpv6(const struct dnr_instance *d, uint8_t *out, size_t cap)
{
	struct wbuf w = { .p = out, .cap = cap };
	if (count_family(d, AF_INET6) == 0)
		return 0;
	put16(&w, d->priority);
	put_adn(&w, d->adn, 2);
	put_addrs(&w, d, AF_INET6, 2);
	put_svcparams(&w, d);
	return finish(&w);
}

int dnr_ra(const struct dnr_instance *d, uint32_t lifetime, uint8_t *out,
	   size_t cap)
{
	struct wbuf w = { .p = out, .cap = cap };
	if (count_family(d, AF_INET6) == 0)
		return 0;
	put8(&w, DNR_RA_TYPE);
	put8(&w, 0);			/* Length, once known */
	put16(&w, d->priority);
	put32(&w, lifetime);
	put_adn(&w, d->adn, 2);
	put_addrs(&w, d, AF_INET6, 2);
	size_t at = w.len;
	put16(&w, 0);			/* SvcParams Length */
	put_svcparams(&w, d);
	patch_len(&w, at, 2, w.len - at - 2);
	while (!w.overflow && w.len % 8)
		put8(&w, 0);
	patch_len(&w, 1, 1, w.len / 8);
	return finish(&w);
}

/* ------------------------------------------------------------------ this resolver */

static bool seen_before(const struct dnr_instance *d, size_t n,
			const char *alpn, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (d[i].port == port && strcmp(d[i].alpn, alpn) == 0)
			return true;
	return false;
}

size_t dnr_instances(const struct anchord_config *c, struct dnr_instance *out,
		     size_t max, char *dohpath, size_t dohpath_size)
{
	size_t n = 0;
	snprintf(dohpath, dohpath_size, "%s{?dns}", c->doh_path);
	for (size_t i = 0; i < c->n_listen && n < max; i++) {
		const struct listen_conf *l = &c->listen[i];
		if (!config_listen_is_tls(l->kind))
			continue;
		bool https = l->kind == LISTEN_HTTPS;
		const char *alpn = https ? "h2,http/1.1" : "dot";
		uint16_t port = util_addr_port((const struct sockaddr *)&l->addr.ss);
		if (seen_before(out, n, alpn, port))
			continue;
		out[n++] = (struct dnr_instance){
			.priority = https ? 1 : 2, .adn = c->name,
			.alpn = alpn, .port = port,
			.dohpath = https ? dohpath : NULL,
			.addrs = c->tls.addresses,
			.n_addrs = c->tls.n_addresses,
		};
	}
	return n;
}
