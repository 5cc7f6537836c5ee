/*  anchord - dns/internal.h: declarations shared inside src/dns/ only.
 *  Other folders include dns/dns.h.
 */
#pragma once

#include "dns/dns.h"

#include <ldns/ldns.h>
#include <stdatomic.h>
#include <time.h>

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
	uint8_t dnssec;			/**< enum val_status of the answer */
	int ede;			/**< cached failures carry their EDE */
	const char *why;		/**< its text: a static string or NULL */
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
	uint8_t dnssec;			/**< enum val_status of the answer */
	uint32_t ttl_s;			/**< how long the entry is fresh */
	uint32_t stale_s;		/**< how long after that it may be served */
	bool failure;
	int ede;
	const char *why;		/**< static storage only */
};

int dns_cache_put(struct dns_cache *c, const uint8_t *key, size_t klen,
		  uint64_t hash, uint64_t now_ms, const struct dns_cache_put *p);
/** Upstreams failed for this key: answer its stale data without asking again
 *  until now + retry_ms. */
void dns_cache_mark_failed(struct dns_cache *c, const uint8_t *key,
			   size_t klen, uint64_t hash, uint64_t now_ms,
			   uint64_t retry_ms);

/** Key layout: flags (DO, CD), qtype, qclass, lower-cased qname. With
 *  validation on, CD is not part of the key: one validated entry serves
 *  CD and non-CD queries (a bogus one answers SERVFAIL without CD), and
 *  VALIDATED keeps these entries apart from unvalidated ones. */
#define DNS_KEY_DO 0x01
#define DNS_KEY_CD 0x02
#define DNS_KEY_VALIDATED 0x04
#define DNS_KEY_RAW 0x08		/**< forwarder only: an unvalidated fetch */
size_t dns_cache_key(uint8_t *key, const struct dns_query *q, bool validated);

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

/* ------------------------------------------------------------------ validation */

/** Verdicts (RFC 4035 section 4.3); UNCHECKED: validation is off. */
enum val_status {
	VAL_UNCHECKED = 0,
	VAL_SECURE,
	VAL_INSECURE,
	VAL_BOGUS,
};

/** A trust anchor (DS or DNSKEY records) or a negative trust anchor. */
struct val_anchor {
	ldns_rdf *name;			/**< canonical */
	ldns_rr_list *ds, *dnskey;
	bool negative;
};

struct dns_trust;

struct dns_trust *dns_trust_build(const struct dns_dnssec_conf *c, char *err,
				  size_t errlen);
void dns_trust_free(struct dns_trust *t);
/** The closest anchor or negative anchor at or above name, or NULL. */
const struct val_anchor *dns_trust_find(const struct dns_trust *t,
					const ldns_rdf *name);

/** What the validator knows of the zone that holds a name (Unbound calls
 *  it a key entry): its verified keys, or that it is insecure or bogus. */
struct val_key {
	enum val_status status;
	ldns_rdf *zone;			/**< SECURE: the apex the keys belong to */
	ldns_rr_list *keys;		/**< SECURE: its usable DNSKEYs */
	int ede;			/**< INSECURE, BOGUS: why (or NONE) */
	const char *why;
};

/** An upstream answer, parsed once for judging (miss path only: ldns). */
struct val_msg;

#define VAL_MAX_NEEDS 8			/**< zones one answer may span */
#define VAL_MAX_NSEC3_ITERATIONS 50	/**< more is insecure (RFC 9276) */

struct val_msg *val_msg_parse(const uint8_t *wire, size_t len);
void val_msg_free(struct val_msg *m);
const ldns_rdf *val_msg_qname(const struct val_msg *m);
/** Names whose key entries judging needs: signers of the answer's RRsets,
 *  or the owners of unsigned ones (whose zone must prove insecure). */
size_t val_msg_needs(const struct val_msg *m, const ldns_rdf *const **names);

typedef const struct val_key *(*val_key_fn)(void *ctx, const ldns_rdf *name);

/** Judge every RRset and the denial proofs with the key entries lookup
 *  returns for the needed names, at time now. */
void val_msg_judge(struct val_msg *m, val_key_fn lookup, void *ctx,
		   time_t now);
enum val_status val_msg_status(const struct val_msg *m, int *ede,
			       const char **why);
/** Seconds the verdict may be cached: signature validity and original TTLs
 *  (RFC 4035 section 5.3.3). UINT32_MAX when nothing was verified. */
uint32_t val_msg_ttl_cap(const struct val_msg *m);
/** The judged answer as a message (header, question, records, no OPT):
 *  with dnssec_rrs false, RRSIG, NSEC and NSEC3 are left out unless asked
 *  for (RFC 4035 section 3.2.1); RRsets judging dropped are left out and
 *  verified TTLs capped. Returns 0 and a malloc'ed buffer, or -1. */
int val_msg_encode(const struct val_msg *m, bool dnssec_rrs, uint8_t **wire,
		   size_t *len);

/** What a DS answer for a name tells the walk down from its parent. */
enum val_ds_kind {
	VAL_DS_FOUND,			/**< a verified DS RRset: a secure cut */
	VAL_DS_NOT_CUT,			/**< no DS, and not a zone cut */
	VAL_DS_INSECURE,		/**< a cut proven to have no usable DS */
	VAL_DS_BOGUS,
};

struct val_ds_result {
	enum val_ds_kind kind;
	ldns_rr_list *ds;		/**< FOUND: the usable DS records (owned) */
	uint32_t ttl;			/**< how long the result holds */
	int ede;
	const char *why;
};

/** Judge the answer to "child DS" with the key entry of the parent. */
void val_ds_step(const uint8_t *wire, size_t len, const ldns_rdf *child,
		 const struct val_key *parent, time_t now,
		 struct val_ds_result *out);
/** Judge the answer to "zone DNSKEY" against DS records or anchor DNSKEYs
 *  (either may be NULL). out->zone and out->keys are owned by the caller
 *  afterwards; *ttl receives how long the entry holds. */
void val_dnskey_step(const uint8_t *wire, size_t len, const ldns_rdf *zone,
		     const ldns_rr_list *ds, const ldns_rr_list *anchor_keys,
		     time_t now, struct val_key *out, uint32_t *ttl);
/** Whether a DNSKEY/DS algorithm and a DS digest type can be validated. */
bool val_algorithm_supported(uint8_t alg);
bool val_digest_supported(uint8_t digest);
void val_key_clear(struct val_key *k);

/* ------------------------------------------------------------------ denial (dns/denial.c) */

/** The secure NSEC and NSEC3 records of one zone in an answer. */
struct val_denial {
	const ldns_rdf *zone;
	ldns_rr_list *nsec, *nsec3;	/**< not owned */
};

enum val_proof {
	VAL_PROOF_NONE = 0,		/**< nothing proven: bogus */
	VAL_PROOF_OK,
	VAL_PROOF_OPTOUT,		/**< an NSEC3 opt-out span: insecure */
	VAL_PROOF_ITERATIONS,		/**< NSEC3 iterations too high: insecure */
};

/** What a NODATA proof for a DS query says about the name. */
struct val_nodata_info {
	bool delegation;		/**< NS without SOA: a cut without DS */
	bool exists;			/**< an NSEC(3) matched the name */
};

enum val_proof val_deny_name(const struct val_denial *d, const ldns_rdf *name);
enum val_proof val_deny_type(const struct val_denial *d, const ldns_rdf *name,
			     ldns_rr_type type, struct val_nodata_info *info);
/** A wildcard answer at owner whose RRSIG has labels labels: the next
 *  closer name must not exist (RFC 4035 5.3.4, RFC 5155 8.8). */
enum val_proof val_deny_wildcard(const struct val_denial *d,
				 const ldns_rdf *owner, unsigned labels);

/* ------------------------------------------------------------------ chain of trust (dns/chain.c) */

/** Per-worker validation state: the key cache and the jobs in flight. */
struct val_state;
struct fwd_state;

struct val_state *val_state_new(struct fwd_state *fwd, uv_loop_t *loop);
void val_state_free(struct val_state *vs);
/** Forget every key entry (the trust anchors changed). */
void val_state_flush(struct val_state *vs);

/** Judging one answer: finds the key entries its zones need, fetching DS
 *  and DNSKEY records through the forwarder, then judges. */
struct val_job;

typedef void (*val_job_done_fn)(struct val_job *job, void *ctx);

/** A job for msg (taken over) under env's trust anchors. Nothing happens
 *  before val_job_run. */
struct val_job *val_job_new(struct val_state *vs, struct dns_env *env,
			    struct val_msg *msg, val_job_done_fn done,
			    void *ctx);
/** Start judging; done may be called before this returns. */
void val_job_run(struct val_job *job);
/** The judged message (after done). */
struct val_msg *val_job_msg(struct val_job *job);
/** Stop waiting for fetches; done is not called. */
void val_job_free(struct val_job *job);

/* ------------------------------------------------------------------ env */

struct dns_env {
	atomic_uint refs;
	struct dns_conf conf;		/**< deep copy */
	struct dns_local *local;
	struct dns_trust *trust;	/**< NULL: validation is off */
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

/** A validated answer in the two forms clients get: [0] without DNSSEC
 *  records (DO=0), [1] with them. */
struct dns_validated {
	enum val_status status;
	int ede;
	const char *why;
	const uint8_t *wire[2];
	size_t len[2];
	const struct dns_scan *scan[2];
	const struct dns_ttl_ref *ttl[2];	/**< relative to the records */
	unsigned n_ttl[2];
};

/** How an internal lookup ended. */
struct fwd_result {
	bool failed;			/**< no usable answer: ede and why say */
	int ede;
	const char *why;
	const uint8_t *wire;		/**< raw lookups: the upstream's answer */
	size_t len;
	const struct dns_validated *v;	/**< validated lookups: the verdict */
};

/** Someone inside anchord waiting for a lookup (the validator for DS and
 *  DNSKEY records, a DANE upstream for its TLSA records). done is called
 *  once, from the loop, unless the waiter is cancelled first. */
struct fwd_waiter {
	struct util_list node;
	void (*done)(struct fwd_waiter *w, const struct fwd_result *r);
};

/** Look name (wire, lower-cased) up through the upstreams. raw: the answer
 *  comes unvalidated and uncached (chain of trust fetches); otherwise it
 *  is validated and cached like a client's. Returns 0, or -1 when the
 *  forwarder is overloaded or shutting down. */
int fwd_lookup(struct fwd_state *fwd, struct dns_env *env,
	       const uint8_t *name, uint16_t type, bool raw,
	       struct fwd_waiter *w);
void fwd_waiter_cancel(struct fwd_waiter *w);

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
struct dns_worker_health *dns_worker_health_mut(struct dns_worker *w);
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
/** Answer with a judged upstream answer, in the form the client's DO, CD
 *  and AD bits call for. */
void dns_request_answer_validated(struct dns_request *req,
				  const struct dns_validated *v);
/** Answer from stale (or meanwhile refreshed) cache data; false if none. */
bool dns_request_try_stale(struct dns_request *req);
void dns_request_answer_error(struct dns_request *req, unsigned rcode, int ede,
			      const char *text);

/* ------------------------------------------------------------------ forwarder internals */

/* Shared by forward.c and forward_dane.c only. */
struct fwd_query;

struct fwd_attempt {
	struct util_list node;		/* in fq->attempts */
	struct util_list conn_node;	/* TCP: in up->tcp_attempts */
	struct fwd_query *fq;		/* NULL once the query is gone */
	struct fwd_upstream *up;
	uv_udp_t udp;
	bool tcp, edns, closing, udp_open;
	uint16_t id;
	uint64_t sent_ms;
	uint64_t sent_ns;		/* for the latency histogram */
};

struct fwd_upstream {
	struct util_list node;		/* in fwd->upstreams */
	struct dns_upstream_conf conf;
	struct fwd_state *fwd;
	double srtt_ms;
	unsigned failures;
	uint64_t down_until_ms, down_ms;
	bool no_edns;
	bool current;			/* in the environment now in force */
	unsigned refs;			/* attempts pointing here */
	struct net_client *tcp;		/* TCP or TLS connection */
	struct net_tls_client *tls;	/* DoT: made on first use */
	struct util_list tcp_attempts;
	uv_timer_t tcp_idle;
	bool closing;
	/* DANE: the TLSA records the validator found secure */
	enum { DANE_UNKNOWN, DANE_READY, DANE_FAILED } dane_state;
	bool dane_looking;		/* a TLSA lookup is under way */
	uint64_t dane_until_ms;		/* READY: look again; FAILED: retry */
	const char *dane_why;		/* FAILED: why */
	struct net_dane_record *tlsa;
	size_t n_tlsa;
	struct fwd_waiter dane_lookup;
	struct util_list dane_waiting;	/* attempts (conn_node) for the TLSA */
	struct fwd_upstream *twin;	/* unauthenticated, for meta-queries */
	struct fwd_upstream *twin_of;	/* on a twin: its upstream */
};

struct fwd_query {
	struct fwd_query *hnext;
	uint64_t hash;
	struct fwd_state *fwd;
	struct dns_env *env;
	struct util_list waiters;	/* struct dns_request.wait_node */
	struct util_list attempts;
	uv_timer_t timer, stale_timer;
	unsigned handles_open;
	uint64_t started_ms;
	unsigned n_sent;
	uint64_t tried;			/* bit per upstream index */
	bool stale_available, stale_served, done;
	bool raw;			/* a chain fetch: deliver unjudged */
	bool validate;			/* ask with DO and CD, then judge */
	bool meta;			/* anchord's own lookup (DNSSEC-checked) */
	struct util_list internal;	/* struct fwd_waiter.node */
	struct val_job *job;		/* while judging */
	uint8_t *resp;			/* the answer being judged */
	size_t resp_len;
	int fail_ede;
	const char *fail_text;
	struct dns_query q;
	size_t klen;
	uint8_t key[DNS_MAX_KEY];
};

struct fwd_state {
	struct dns_worker *w;
	uv_loop_t *loop;
	struct val_state *val;
	struct util_list upstreams;
	struct fwd_upstream **cur;
	size_t n_cur;
	struct fwd_query **buckets;
	size_t n_buckets, count;
	bool shutting_down;
	uint64_t health_published_ms;
};

/** Send an attempt over its upstream's TCP or TLS connection. */
int fwd_attempt_send_tcp(struct fwd_attempt *a, struct fwd_query *fq);
/** An attempt failed: try the next upstream, or fail the query. */
void fwd_attempt_failed(struct fwd_attempt *a, int ede, const char *text);
/** Where an attempt on a DANE upstream goes: 0 ahead (*up may become its
 *  unauthenticated twin, for anchord's own lookups), >0 it waits for the
 *  TLSA records (fwd_dane_wait), <0 (a libuv error) nowhere. */
int fwd_dane_gate(struct fwd_query *fq, struct fwd_upstream **up);
void fwd_dane_wait(struct fwd_attempt *a);
