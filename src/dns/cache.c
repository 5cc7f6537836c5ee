/*  anchord - dns/cache.c: the answer cache.
 *
 *  Entries hold the records of an upstream response in wire format (after
 *  the question, without the OPT record) plus the offsets of their TTL
 *  fields, so that a hit is a copy and a TTL patch: no parsing, no ldns
 *  objects. The table is split into shards, each with its own lock, LRU list
 *  and share of the byte budget, so that workers rarely meet.
 */
#include "dns/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SHARDS 16
#define CACHE_INITIAL_BUCKETS 256
#define CACHE_ENTRY_OVERHEAD 32		/* malloc bookkeeping, roughly */

enum entry_flags {
	ENTRY_FAILURE = 1,		/* a cached resolution failure */
};

struct cache_entry {
	struct cache_entry *hnext;
	struct util_list lru;
	uint64_t hash;
	uint64_t stored_ms, expire_ms, stale_until_ms, retry_stale_until_ms;
	size_t size;
	const char *why;		/* static text of the EDE */
	uint16_t key_len, rrs_len, n_ttl, question_end;
	uint16_t an, ns, ar, rcode;
	int16_t ede;
	uint8_t flags, flags2, dnssec;
	/* data: ttl refs, then key, then records */
	struct dns_ttl_ref data[];
};

struct cache_shard {
	pthread_mutex_t lock;
	struct cache_entry **buckets;
	size_t n_buckets, count;
	uint64_t bytes, limit;
	struct util_list lru;		/* head = least recently used */
	uint64_t hits, misses, stale_hits, inserts, evictions;
};

struct dns_cache {
	struct cache_shard shards[CACHE_SHARDS];
};

static inline uint8_t *entry_key(struct cache_entry *e)
{
	return (uint8_t *)(e->data + e->n_ttl);
}

static inline uint8_t *entry_rrs(struct cache_entry *e)
{
	return entry_key(e) + e->key_len;
}

static inline struct cache_shard *shard_of(struct dns_cache *c, uint64_t hash)
{
	return &c->shards[hash >> 60 & (CACHE_SHARDS - 1)];
}

size_t dns_cache_key(uint8_t *key, const struct dns_query *q, bool validated)
{
	key[0] = (uint8_t)((q->edns_do ? DNS_KEY_DO : 0) |
			   (validated ? DNS_KEY_VALIDATED
				      : (q->cd ? DNS_KEY_CD : 0)));
	key[1] = (uint8_t)(q->qtype >> 8);
	key[2] = (uint8_t)q->qtype;
	key[3] = (uint8_t)(q->qclass >> 8);
	key[4] = (uint8_t)q->qclass;
	memcpy(key + 5, q->qname, q->qname_len);
	return 5 + (size_t)q->qname_len;
}

struct dns_cache *dns_cache_new(uint64_t max_bytes)
{
	struct dns_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	for (unsigned i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *s = &c->shards[i];
		pthread_mutex_init(&s->lock, NULL);
		util_list_init(&s->lru);
		s->n_buckets = CACHE_INITIAL_BUCKETS;
		s->buckets = calloc(s->n_buckets, sizeof(*s->buckets));
		if (!s->buckets) {
			dns_cache_free(c);
			return NULL;
		}
	}
	dns_cache_set_limit(c, max_bytes);
	return c;
}

static void unlink_entry(struct cache_shard *s, struct cache_entry *e)
{
	struct cache_entry **pp = &s->buckets[e->hash & (s->n_buckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	util_list_remove(&e->lru);
	s->count--;
	s->bytes -= e->size;
	free(e);
}

static void evict_to_limit(struct cache_shard *s)
{
	while (s->bytes > s->limit && !util_list_empty(&s->lru)) {
		struct cache_entry *e =
			container_of(s->lru.next, struct cache_entry, lru);
		unlink_entry(s, e);
		s->evictions++;
	}
}

void dns_cache_set_limit(struct dns_cache *c, uint64_t max_bytes)
{
	for (unsigned i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *s = &c->shards[i];
		pthread_mutex_lock(&s->lock);
		s->limit = max_bytes / CACHE_SHARDS;
		evict_to_limit(s);
		pthread_mutex_unlock(&s->lock);
	}
}

/* Remove every entry, or those for one (lower-cased) name of name_len. */
static void clear_shard(struct cache_shard *s, const uint8_t *name,
			size_t name_len)
{
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &s->lru) {
		struct cache_entry *e = container_of(pos, struct cache_entry, lru);
		const uint8_t *qname = entry_key(e) + 5;
		size_t qlen = e->key_len - 5u;
		if (!name || (qlen == name_len && memcmp(qname, name, qlen) == 0))
			unlink_entry(s, e);
	}
}

void dns_cache_flush(struct dns_cache *c, const uint8_t *name)
{
	size_t name_len = 0;
	if (name) {
		while (name[name_len])
			name_len += name[name_len] + 1u;
		name_len++;
	}
	for (unsigned i = 0; i < CACHE_SHARDS; i++) {
		pthread_mutex_lock(&c->shards[i].lock);
		clear_shard(&c->shards[i], name, name_len);
		pthread_mutex_unlock(&c->shards[i].lock);
	}
}

void dns_cache_free(struct dns_cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *s = &c->shards[i];
		if (s->buckets)
			clear_shard(s, NULL, 0);
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(c);
}

void dns_cache_stats(struct dns_cache *c, struct dns_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *s = &c->shards[i];
		pthread_mutex_lock(&s->lock);
		out->entries += s->count;
		out->bytes += s->bytes;
		out->limit += s->limit;
		out->hits += s->hits;
		out->misses += s->misses;
		out->stale_hits += s->stale_hits;
		out->inserts += s->inserts;
		out->evictions += s->evictions;
		pthread_mutex_unlock(&s->lock);
	}
}

static struct cache_entry *find(struct cache_shard *s, const uint8_t *key,
				size_t klen, uint64_t hash)
{
	struct cache_entry *e = s->buckets[hash & (s->n_buckets - 1)];
	for (; e; e = e->hnext)
		if (e->hash == hash && e->key_len == klen &&
		    memcmp(entry_key(e), key, klen) == 0)
			return e;
	return NULL;
}

static void fill_view(struct cache_entry *e, uint64_t now_ms, bool stale,
		      struct dns_cache_view *v)
{
	*v = (struct dns_cache_view){
		.rrs = entry_rrs(e),
		.rrs_len = e->rrs_len,
		.an = e->an, .ns = e->ns, .ar = e->ar,
		.ttl = e->data,
		.n_ttl = e->n_ttl,
		.question_end = e->question_end,
		.rcode = e->rcode,
		.flags2 = e->flags2,
		.dnssec = e->dnssec,
		.ede = e->ede,
		.why = e->why,
		.elapsed = (uint32_t)((now_ms - e->stored_ms) / 1000),
		.stale = stale,
		.failure = e->flags & ENTRY_FAILURE,
	};
}

enum dns_cache_result dns_cache_get(struct dns_cache *c, const uint8_t *key,
				    size_t klen, uint64_t hash, uint64_t now_ms,
				    enum dns_cache_mode mode,
				    dns_cache_use_fn use, void *ctx,
				    bool *retry_stale)
{
	struct cache_shard *s = shard_of(c, hash);
	enum dns_cache_result res = DNS_CACHE_MISS;
	pthread_mutex_lock(&s->lock);
	struct cache_entry *e = find(s, key, klen, hash);
	if (e && now_ms >= e->stale_until_ms) {
		unlink_entry(s, e);
		e = NULL;
	}
	if (!e) {
		s->misses++;
	} else if (now_ms < e->expire_ms) {
		res = DNS_CACHE_HIT;
	} else {
		res = DNS_CACHE_STALE;
		if (retry_stale)
			*retry_stale = now_ms < e->retry_stale_until_ms;
	}
	if (res == DNS_CACHE_HIT ||
	    (res == DNS_CACHE_STALE && mode == DNS_CACHE_ALLOW_STALE)) {
		struct dns_cache_view v;
		fill_view(e, now_ms, res == DNS_CACHE_STALE, &v);
		use(ctx, &v);
		util_list_remove(&e->lru);
		util_list_push(&s->lru, &e->lru);
		if (res == DNS_CACHE_HIT)
			s->hits++;
		else
			s->stale_hits++;
	}
	pthread_mutex_unlock(&s->lock);
	return res;
}

static void grow(struct cache_shard *s)
{
	size_t n = s->n_buckets * 2;
	struct cache_entry **nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;		/* longer chains, still correct */
	for (size_t i = 0; i < s->n_buckets; i++) {
		struct cache_entry *e = s->buckets[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			e->hnext = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = nb;
	s->n_buckets = n;
}

static struct cache_entry *new_entry(const uint8_t *key, size_t klen,
				     uint64_t hash, uint64_t now_ms,
				     const struct dns_cache_put *p)
{
	size_t data = p->n_ttl * sizeof(struct dns_ttl_ref) + klen + p->rrs_len;
	struct cache_entry *e = malloc(sizeof(*e) + data);
	if (!e)
		return NULL;
	*e = (struct cache_entry){
		.hash = hash,
		.stored_ms = now_ms,
		.expire_ms = now_ms + (uint64_t)p->ttl_s * 1000,
		.size = sizeof(*e) + data + CACHE_ENTRY_OVERHEAD,
		.key_len = (uint16_t)klen,
		.rrs_len = (uint16_t)p->rrs_len,
		.n_ttl = (uint16_t)p->n_ttl,
		.question_end = p->question_end,
		.an = p->an, .ns = p->ns, .ar = p->ar,
		.rcode = p->rcode,
		.ede = (int16_t)p->ede,
		.why = p->why,
		.flags = p->failure ? ENTRY_FAILURE : 0,
		.flags2 = p->flags2,
		.dnssec = p->dnssec,
	};
	e->stale_until_ms = e->expire_ms + (uint64_t)p->stale_s * 1000;
	if (p->n_ttl)	/* failure entries have no records at all */
		memcpy(e->data, p->ttl, p->n_ttl * sizeof(struct dns_ttl_ref));
	memcpy(entry_key(e), key, klen);
	if (p->rrs_len)
		memcpy(entry_rrs(e), p->rrs, p->rrs_len);
	return e;
}

int dns_cache_put(struct dns_cache *c, const uint8_t *key, size_t klen,
		  uint64_t hash, uint64_t now_ms, const struct dns_cache_put *p)
{
	if (klen > DNS_MAX_KEY || p->rrs_len > DNS_MAX_MSG)
		return -1;
	struct cache_entry *e = new_entry(key, klen, hash, now_ms, p);
	if (!e)
		return -1;
	struct cache_shard *s = shard_of(c, hash);
	pthread_mutex_lock(&s->lock);
	if (e->size > s->limit) {
		pthread_mutex_unlock(&s->lock);
		free(e);
		return -1;
	}
	struct cache_entry *old = find(s, key, klen, hash);
	if (old)
		unlink_entry(s, old);
	if (s->count >= s->n_buckets)
		grow(s);
	struct cache_entry **b = &s->buckets[hash & (s->n_buckets - 1)];
	e->hnext = *b;
	*b = e;
	util_list_push(&s->lru, &e->lru);
	s->count++;
	s->bytes += e->size;
	s->inserts++;
	evict_to_limit(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void dns_cache_mark_failed(struct dns_cache *c, const uint8_t *key,
			   size_t klen, uint64_t hash, uint64_t now_ms,
			   uint64_t retry_ms)
{
	struct cache_shard *s = shard_of(c, hash);
	pthread_mutex_lock(&s->lock);
	struct cache_entry *e = find(s, key, klen, hash);
	if (e)
		e->retry_stale_until_ms = now_ms + retry_ms;
	pthread_mutex_unlock(&s->lock);
}
