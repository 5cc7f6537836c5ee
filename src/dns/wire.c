/*  anchord - dns/wire.c: bounds-checked reading of DNS messages.
 *
 *  ldns parses into allocated objects and hides where a TTL sits in the
 *  packet; the cache needs exactly that (it patches TTLs in stored wire), and
 *  the query path must not allocate. So this file walks wire format itself,
 *  checking every length against the buffer: it is the entry point for
 *  untrusted bytes and has a fuzz target (tests/fuzz/fuzz_wire.c).
 */
#include "dns/dns.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* ------------------------------------------------------------------ names */

/* The target of a compression pointer at p, or -1. A pointer must point
 * strictly backwards: this alone rules out loops. */
static long pointer_target(const uint8_t *wire, size_t len, size_t p)
{
	if (p + 1 >= len)
		return -1;
	size_t target = (size_t)(wire[p] & 0x3F) << 8 | wire[p + 1];
	return target < p ? (long)target : -1;
}

int dns_name_skip(const uint8_t *wire, size_t len, size_t *pos)
{
	size_t p = *pos, total = 1;
	for (;;) {
		if (p >= len)
			return -1;
		uint8_t c = wire[p];
		if (c == 0) {
			*pos = p + 1;
			return 0;
		}
		if ((c & 0xC0) == 0xC0) {
			if (pointer_target(wire, len, p) < 0)
				return -1;
			*pos = p + 2;
			return 0;
		}
		if (c & 0xC0)
			return -1;	/* extended label types are obsolete */
		total += (size_t)c + 1;
		if (total > DNS_MAX_NAME || p + 1 + c > len)
			return -1;
		p += (size_t)c + 1;
	}
}

int dns_name_unpack(const uint8_t *wire, size_t len, size_t *pos,
		    uint8_t *out)
{
	size_t p = *pos, outlen = 0;
	size_t after = 0;	/* where the caller continues, once known */
	for (;;) {
		if (p >= len)
			return -1;
		uint8_t c = wire[p];
		if (c == 0) {
			out[outlen++] = 0;
			*pos = after ? after : p + 1;
			return (int)outlen;
		}
		if ((c & 0xC0) == 0xC0) {
			long target = pointer_target(wire, len, p);
			if (target < 0)
				return -1;
			if (!after)
				after = p + 2;
			p = (size_t)target;
			continue;
		}
		if (c & 0xC0)
			return -1;
		if (outlen + 1 + c + 1 > DNS_MAX_NAME || p + 1 + c > len)
			return -1;
		out[outlen++] = c;
		for (size_t i = 0; i < c; i++)
			out[outlen++] = lower(wire[p + 1 + i]);
		p += (size_t)c + 1;
	}
}

int dns_name_lower(const uint8_t *name, size_t max, uint8_t *out)
{
	size_t p = 0;
	for (;;) {
		if (p >= max || p >= DNS_MAX_NAME)
			return -1;
		uint8_t c = name[p];
		out[p] = c;
		if (c == 0)
			return (int)p + 1;
		if (c > 63 || p + 1 + c >= MIN(max, (size_t)DNS_MAX_NAME))
			return -1;
		for (size_t i = 1; i <= c; i++)
			out[p + i] = lower(name[p + i]);
		p += (size_t)c + 1;
	}
}

unsigned dns_name_labels(const uint8_t *name)
{
	unsigned n = 0;
	while (*name) {
		n++;
		name += *name + 1;
	}
	return n;
}

const char *dns_name_str(const uint8_t *name, char *buf, size_t size)
{
	size_t o = 0;
	if (size == 0)
		return buf;
	if (*name == 0 && size > 1)
		buf[o++] = '.';
	while (*name && o + 1 < size) {
		uint8_t c = *name++;
		for (uint8_t i = 0; i < c && o + 5 < size; i++, name++) {
			uint8_t ch = *name;
			if (ch == '.' || ch == '\\')
				o += (size_t)snprintf(buf + o, size - o, "\\%c", ch);
			else if (isgraph(ch))
				buf[o++] = (char)ch;
			else
				o += (size_t)snprintf(buf + o, size - o, "\\%03u", ch);
		}
		if (o + 1 < size)
			buf[o++] = '.';
	}
	buf[MIN(o, size - 1)] = '\0';
	return buf;
}

int dns_name_from_str(const char *text, uint8_t *out)
{
	size_t o = 0;
	const char *p = text;
	if (strcmp(text, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t lablen = dot ? (size_t)(dot - p) : strlen(p);
		if (lablen == 0 || lablen > 63 || o + 1 + lablen + 1 > DNS_MAX_NAME)
			return -1;
		out[o++] = (uint8_t)lablen;
		for (size_t i = 0; i < lablen; i++)
			out[o++] = lower((uint8_t)p[i]);
		p += lablen;
		if (*p == '.')
			p++;
	}
	out[o++] = 0;
	return (int)o;
}

/* ------------------------------------------------------------------ queries */

/* The question of a query must be one uncompressed name: nothing precedes
 * it that a pointer could legitimately reach. */
static int parse_question(const uint8_t *wire, size_t len,
			  struct dns_query *q)
{
	size_t p = DNS_HEADER_SIZE;
	int n = dns_name_lower(wire + p, len - p, q->qname);
	if (n < 0 || p + (size_t)n + 4 > len)
		return -1;
	p += (size_t)n;
	q->qname_len = (uint16_t)n;
	q->qtype = rd16(wire + p);
	q->qclass = rd16(wire + p + 2);
	q->question_end = (uint16_t)(p + 4);
	return 0;
}

static int parse_edns_options(const uint8_t *opt, size_t len,
			      struct dns_query *q)
{
	size_t p = 0;
	while (p < len) {
		if (p + 4 > len)
			return -1;
		uint16_t code = rd16(opt + p), olen = rd16(opt + p + 2);
		if (p + 4 + olen > len)
			return -1;
		if (code == DNS_OPT_PADDING)
			q->edns_padding = true;
		if (code == DNS_OPT_KEEPALIVE) {
			if (olen != 0)	/* RFC 7828: clients send it empty */
				return -1;
			q->edns_keepalive = true;
		}
		p += 4 + olen;
	}
	return 0;
}

static int parse_opt(const uint8_t *wire, size_t owner, size_t rr,
		     uint16_t rdlen, struct dns_query *q)
{
	if (q->edns || wire[owner] != 0 || rr != owner + 1)
		return -1;	/* a second OPT, or an owner that is not root */
	q->edns = true;
	uint16_t udp = rd16(wire + rr + 2);
	q->edns_udp = udp < 512 ? 512 : udp;
	uint32_t ttl = rd32(wire + rr + 4);
	q->edns_version = (uint8_t)(ttl >> 16);
	q->edns_do = (ttl & 0x8000) != 0;
	return parse_edns_options(wire + rr + 10, rdlen, q);
}

static int parse_additional(const uint8_t *wire, size_t len, uint16_t count,
			    struct dns_query *q)
{
	size_t p = q->question_end;
	for (unsigned i = 0; i < count; i++) {
		size_t owner = p;
		if (dns_name_skip(wire, len, &p) != 0 || p + 10 > len)
			return -1;
		uint16_t type = rd16(wire + p), rdlen = rd16(wire + p + 8);
		if (p + 10 + rdlen > len)
			return -1;
		if (type == DNS_TYPE_OPT && parse_opt(wire, owner, p, rdlen, q))
			return -1;
		p += 10 + (size_t)rdlen;
	}
	return p == len ? 0 : -1;	/* trailing bytes are malformed */
}

enum dns_parse_result dns_query_parse(const uint8_t *wire, size_t len,
				      struct dns_query *q)
{
	memset(q, 0, offsetof(struct dns_query, qname));
	q->edns_udp = 512;
	if (len < DNS_HEADER_SIZE || (wire[2] & DNS_FLAG1_QR))
		return DNS_PARSE_DROP;
	q->id = rd16(wire);
	q->opcode = (wire[2] >> 3) & 0x0F;
	q->rd = wire[2] & DNS_FLAG1_RD;
	q->ad = wire[3] & DNS_FLAG2_AD;
	q->cd = wire[3] & DNS_FLAG2_CD;
	uint16_t qd = rd16(wire + 4), an = rd16(wire + 6), ns = rd16(wire + 8),
		 ar = rd16(wire + 10);
	if (qd != 1 || parse_question(wire, len, q) != 0) {
		q->question_end = 0;
		return DNS_PARSE_FORMERR;
	}
	if (q->opcode != 0)
		return DNS_PARSE_OK;	/* the pipeline answers NOTIMP */
	if (an != 0 || ns != 0 || parse_additional(wire, len, ar, q) != 0)
		return DNS_PARSE_FORMERR;
	return DNS_PARSE_OK;
}

/* ------------------------------------------------------------------ responses */

static int scan_soa(const uint8_t *wire, size_t len, size_t rdata,
		    uint16_t rdlen, uint32_t *minimum)
{
	size_t p = rdata, end = rdata + rdlen;
	if (dns_name_skip(wire, end, &p) != 0 ||
	    dns_name_skip(wire, end, &p) != 0 || p + 20 != end)
		return -1;
	*minimum = rd32(wire + p + 16);
	return 0;
}

static uint32_t sane_ttl(uint32_t ttl)
{
	return ttl > 0x7FFFFFFF ? 0 : ttl;	/* RFC 2181 section 8 */
}

static int scan_record(const uint8_t *wire, size_t len, size_t *pos,
		       unsigned index, unsigned total, unsigned section,
		       struct dns_scan *s)
{
	size_t start = *pos, p = *pos;
	if (dns_name_skip(wire, len, &p) != 0 || p + 10 > len)
		return -1;
	uint16_t type = rd16(wire + p), rdlen = rd16(wire + p + 8);
	uint32_t ttl = sane_ttl(rd32(wire + p + 4));
	if (p + 10 + rdlen > len)
		return -1;
	*pos = p + 10 + rdlen;
	if (type == DNS_TYPE_OPT) {
		if (section != 2 || s->has_opt || wire[start] != 0)
			return -1;
		s->has_opt = true;
		s->opt_last = index + 1 == total;
		s->rcode |= (uint16_t)((rd32(wire + p + 4) >> 24) << 4);
		if (s->opt_last)
			s->records_end = (uint16_t)start;
		return 0;
	}
	if (s->n_ttl < DNS_SCAN_MAX_TTLS)
		s->ttl[s->n_ttl++] = (struct dns_ttl_ref){
			.offset = (uint16_t)(p + 4), .ttl = ttl };
	else
		s->too_many_ttls = true;
	s->min_ttl = MIN(s->min_ttl, ttl);
	if (type == DNS_TYPE_RRSIG || type == DNS_TYPE_NSEC ||
	    type == DNS_TYPE_NSEC3)
		s->has_dnssec = true;
	if (type == DNS_TYPE_SOA && section == 1) {
		uint32_t minimum;
		if (scan_soa(wire, len, p + 10, rdlen, &minimum) != 0)
			return -1;
		s->has_soa = true;
		s->negative_ttl = MIN(ttl, sane_ttl(minimum));
	}
	return 0;
}

int dns_response_scan(const uint8_t *wire, size_t len, struct dns_scan *s)
{
	memset(s, 0, offsetof(struct dns_scan, ttl));
	s->min_ttl = UINT32_MAX;
	s->opt_last = true;
	if (len < DNS_HEADER_SIZE || len > DNS_MAX_MSG)
		return -1;
	s->id = rd16(wire);
	s->flags1 = wire[2];
	s->flags2 = wire[3];
	s->rcode = wire[3] & 0x0F;
	if (rd16(wire + 4) != 1)
		return -1;
	uint16_t counts[3] = { rd16(wire + 6), rd16(wire + 8), rd16(wire + 10) };
	size_t p = DNS_HEADER_SIZE;
	int n = dns_name_unpack(wire, len, &p, s->qname);
	if (n < 0 || p + 4 > len)
		return -1;
	/* Safe only now: the name parsed, so its first byte exists. */
	s->qname_compressed = (wire[DNS_HEADER_SIZE] & 0xC0) == 0xC0;
	s->qname_len = (uint16_t)n;
	s->qtype = rd16(wire + p);
	s->qclass = rd16(wire + p + 2);
	p += 4;
	s->question_end = (uint16_t)p;
	unsigned total = 0;
	for (unsigned sec = 0; sec < 3; sec++) {
		for (unsigned i = 0; i < counts[sec]; i++, total++)
			if (scan_record(wire, len, &p, i, counts[sec], sec, s))
				return -1;
	}
	if (!s->has_opt || !s->opt_last)
		s->records_end = (uint16_t)p;
	s->an = counts[0];
	s->ns = counts[1];
	s->ar = (uint16_t)(counts[2] - (s->has_opt ? 1 : 0));
	if (s->min_ttl == UINT32_MAX)
		s->min_ttl = 0;
	return 0;
}

uint32_t dns_answer_max_age(const uint8_t *wire, size_t len)
{
	static _Thread_local struct dns_scan s;
	if (dns_response_scan(wire, len, &s) != 0)
		return 0;
	if (s.an == 0)
		return s.has_soa ? s.negative_ttl : 0;
	/* The first an TTL references belong to the answer section. */
	uint32_t min = UINT32_MAX;
	for (unsigned i = 0; i < s.an && i < s.n_ttl; i++)
		min = MIN(min, s.ttl[i].ttl);
	return min == UINT32_MAX ? 0 : min;
}

static int skip_question(const uint8_t *wire, size_t len, size_t *pos)
{
	if (dns_name_skip(wire, len, pos) != 0 || *pos + 4 > len)
		return -1;
	*pos += 4;
	return 0;
}

/* One record of the answer section; *pos moves past it. */
static int answer_address(const uint8_t *wire, size_t len, size_t *pos,
			  dns_address_fn fn, void *ctx)
{
	uint8_t owner[DNS_MAX_NAME];
	if (dns_name_unpack(wire, len, pos, owner) < 0 || *pos + 10 > len)
		return -1;
	uint16_t type = rd16(wire + *pos), rclass = rd16(wire + *pos + 2);
	uint32_t ttl = rd32(wire + *pos + 4);
	uint16_t rdlen = rd16(wire + *pos + 8);
	*pos += 10;
	if (*pos + rdlen > len)
		return -1;
	if (rclass == DNS_CLASS_IN && type == DNS_TYPE_A && rdlen == 4)
		fn(ctx, owner, 4, wire + *pos, ttl);
	else if (rclass == DNS_CLASS_IN && type == DNS_TYPE_AAAA && rdlen == 16)
		fn(ctx, owner, 6, wire + *pos, ttl);
	*pos += rdlen;
	return 0;
}

int dns_answer_addresses(const uint8_t *wire, size_t len, dns_address_fn fn,
			 void *ctx)
{
	if (len < DNS_HEADER_SIZE)
		return -1;
	unsigned qd = rd16(wire + 4), an = rd16(wire + 6);
	size_t pos = DNS_HEADER_SIZE;
	for (unsigned i = 0; i < qd; i++)
		if (skip_question(wire, len, &pos) != 0)
			return -1;
	for (unsigned i = 0; i < an; i++)
		if (answer_address(wire, len, &pos, fn, ctx) != 0)
			return -1;
	return 0;
}
