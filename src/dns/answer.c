/*  anchord - dns/answer.c: building answers in wire format.
 *
 *  Every answer, whether from the cache, local data or an error, is built
 *  here: the header and the client's own question, records, then an OPT
 *  record with EDE, keepalive and padding, and the size limit applied last.
 */
#include "dns/dns.h"

#include <string.h>

#define PADDING_BLOCK 468	/* RFC 8467 section 4.1, responses */

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void dns_builder_begin(struct dns_builder *b, uint8_t *buf, size_t cap,
		       size_t limit, const struct dns_query *q,
		       const uint8_t *query_wire)
{
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap;
	b->limit = MIN(limit, cap);
	b->q = q;
	memcpy(buf, query_wire, 2);	/* ID */
	buf[2] = (uint8_t)(DNS_FLAG1_QR | (q->opcode << 3) |
			   (q->rd ? DNS_FLAG1_RD : 0));
	buf[3] = (uint8_t)(DNS_FLAG2_RA | (q->cd ? DNS_FLAG2_CD : 0));
	memset(buf + 4, 0, 8);
	b->len = DNS_HEADER_SIZE;
	if (q->question_end > DNS_HEADER_SIZE) {
		size_t qlen = q->question_end - DNS_HEADER_SIZE;
		memcpy(buf + DNS_HEADER_SIZE, query_wire + DNS_HEADER_SIZE, qlen);
		b->len += qlen;
		buf[5] = 1;
	}
	b->question_end = b->len;
}

void dns_builder_set_rcode(struct dns_builder *b, unsigned rcode)
{
	b->rcode = (uint16_t)rcode;
}

void dns_builder_set_flags(struct dns_builder *b, uint8_t flags1,
			   uint8_t flags2)
{
	b->buf[2] |= flags1;
	b->buf[3] |= flags2;
}

static bool reserve(struct dns_builder *b, size_t n)
{
	if (b->overflow || b->len + n > b->cap) {
		b->overflow = true;
		return false;
	}
	return true;
}

void dns_builder_put_records(struct dns_builder *b, const uint8_t *rrs,
			     size_t len, uint16_t an, uint16_t ns, uint16_t ar,
			     const struct dns_ttl_ref *ttl, unsigned n_ttl,
			     uint32_t elapsed, int64_t force_ttl)
{
	if (!reserve(b, len))
		return;
	uint8_t *base = b->buf + b->len;
	memcpy(base, rrs, len);
	for (unsigned i = 0; i < n_ttl; i++) {
		uint32_t v = ttl[i].ttl;
		if (force_ttl >= 0)
			v = MIN(v, (uint32_t)force_ttl);
		else
			v = v > elapsed ? v - elapsed : 0;
		if (ttl[i].offset + 4u <= len)
			wr32(base + ttl[i].offset, v);
	}
	b->len += len;
	b->count[0] += an;
	b->count[1] += ns;
	b->count[2] += ar;
}

void dns_builder_put_rr(struct dns_builder *b, unsigned section,
			const uint8_t *owner, uint16_t type, uint16_t rclass,
			uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
	size_t owner_len = 2;
	if (owner) {
		owner_len = 0;
		while (owner[owner_len])
			owner_len += owner[owner_len] + 1u;
		owner_len++;
	}
	if (!reserve(b, owner_len + 10 + rdlen))
		return;
	uint8_t *p = b->buf + b->len;
	if (owner) {
		memcpy(p, owner, owner_len);
	} else {
		p[0] = 0xC0;	/* pointer to the question name */
		p[1] = DNS_HEADER_SIZE;
	}
	p += owner_len;
	wr16(p, type);
	wr16(p + 2, rclass);
	wr32(p + 4, ttl);
	wr16(p + 8, rdlen);
	memcpy(p + 10, rdata, rdlen);
	b->len += owner_len + 10 + rdlen;
	b->count[section]++;
}

/* Size of the OPT record without padding. */
static size_t opt_size(const struct dns_answer_edns *e)
{
	size_t n = 11;
	if (e->ede >= 0)
		n += 6 + (e->ede_text ? strlen(e->ede_text) : 0);
	if (e->keepalive)
		n += 6;
	return n;
}

static size_t write_opt(struct dns_builder *b, const struct dns_answer_edns *e,
			size_t pad)
{
	uint8_t *p = b->buf + b->len;
	size_t rdlen = opt_size(e) - 11 + (pad != SIZE_MAX ? 4 + pad : 0);
	p[0] = 0;
	wr16(p + 1, DNS_TYPE_OPT);
	wr16(p + 3, e->udp_size);
	uint32_t ttl = (uint32_t)(b->rcode >> 4) << 24;
	if (b->q->edns_do)
		ttl |= 0x8000;
	wr32(p + 5, ttl);
	wr16(p + 9, (uint16_t)rdlen);
	uint8_t *o = p + 11;
	if (e->ede >= 0) {
		size_t tlen = e->ede_text ? strlen(e->ede_text) : 0;
		wr16(o, DNS_OPT_EDE);
		wr16(o + 2, (uint16_t)(2 + tlen));
		wr16(o + 4, (uint16_t)e->ede);
		if (tlen)
			memcpy(o + 6, e->ede_text, tlen);
		o += 6 + tlen;
	}
	if (e->keepalive) {
		wr16(o, DNS_OPT_KEEPALIVE);
		wr16(o + 2, 2);
		wr16(o + 4, e->keepalive_100ms);
		o += 6;
	}
	if (pad != SIZE_MAX) {
		wr16(o, DNS_OPT_PADDING);
		wr16(o + 2, (uint16_t)pad);
		memset(o + 4, 0, pad);
		o += 4 + pad;
	}
	b->len += (size_t)(o - p);
	return (size_t)(o - p);
}

/* Padding length that brings the whole answer to the next block, or
 * SIZE_MAX for no padding option at all. */
static size_t padding_for(const struct dns_builder *b,
			  const struct dns_answer_edns *e)
{
	if (!e->pad || !b->q->edns_padding)
		return SIZE_MAX;
	size_t base = b->len + opt_size(e) + 4;
	size_t pad = (PADDING_BLOCK - base % PADDING_BLOCK) % PADDING_BLOCK;
	if (base + pad > b->limit)	/* never pad past the size limit */
		pad = b->limit > base ? b->limit - base : 0;
	return pad;
}

size_t dns_builder_finish(struct dns_builder *b,
			  const struct dns_answer_edns *edns)
{
	static const struct dns_answer_edns plain = { .ede = DNS_EDE_NONE,
						      .udp_size = 1232 };
	const struct dns_answer_edns *e = edns ? edns : &plain;
	bool with_opt = b->q->edns;
	size_t need = with_opt ? opt_size(e) : 0;
	if (b->overflow || b->len + need > b->limit) {
		/* Cut to the question; the client retries over TCP. */
		b->len = b->question_end;
		memset(b->count, 0, sizeof(b->count));
		b->buf[2] |= DNS_FLAG1_TC;
		b->overflow = false;
	}
	if (with_opt && b->len + need <= b->cap) {
		size_t pad = padding_for(b, e);
		if (pad != SIZE_MAX && b->len + need + 4 + pad > b->cap)
			pad = SIZE_MAX;
		write_opt(b, e, pad);
		b->count[2]++;
	}
	b->buf[3] = (uint8_t)((b->buf[3] & 0xF0) | (b->rcode & 0x0F));
	wr16(b->buf + 6, b->count[0]);
	wr16(b->buf + 8, b->count[1]);
	wr16(b->buf + 10, b->count[2]);
	return b->len;
}
