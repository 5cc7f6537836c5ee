/*  anchord - unit tests of dns/cache.c. */
#include "test.h"

#include "dns/internal.h"

#include <sodium.h>
#include <stdio.h>

static const uint8_t rrs[] = { 0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4,
			       1, 2, 3, 4 };
static const struct dns_ttl_ref ref = { .offset = 6, .ttl = 300 };

static size_t key_for(uint8_t *key, const char *name)
{
	uint8_t q[512];
	struct dns_query dq;
	size_t len = test_query(q, name, DNS_TYPE_A, 0x0100, 0);
	assert_int_equal(dns_query_parse(q, len, &dq), DNS_PARSE_OK);
	return dns_cache_key(key, &dq, false);
}

static void put(struct dns_cache *c, const char *name, uint64_t now,
		uint32_t ttl, uint32_t stale)
{
	uint8_t key[DNS_MAX_KEY];
	size_t klen = key_for(key, name);
	struct dns_cache_put p = { .rrs = rrs, .rrs_len = sizeof(rrs), .an = 1,
				   .ttl = &ref, .n_ttl = 1, .question_end = 30,
				   .ttl_s = ttl, .stale_s = stale,
				   .ede = DNS_EDE_NONE };
	assert_int_equal(dns_cache_put(c, key, klen, util_hash(key, klen), now,
				       &p), 0);
}

struct seen {
	int calls;
	uint32_t elapsed;
	bool stale;
};

static void use(void *ctx, const struct dns_cache_view *v)
{
	struct seen *s = ctx;
	s->calls++;
	s->elapsed = v->elapsed;
	s->stale = v->stale;
	assert_int_equal(v->rrs_len, sizeof(rrs));
	assert_memory_equal(v->rrs, rrs, sizeof(rrs));
}

static enum dns_cache_result get(struct dns_cache *c, const char *name,
				 uint64_t now, enum dns_cache_mode mode,
				 struct seen *s, bool *retry)
{
	uint8_t key[DNS_MAX_KEY];
	size_t klen = key_for(key, name);
	return dns_cache_get(c, key, klen, util_hash(key, klen), now, mode, use,
			     s, retry);
}

static void hit_and_expiry(void **state)
{
	struct dns_cache *c = dns_cache_new(1 << 20);
	struct seen s = { 0 };
	put(c, "a.test", 1000, 60, 0);
	assert_int_equal(get(c, "a.test", 1000, DNS_CACHE_FRESH, &s, NULL),
			 DNS_CACHE_HIT);
	assert_int_equal(get(c, "A.TEST", 31000, DNS_CACHE_FRESH, &s, NULL),
			 DNS_CACHE_HIT);
	assert_int_equal(s.elapsed, 30);
	assert_int_equal(get(c, "a.test", 61000, DNS_CACHE_FRESH, &s, NULL),
			 DNS_CACHE_MISS);
	assert_int_equal(get(c, "b.test", 1000, DNS_CACHE_FRESH, &s, NULL),
			 DNS_CACHE_MISS);
	assert_int_equal(s.calls, 2);
	dns_cache_free(c);
}

static void serve_stale_window(void **state)
{
	struct dns_cache *c = dns_cache_new(1 << 20);
	struct seen s = { 0 };
	bool retry = true;
	put(c, "a.test", 0, 10, 100);
	assert_int_equal(get(c, "a.test", 20000, DNS_CACHE_FRESH, &s, &retry),
			 DNS_CACHE_STALE);
	assert_int_equal(s.calls, 0);		/* fresh only: not used */
	assert_false(retry);
	uint8_t key[DNS_MAX_KEY];
	size_t klen = key_for(key, "a.test");
	dns_cache_mark_failed(c, key, klen, util_hash(key, klen), 20000, 30000);
	assert_int_equal(get(c, "a.test", 25000, DNS_CACHE_ALLOW_STALE, &s,
			     &retry), DNS_CACHE_STALE);
	assert_true(retry);
	assert_true(s.stale);
	assert_int_equal(s.calls, 1);
	assert_int_equal(get(c, "a.test", 111000, DNS_CACHE_ALLOW_STALE, &s,
			     NULL), DNS_CACHE_MISS);
	dns_cache_free(c);
}

static void lru_eviction_under_limit(void **state)
{
	/* 64 KiB over 16 shards: a few entries per shard fit. */
	struct dns_cache *c = dns_cache_new(64 << 10);
	char name[64];
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		put(c, name, 0, 60, 0);
	}
	struct dns_cache_stats st;
	dns_cache_stats(c, &st);
	assert_true(st.bytes <= st.limit);
	assert_true(st.evictions > 0);
	assert_true(st.entries > 50);
	/* the most recent survive, the oldest went */
	struct seen s = { 0 };
	assert_int_equal(get(c, "n4999.test", 0, DNS_CACHE_FRESH, &s, NULL),
			 DNS_CACHE_HIT);
	assert_int_equal(get(c, "n0.test", 0, DNS_CACHE_FRESH, &s, NULL),
			 DNS_CACHE_MISS);
	dns_cache_set_limit(c, 0);
	dns_cache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	dns_cache_free(c);
}

static void replace_and_flush(void **state)
{
	struct dns_cache *c = dns_cache_new(1 << 20);
	struct seen s = { 0 };
	put(c, "a.test", 0, 60, 0);
	put(c, "a.test", 5000, 60, 0);
	struct dns_cache_stats st;
	dns_cache_stats(c, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(get(c, "a.test", 6000, DNS_CACHE_FRESH, &s, NULL),
			 DNS_CACHE_HIT);
	assert_int_equal(s.elapsed, 1);
	put(c, "b.test", 0, 60, 0);
	uint8_t name[DNS_MAX_NAME];
	dns_name_from_str("a.test", name);
	dns_cache_flush(c, name);
	assert_int_equal(get(c, "a.test", 6000, DNS_CACHE_FRESH, &s, NULL),
			 DNS_CACHE_MISS);
	assert_int_equal(get(c, "b.test", 6000, DNS_CACHE_FRESH, &s, NULL),
			 DNS_CACHE_HIT);
	dns_cache_flush(c, NULL);
	dns_cache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	dns_cache_free(c);
}

static void key_distinguishes_do_cd(void **state)
{
	uint8_t q[512], k1[DNS_MAX_KEY], k2[DNS_MAX_KEY];
	struct dns_query dq;
	size_t len = test_query(q, "a.test", DNS_TYPE_A, 0x0100, 1232);
	dns_query_parse(q, len, &dq);
	size_t l1 = dns_cache_key(k1, &dq, false);
	dq.edns_do = true;
	size_t l2 = dns_cache_key(k2, &dq, false);
	assert_int_equal(l1, l2);
	assert_memory_not_equal(k1, k2, l1);
}

static int setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	util_hash_init();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hit_and_expiry),
		cmocka_unit_test(serve_stale_window),
		cmocka_unit_test(lru_eviction_under_limit),
		cmocka_unit_test(replace_and_flush),
		cmocka_unit_test(key_distinguishes_do_cd),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
