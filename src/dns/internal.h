/*  anchord - dns/internal.h: declarations shared inside src/dns/ only.
 *  Other folders include dns/dns.h.
 */
#pragma once

#include "dns/dns.h"

#include <stdatomic.h>

/* ------------------------------------------------------------------ cache */

/** The records of a cache entry as handed to a reader under the shard lock. */
struct dns_cache_view {
	const uint8_t *rrs;
	size_t rrs_len;
	uint16_t an, ns, ar;
	const struct dns_ttl_ref *ttl;	/**< offsets relative to rrs */
	unsigned n_ttl;
	uint16_t question_end;		/**< of the message the records came in */
	uint16_t rcode;
	uint8_t flags2;			/**< AD of the stored answer */
	int ede;			/**< cached failures carry their EDE */
	uint32_t elapsed;		/**< seconds since stored */
	bool stale;
	bool failure;
};

typedef void (*dns_cache_use_fn)(void *ctx, const struct dns_cache_view *v);

enum dns_cache_result {
	DNS_CACHE_MISS = 0,
	DNS_CACHE_HIT,			/**< fresh; use() was called */
	DNS_CACHE_STALE,		/**< expired but within serve-stale */
};

enum dns_cache_mode {
	DNS_CACHE_FRESH,		/**< use() only for fresh entries */
	DNS_CACHE_ALLOW_STALE,		/**< use() for stale entries too */
};

/** Look a key up. *retry_stale (may be NULL) tells whether a recent failure
 *  says to answer stale data now instead of asking upstream (RFC 8767 5). */
enum dns_cache_result dns_cache_get(struct dns_cache *c, const uint8_t *key,
				    size_t klen, uint64_t hash, uint64_t now_ms,
				    enum dns_cache_mode mode,
				    dns_cache_use_fn use, void *ctx,
				    bool *retry_stale);

struct dns_cache_put {
	const uint8_t *rrs;
	size_t rrs_len;
	uint16_t an, ns, ar;
	const struct dns_ttl_ref *ttl;	/**< offsets relative to rrs */
	unsigned n_ttl;
	uint16_t question_end;
	uint16_t rcode;
	uint8_t flags2;
	uint32_t ttl_s;			/**< how long the entry is fresh */
	uint32_t stale_s;		/**< how long after that it may be served */
	bool failure;
	int ede;
};

int dns_cache_put(struct dns_cache *c, const uint8_t *key, size_t klen,
		  uint64_t hash, uint64_t now_ms, const struct dns_cache_put *p);
/** Upstreams failed for this key: answer its stale data without asking again
 *  until now + retry_ms. */
void dns_cache_mark_failed(struct dns_cache *c, const uint8_t *key,
			   size_t klen, uint64_t hash, uint64_t now_ms,
			   uint64_t retry_ms);

/** Key layout: flags (DO, CD), qtype, qclass, lower-cased qname. */
#define DNS_KEY_DO 0x01
#define DNS_KEY_CD 0x02
size_t dns_cache_key(uint8_t *key, const struct dns_query *q);

/* ------------------------------------------------------------------ local data */

struct dns_local;

enum dns_local_result {
	DNS_LOCAL_NONE = 0,		/**< not local: go on */
	DNS_LOCAL_ANSWERED,		/**< records and rcode are in the builder */
};

struct dns_local *dns_local_build(const struct dns_conf *conf, char *err,
				  size_t errlen);
void dns_local_free(struct dns_local *local);
/** Answer from local data into b when the name is local. *ede receives an
 *  EDE code for refusals. */
enum dns_local_result dns_local_answer(const struct dns_local *local,
				       const struct dns_query *q,
				       struct dns_builder *b, int *ede);

/* ------------------------------------------------------------------ env */

struct dns_env {
	atomic_uint refs;
	struct dns_conf conf;		/**< deep copy */
	struct dns_local *local;
};

/* ------------------------------------------------------------------ random */

/** A per-worker buffer of random bytes: upstream IDs without a syscall
 *  each. */
struct dns_rng {
	uint8_t buf[512];
	size_t used;
};
uint16_t dns_rng_u16(struct dns_rng *rng);

/* ------------------------------------------------------------------ forwarder */

struct fwd_state;

struct fwd_state *fwd_new(struct dns_worker *w, uv_loop_t *loop);
void fwd_set_env(struct fwd_state *fwd, const struct dns_env *env);
/** Resolve q for req (coalesced with an identical query in flight).
 *  Returns 0 when req now waits for an answer, -1 when overloaded. */
int fwd_resolve(struct fwd_state *fwd, struct dns_request *req,
		const struct dns_query *q, const uint8_t *key, size_t klen,
		uint64_t hash, bool stale_available);
unsigned fwd_pending(const struct fwd_state *fwd);
void fwd_shutdown(struct fwd_state *fwd);
void fwd_free(struct fwd_state *fwd);

/* ------------------------------------------------------------------ worker internals */

uint8_t *dns_worker_recv_buf(struct dns_worker *w);
struct dns_scan *dns_worker_scan_buf(struct dns_worker *w);
struct dns_worker_stats *dns_worker_stats_mut(struct dns_worker *w);
struct dns_rng *dns_worker_rng(struct dns_worker *w);
struct dns_cache *dns_worker_cache(struct dns_worker *w);

/* ------------------------------------------------------------------ requests, as the forwarder sees them */

struct util_list *dns_request_wait_node(struct dns_request *req);
struct dns_request *dns_request_from_wait(struct util_list *node);
struct dns_env *dns_request_env(struct dns_request *req);
/** Answer with a fresh upstream response; ttl holds its TTL fields
 *  (relative to the records, clamped) or is empty to leave them. */
void dns_request_answer_upstream(struct dns_request *req, const uint8_t *wire,
				 const struct dns_scan *s,
				 const struct dns_ttl_ref *ttl, unsigned n_ttl);
/** Answer from stale (or meanwhile refreshed) cache data; false if none. */
bool dns_request_try_stale(struct dns_request *req);
void dns_request_answer_error(struct dns_request *req, unsigned rcode, int ede,
			      const char *text);
