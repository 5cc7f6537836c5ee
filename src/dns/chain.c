/*  anchord - dns/chain.c: chains of trust, fetched asynchronously.
 *
 *  To judge an answer, the validator needs a key entry for every zone the
 *  answer speaks for (dns/validate.c lists them). A key entry is found by
 *  walking down from the closest trust anchor, one label at a time, the
 *  way Unbound's validator does:
 *
 *      anchor:  fetch DNSKEY, verify it with the anchor's DS or DNSKEY
 *      label:   fetch DS for the next name down, judge it with the keys
 *               so far: a verified DS RRset means a secure cut (fetch its
 *               DNSKEY and verify it with the DS); a proven absence is
 *               either "not a cut" (go on with the same keys) or an
 *               insecure delegation (stop: everything below is insecure)
 *
 *  until the walk reaches the name. The fetches go out through the
 *  forwarder as raw lookups (DO and CD set, coalesced, never cached as
 *  answers), and the request waits meanwhile: nothing blocks the loop.
 *  Every step's outcome is kept in a per-worker key cache, keyed by name,
 *  for as long as its records and signatures allow, so a warm cache judges
 *  answers without a single fetch.
 *
 *  Limits: a job makes at most MAX_FETCHES fetches (and the forwarder
 *  bounds its time); the key cache holds at most KEYCACHE_MAX entries,
 *  least recently used going first. A fetch that fails makes the zone
 *  bogus for FAILED_TTL seconds (RFC 4035 4.3 "indeterminate" as EDE 5).
 */
#include "dns/internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FETCHES 24			/* per job: DS and DNSKEY lookups */
#define KEYCACHE_MAX 4096		/* entries per worker */
#define BOGUS_TTL 60			/* RFC 4035 4.7: keep bad data briefly */
#define FAILED_TTL 5			/* a fetch failed: retry soon */
#define MAX_KEY_TTL 86400

struct kc_entry {
	struct kc_entry *hnext;
	struct util_list lru;		/* head = least recently used */
	uint64_t hash;
	ldns_rdf *name;			/* canonical */
	struct val_key key;
	uint64_t expire_ms;
};

struct val_state {
	struct fwd_state *fwd;
	uv_loop_t *loop;
	struct kc_entry **buckets;
	size_t n_buckets, count;
	struct util_list lru;
};

enum job_wait {
	WAIT_NONE,
	WAIT_DS,
	WAIT_DNSKEY,
};

struct val_job {
	struct val_state *vs;
	struct dns_env *env;
	struct val_msg *msg;
	val_job_done_fn done;
	void *ctx;
	size_t need;			/* index into the message's needs */
	struct val_key resolved[VAL_MAX_NEEDS];
	/* the walk towards needs[need] */
	ldns_rdf *target;
	const struct val_anchor *anchor;
	struct val_key cur;		/* keys of the zone reached so far */
	ldns_rdf *cur_name;		/* the name reached */
	uint64_t cur_expire_ms;
	ldns_rdf *child;		/* whose DS or DNSKEY is being fetched */
	ldns_rr_list *child_ds;		/* DS found for child (owned) */
	uint32_t child_ds_ttl;
	enum job_wait wait;
	unsigned fetches;
	struct fwd_waiter waiter;
	bool negative;			/* the question is below an NTA */
};

static void job_continue(struct val_job *job);

/* ------------------------------------------------------------------ key copies */

static int key_copy(struct val_key *dst, const struct val_key *src)
{
	*dst = *src;
	dst->zone = src->zone ? ldns_rdf_clone(src->zone) : NULL;
	dst->keys = src->keys ? ldns_rr_list_clone(src->keys) : NULL;
	if ((src->zone && !dst->zone) || (src->keys && !dst->keys)) {
		val_key_clear(dst);
		dst->status = VAL_BOGUS;
		dst->ede = DNS_EDE_OTHER;
		dst->why = "out of memory";
		return -1;
	}
	return 0;
}

static void key_set(struct val_key *k, enum val_status status, int ede,
		    const char *why)
{
	val_key_clear(k);
	k->status = status;
	k->ede = ede;
	k->why = why;
}

/* ------------------------------------------------------------------ key cache */

static uint64_t name_hash(const ldns_rdf *canonical)
{
	return util_hash(ldns_rdf_data(canonical), ldns_rdf_size(canonical));
}

static ldns_rdf *canonical_copy(const ldns_rdf *name)
{
	ldns_rdf *c = ldns_rdf_clone(name);
	if (c)
		ldns_dname2canonical(c);
	return c;
}

static void kc_unlink(struct val_state *vs, struct kc_entry *e)
{
	struct kc_entry **pp = &vs->buckets[e->hash & (vs->n_buckets - 1)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	util_list_remove(&e->lru);
	vs->count--;
	ldns_rdf_deep_free(e->name);
	val_key_clear(&e->key);
	free(e);
}

/* A fresh entry for exactly this (canonical) name, or NULL. */
static struct kc_entry *kc_find(struct val_state *vs, const ldns_rdf *name)
{
	uint64_t h = name_hash(name);
	struct kc_entry *e = vs->buckets[h & (vs->n_buckets - 1)];
	for (; e; e = e->hnext) {
		if (e->hash != h || ldns_rdf_compare(e->name, name) != 0)
			continue;
		if (uv_now(vs->loop) >= e->expire_ms) {
			kc_unlink(vs, e);
			return NULL;
		}
		util_list_remove(&e->lru);
		util_list_push(&vs->lru, &e->lru);
		return e;
	}
	return NULL;
}

static void kc_store(struct val_state *vs, const ldns_rdf *name,
		     const struct val_key *key, uint32_t ttl_s)
{
	ttl_s = MIN(ttl_s, MAX_KEY_TTL);
	if (ttl_s == 0)
		return;
	ldns_rdf *canon = canonical_copy(name);
	struct kc_entry *old = canon ? kc_find(vs, canon) : NULL;
	if (old)
		kc_unlink(vs, old);
	struct kc_entry *e = canon ? calloc(1, sizeof(*e)) : NULL;
	if (!e || key_copy(&e->key, key) != 0) {
		free(e);
		ldns_rdf_deep_free(canon);
		return;
	}
	if (vs->count >= KEYCACHE_MAX)
		kc_unlink(vs, container_of(vs->lru.next, struct kc_entry, lru));
	e->name = canon;
	e->hash = name_hash(canon);
	e->expire_ms = uv_now(vs->loop) + (uint64_t)ttl_s * 1000;
	struct kc_entry **b = &vs->buckets[e->hash & (vs->n_buckets - 1)];
	e->hnext = *b;
	*b = e;
	util_list_push(&vs->lru, &e->lru);
	vs->count++;
}

void val_state_flush(struct val_state *vs)
{
	while (!util_list_empty(&vs->lru))
		kc_unlink(vs, container_of(vs->lru.next, struct kc_entry, lru));
}

struct val_state *val_state_new(struct fwd_state *fwd, uv_loop_t *loop)
{
	struct val_state *vs = calloc(1, sizeof(*vs));
	if (!vs)
		return NULL;
	vs->fwd = fwd;
	vs->loop = loop;
	vs->n_buckets = 8192;		/* a power of two above KEYCACHE_MAX */
	vs->buckets = calloc(vs->n_buckets, sizeof(*vs->buckets));
	util_list_init(&vs->lru);
	if (!vs->buckets) {
		free(vs);
		return NULL;
	}
	return vs;
}

void val_state_free(struct val_state *vs)
{
	if (!vs)
		return;
	val_state_flush(vs);
	free(vs->buckets);
	free(vs);
}

/* ------------------------------------------------------------------ jobs */

struct val_job *val_job_new(struct val_state *vs, struct dns_env *env,
			    struct val_msg *msg, val_job_done_fn done,
			    void *ctx)
{
	struct val_job *job = calloc(1, sizeof(*job));
	if (!job) {
		val_msg_free(msg);
		return NULL;
	}
	job->vs = vs;
	job->env = env;
	dns_env_ref(env);
	job->msg = msg;
	job->done = done;
	job->ctx = ctx;
	util_list_init(&job->waiter.node);
	for (size_t i = 0; i < VAL_MAX_NEEDS; i++)
		job->resolved[i].ede = DNS_EDE_NONE;
	return job;
}

static void walk_clear(struct val_job *job)
{
	ldns_rdf_deep_free(job->target);
	ldns_rdf_deep_free(job->cur_name);
	ldns_rdf_deep_free(job->child);
	ldns_rr_list_deep_free(job->child_ds);
	val_key_clear(&job->cur);
	job->target = job->cur_name = job->child = NULL;
	job->child_ds = NULL;
	job->anchor = NULL;
	job->wait = WAIT_NONE;
}

void val_job_free(struct val_job *job)
{
	if (!job)
		return;
	fwd_waiter_cancel(&job->waiter);
	walk_clear(job);
	for (size_t i = 0; i < VAL_MAX_NEEDS; i++)
		val_key_clear(&job->resolved[i]);
	val_msg_free(job->msg);
	dns_env_unref(job->env);
	free(job);
}

struct val_msg *val_job_msg(struct val_job *job)
{
	return job->msg;
}

static const struct val_key *resolved_key(void *ctx, const ldns_rdf *name)
{
	struct val_job *job = ctx;
	const ldns_rdf *const *needs;
	size_t n = val_msg_needs(job->msg, &needs);
	for (size_t i = 0; i < n && i < job->need; i++)
		if (ldns_dname_compare(needs[i], name) == 0)
			return &job->resolved[i];
	return NULL;
}

/* The walk for the current need ended with this entry. */
static void resolve(struct val_job *job, const struct val_key *key)
{
	key_copy(&job->resolved[job->need], key);
	walk_clear(job);
	job->need++;
}

static void resolve_as(struct val_job *job, enum val_status status, int ede,
		       const char *why)
{
	struct val_key k = { .status = status, .ede = ede, .why = why };
	resolve(job, &k);
}

/* ------------------------------------------------------------------ fetches */

static void on_fetched(struct fwd_waiter *w, const struct fwd_result *r);

static bool fetch(struct val_job *job, const ldns_rdf *name, uint16_t type,
		  enum job_wait wait)
{
	if (++job->fetches > MAX_FETCHES) {
		resolve_as(job, VAL_BOGUS, DNS_EDE_DNSSEC_INDETERMINATE,
			   "too many fetches for one answer");
		return false;
	}
	uint8_t wire[DNS_MAX_NAME];
	if (dns_name_lower(ldns_rdf_data(name), ldns_rdf_size(name), wire) < 0) {
		resolve_as(job, VAL_BOGUS, DNS_EDE_DNSSEC_BOGUS, "bad name");
		return false;
	}
	job->waiter.done = on_fetched;
	job->wait = wait;
	if (fwd_lookup(job->vs->fwd, job->env, wire, type, true,
		       &job->waiter) != 0) {
		job->wait = WAIT_NONE;
		resolve_as(job, VAL_BOGUS, DNS_EDE_DNSSEC_INDETERMINATE,
			   "cannot fetch DNSSEC records now");
		return false;
	}
	return true;
}

static uint64_t now_ms(const struct val_job *job)
{
	return uv_now(job->vs->loop);
}

/* The walk reached a secure zone at name with these keys. */
static void reach(struct val_job *job, const ldns_rdf *name,
		  struct val_key *keys, uint64_t expire_ms)
{
	val_key_clear(&job->cur);
	job->cur = *keys;
	*keys = (struct val_key){ .ede = DNS_EDE_NONE };
	ldns_rdf_deep_free(job->cur_name);
	job->cur_name = canonical_copy(name);
	job->cur_expire_ms = expire_ms;
}

static uint32_t seconds_left(const struct val_job *job, uint64_t expire_ms)
{
	uint64_t now = now_ms(job);
	return expire_ms > now ? (uint32_t)((expire_ms - now) / 1000) : 0;
}

static void got_dnskey(struct val_job *job, const struct fwd_result *r)
{
	struct val_key k = { .ede = DNS_EDE_NONE };
	uint32_t ttl = FAILED_TTL;
	bool at_anchor = ldns_dname_compare(job->child, job->anchor->name) == 0;
	if (r->failed) {
		key_set(&k, VAL_BOGUS, DNS_EDE_DNSSEC_INDETERMINATE,
			"could not fetch DNSKEY records");
	} else {
		const ldns_rr_list *ds = at_anchor ? job->anchor->ds
						   : job->child_ds;
		val_dnskey_step(r->wire, r->len, job->child, ds,
				at_anchor ? job->anchor->dnskey : NULL,
				time(NULL), &k, &ttl);
		if (!at_anchor)
			ttl = MIN(ttl, job->child_ds_ttl);
		if (k.status == VAL_BOGUS)
			ttl = MIN(ttl, BOGUS_TTL);
	}
	kc_store(job->vs, job->child, &k, ttl);
	if (k.status != VAL_SECURE) {
		resolve(job, &k);
		val_key_clear(&k);
		return;
	}
	ldns_rdf *name = job->child;
	job->child = NULL;
	reach(job, name, &k, now_ms(job) + (uint64_t)ttl * 1000);
	ldns_rdf_deep_free(name);
}

static void got_ds(struct val_job *job, const struct fwd_result *r)
{
	struct val_ds_result d = { .kind = VAL_DS_BOGUS };
	if (r->failed) {
		d.ede = DNS_EDE_DNSSEC_INDETERMINATE;
		d.why = "could not fetch DS records";
		d.ttl = FAILED_TTL;
	} else {
		val_ds_step(r->wire, r->len, job->child, &job->cur, time(NULL),
			    &d);
	}
	struct val_key k = { .ede = DNS_EDE_NONE };
	switch (d.kind) {
	case VAL_DS_FOUND:
		ldns_rr_list_deep_free(job->child_ds);	/* the cut above's */
		job->child_ds = d.ds;
		job->child_ds_ttl = d.ttl;
		fetch(job, job->child, LDNS_RR_TYPE_DNSKEY, WAIT_DNSKEY);
		return;
	case VAL_DS_NOT_CUT: {
		/* Same zone, same keys, one label further down. */
		uint32_t ttl = MIN(d.ttl, seconds_left(job, job->cur_expire_ms));
		kc_store(job->vs, job->child, &job->cur, ttl);
		ldns_rdf_deep_free(job->cur_name);
		job->cur_name = job->child;
		job->child = NULL;
		return;
	}
	case VAL_DS_INSECURE:
		key_set(&k, VAL_INSECURE, d.ede, d.why);
		break;
	case VAL_DS_BOGUS:
		key_set(&k, VAL_BOGUS, d.ede, d.why);
		d.ttl = MIN(d.ttl, BOGUS_TTL);
		break;
	}
	kc_store(job->vs, job->child, &k, d.ttl);
	resolve(job, &k);
	val_key_clear(&k);
}

static void on_fetched(struct fwd_waiter *w, const struct fwd_result *r)
{
	struct val_job *job = container_of(w, struct val_job, waiter);
	enum job_wait wait = job->wait;
	job->wait = WAIT_NONE;
	if (wait == WAIT_DS)
		got_ds(job, r);
	else if (wait == WAIT_DNSKEY)
		got_dnskey(job, r);
	job_continue(job);
}

/* ------------------------------------------------------------------ walking */

/* Start the walk for target: from the deepest cached entry at or above
 * it (but not above its anchor), else from the anchor itself. Returns
 * false when the need is resolved without a walk. */
static bool walk_start(struct val_job *job, const ldns_rdf *target)
{
	const struct val_anchor *a = dns_trust_find(job->env->trust, target);
	if (job->negative) {
		resolve_as(job, VAL_INSECURE, DNS_EDE_NONE,
			   "below a negative trust anchor");
		return false;
	}
	if (!a || a->negative) {
		resolve_as(job, VAL_INSECURE, DNS_EDE_NONE,
			   a ? "below a negative trust anchor"
			     : "no trust anchor above the name");
		return false;
	}
	job->anchor = a;
	job->target = canonical_copy(target);
	unsigned labels = ldns_dname_label_count(job->target);
	unsigned top = ldns_dname_label_count(a->name);
	for (unsigned n = labels + 1; n-- > top;) {
		ldns_rdf *name = ldns_dname_clone_from(job->target,
						       (uint16_t)(labels - n));
		struct kc_entry *e = name ? kc_find(job->vs, name) : NULL;
		if (!e) {
			ldns_rdf_deep_free(name);
			continue;
		}
		if (e->key.status != VAL_SECURE) {
			ldns_rdf_deep_free(name);
			resolve(job, &e->key);	/* insecure or bogus above */
			return false;
		}
		struct val_key k;
		key_copy(&k, &e->key);
		reach(job, name, &k, e->expire_ms);
		ldns_rdf_deep_free(name);
		return true;
	}
	job->child = ldns_rdf_clone(a->name);
	fetch(job, a->name, LDNS_RR_TYPE_DNSKEY, WAIT_DNSKEY);
	return true;
}

/* One step of the walk that is under way: done, or fetch the next DS. */
static void walk_step(struct val_job *job)
{
	if (ldns_dname_compare(job->cur_name, job->target) == 0) {
		resolve(job, &job->cur);
		return;
	}
	unsigned have = ldns_dname_label_count(job->cur_name);
	unsigned labels = ldns_dname_label_count(job->target);
	job->child = ldns_dname_clone_from(job->target,
					   (uint16_t)(labels - have - 1));
	if (!job->child) {
		resolve_as(job, VAL_BOGUS, DNS_EDE_OTHER, "out of memory");
		return;
	}
	struct kc_entry *e = kc_find(job->vs, job->child);
	if (e && e->key.status == VAL_SECURE) {
		struct val_key k;
		key_copy(&k, &e->key);
		ldns_rdf *name = job->child;
		job->child = NULL;
		reach(job, name, &k, e->expire_ms);
		ldns_rdf_deep_free(name);
		return;
	}
	if (e) {
		resolve(job, &e->key);
		return;
	}
	fetch(job, job->child, LDNS_RR_TYPE_DS, WAIT_DS);
}

static void finish(struct val_job *job)
{
	val_msg_judge(job->msg, resolved_key, job, time(NULL));
	job->done(job, job->ctx);
}

/* Drive the job until it waits for a fetch or has judged. */
static void job_continue(struct val_job *job)
{
	const ldns_rdf *const *needs;
	size_t n = val_msg_needs(job->msg, &needs);
	while (job->wait == WAIT_NONE) {
		if (job->cur_name || job->child) {
			walk_step(job);
			continue;
		}
		if (job->need >= n) {
			finish(job);
			return;
		}
		walk_start(job, needs[job->need]);
	}
}

/* A question at or below a negative trust anchor is not validated at all
 * (RFC 7646): its answer may be signed by a zone above the anchor. */
void val_job_run(struct val_job *job)
{
	const struct val_anchor *a = dns_trust_find(job->env->trust,
						    val_msg_qname(job->msg));
	job->negative = a && a->negative;
	job_continue(job);
}
