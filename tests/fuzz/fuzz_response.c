/*  anchord - tests/fuzz/fuzz_response.c: answers from upstreams.
 *
 *  An upstream's answer is scanned; a valid one is stored in the cache,
 *  read back and turned into an answer for a matching query, which must
 *  scan again.
 */
#include "dns/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static struct dns_cache *cache;
static uint8_t out[DNS_MAX_MSG];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	util_hash_init();
	cache = dns_cache_new(1 << 20);
	return 0;
}

struct rebuild {
	struct dns_builder *b;
	bool used;
};

static void use(void *ctx, const struct dns_cache_view *v)
{
	struct rebuild *r = ctx;
	r->used = true;
	dns_builder_set_rcode(r->b, v->rcode);
	dns_builder_put_records(r->b, v->rrs, v->rrs_len, v->an, v->ns, v->ar,
				v->ttl, v->n_ttl, 1, -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_scan s;
	if (dns_response_scan(data, size, &s) != 0 || s.qname_compressed ||
	    !s.opt_last || s.too_many_ttls)
		return 0;
	/* The query this would answer: same question. */
	uint8_t query[DNS_HEADER_SIZE + DNS_MAX_NAME + 4] = { 0x11, 0x22, 1 };
	query[5] = 1;
	memcpy(query + 12, s.qname, s.qname_len);
	memcpy(query + 12 + s.qname_len, data + s.question_end - 4, 4);
	struct dns_query q;
	if (dns_query_parse(query, 12 + s.qname_len + 4u, &q) != DNS_PARSE_OK)
		return 0;
	struct dns_ttl_ref refs[DNS_SCAN_MAX_TTLS];
	for (unsigned i = 0; i < s.n_ttl; i++)
		refs[i] = (struct dns_ttl_ref){
			(uint16_t)(s.ttl[i].offset - s.question_end), s.ttl[i].ttl };
	uint8_t key[DNS_MAX_KEY];
	size_t klen = dns_cache_key(key, &q, false);
	uint64_t h = util_hash(key, klen);
	struct dns_cache_put p = {
		.rrs = data + s.question_end,
		.rrs_len = s.records_end - s.question_end,
		.an = s.an, .ns = s.ns, .ar = s.ar, .ttl = refs, .n_ttl = s.n_ttl,
		.question_end = s.question_end, .rcode = s.rcode, .ttl_s = 60,
		.ede = DNS_EDE_NONE,
	};
	dns_cache_put(cache, key, klen, h, 1000, &p);
	struct dns_builder b;
	dns_builder_begin(&b, out, sizeof(out), DNS_MAX_MSG, &q, query);
	struct rebuild r = { .b = &b };
	dns_cache_get(cache, key, klen, h, 2000, DNS_CACHE_FRESH, use, &r, NULL);
	if (!r.used)
		return 0;
	size_t len = dns_builder_finish(&b, NULL);
	static struct dns_scan again;
	if (dns_response_scan(out, len, &again) != 0)
		abort();
	return 0;
}
