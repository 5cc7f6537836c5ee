/*  anchord - dns/request.c: the request pipeline and the per-worker state.
 *
 *      parse -> checks -> local data -> cache -> forwarder -> answer
 *
 *  Everything up to the cache runs synchronously inside the transport's
 *  callback and builds the answer in the worker's scratch buffer; only a
 *  cache miss suspends the request (it keeps a copy of the header and the
 *  question, which is all an answer needs).
 *
 *  With validation on, every answer carries a verdict, and each client
 *  gets what its bits ask for: a bogus answer is SERVFAIL with the EDE
 *  that says why, unless CD asks for the data anyway (RFC 4035 3.2.2,
 *  RFC 6840 5.9); AD is set on secure answers for clients that set DO or
 *  AD (RFC 6840 5.7, 5.8), CD or not: the data was checked either way.
 *  Stale answers never carry AD, since their signatures may have expired
 *  meanwhile. A cache hit costs the same with validation as without: the
 *  verdict is a byte of the entry.
 */
#include "dns/internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_FREELIST_MAX 1024
#define MAX_INFLIGHT 65536		/* per worker; beyond, queries are dropped */
#define STALE_TTL 30			/* RFC 8767 4: TTL of stale records */
#define QUERY_COPY_MAX (DNS_HEADER_SIZE + DNS_MAX_NAME + 4)

struct dns_request {
	struct dns_worker *w;
	struct dns_env *env;
	bool env_ref;			/* a reference is held (async) */
	const struct dns_reply_ops *ops;	/* NULL: orphaned */
	void *ctx;
	struct util_list transport_node;
	struct util_list wait_node;
	struct dns_client client;
	uint16_t limit;			/* answer size limit */
	bool cached, stale;		/* for the observer */
	int8_t verdict;			/* enum val_status, -1: none known */
	bool confined;			/* under a MUD policy: tell the PEP */
	uint64_t started_ns;		/* only kept with an observer */
	struct dns_query q;
	uint8_t query[QUERY_COPY_MAX];	/* header and question */
};

struct dns_worker {
	uv_loop_t *loop;
	struct dns_cache *cache;
	struct dns_env *env;
	struct fwd_state *fwd;
	struct dns_worker_stats stats;
	struct dns_worker_health health;
	unsigned inflight;
	struct dns_rng rng;
	struct dns_request **free_reqs;
	unsigned n_free;
	struct dns_scan scan;
	dns_answered_fn answered;	/* the query log, or NULL */
	void *answered_ctx;
	struct policy *policy;		/* NULL: everyone may ask anything */
	dns_mud_wanted_fn mud_wanted;
	dns_confined_fn confined;
	void *policy_ctx;
	uint64_t block_log_second;	/* rate limit of block log lines */
	unsigned block_log_count;
	uint64_t block_log_suppressed;
	uint8_t recv_buf[DNS_MAX_MSG];
	uint8_t scratch[DNS_HEADROOM + DNS_MAX_MSG];
};

/* ------------------------------------------------------------------ worker */

struct dns_worker *dns_worker_new(uv_loop_t *loop, struct dns_cache *cache,
				  struct dns_env *env)
{
	struct dns_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->loop = loop;
	w->cache = cache;
	w->rng.used = sizeof(w->rng.buf);
	w->free_reqs = calloc(REQUEST_FREELIST_MAX, sizeof(*w->free_reqs));
	w->fwd = fwd_new(w, loop);
	if (!w->free_reqs || !w->fwd) {
		dns_worker_free(w);
		return NULL;
	}
	dns_worker_set_env(w, env);
	return w;
}

void dns_worker_set_env(struct dns_worker *w, struct dns_env *env)
{
	dns_env_ref(env);
	if (w->env)
		dns_env_unref(w->env);
	w->env = env;
	fwd_set_env(w->fwd, env);
}

unsigned dns_worker_inflight(const struct dns_worker *w)
{
	return w->inflight;
}

void dns_worker_shutdown(struct dns_worker *w)
{
	fwd_shutdown(w->fwd);
}

void dns_worker_free(struct dns_worker *w)
{
	if (!w)
		return;
	fwd_free(w->fwd);
	for (unsigned i = 0; i < w->n_free; i++)
		free(w->free_reqs[i]);
	free(w->free_reqs);
	if (w->env)
		dns_env_unref(w->env);
	policy_unref(w->policy);
	free(w);
}

void dns_worker_set_policy(struct dns_worker *w, struct policy *p)
{
	if (p)
		policy_ref(p);
	policy_unref(w->policy);
	w->policy = p;
}

void dns_worker_set_policy_hooks(struct dns_worker *w, dns_mud_wanted_fn wanted,
				 dns_confined_fn confined, void *ctx)
{
	w->mud_wanted = wanted;
	w->confined = confined;
	w->policy_ctx = ctx;
}

void dns_worker_identify(struct dns_worker *w, struct dns_client *c)
{
	if (!w->policy || c->policy.generation == policy_generation(w->policy))
		return;
	struct policy_who who = {
		.addr = (const struct sockaddr *)&c->addr.ss,
		.cert_verified = c->cert_present && c->cert_verified,
		.cert_cn = c->cert_cn[0] ? c->cert_cn : NULL,
		.cert_mud_url = c->cert_mud_url[0] ? c->cert_mud_url : NULL,
		.client_id = c->client_id[0] ? c->client_id : NULL,
	};
	policy_identify(w->policy, &who, &c->policy);
	if (c->policy.mud_url_unknown && w->mud_wanted)
		w->mud_wanted(w->policy_ctx, c->cert_mud_url,
			      c->cert_mud_signer, c->cert_mud_signer_len);
}

void dns_worker_set_answered(struct dns_worker *w, dns_answered_fn fn,
			     void *ctx)
{
	w->answered = fn;
	w->answered_ctx = ctx;
}

const struct dns_worker_stats *dns_worker_get_stats(const struct dns_worker *w)
{
	return &w->stats;
}

const struct dns_worker_health *dns_worker_get_health(const struct dns_worker *w)
{
	return &w->health;
}

struct dns_worker_health *dns_worker_health_mut(struct dns_worker *w)
{
	return &w->health;
}

uint8_t *dns_worker_recv_buf(struct dns_worker *w) { return w->recv_buf; }
struct dns_scan *dns_worker_scan_buf(struct dns_worker *w) { return &w->scan; }
struct dns_rng *dns_worker_rng(struct dns_worker *w) { return &w->rng; }
struct dns_cache *dns_worker_cache(struct dns_worker *w) { return w->cache; }

struct dns_worker_stats *dns_worker_stats_mut(struct dns_worker *w)
{
	return &w->stats;
}

uint16_t dns_rng_u16(struct dns_rng *rng)
{
	if (rng->used + 2 > sizeof(rng->buf)) {
		randombytes_buf(rng->buf, sizeof(rng->buf));
		rng->used = 0;
	}
	uint16_t v = (uint16_t)(rng->buf[rng->used] << 8 |
				rng->buf[rng->used + 1]);
	rng->used += 2;
	return v;
}

/* ------------------------------------------------------------------ lifecycle */

static struct dns_request *request_alloc(struct dns_worker *w)
{
	if (w->n_free)
		return w->free_reqs[--w->n_free];
	return malloc(sizeof(struct dns_request));
}

static void request_release(struct dns_request *req)
{
	struct dns_worker *w = req->w;
	util_list_remove(&req->transport_node);
	if (req->env_ref)
		dns_env_unref(req->env);
	w->inflight--;
	if (w->n_free < REQUEST_FREELIST_MAX)
		w->free_reqs[w->n_free++] = req;
	else
		free(req);
}

void dns_requests_orphan(struct util_list *inflight)
{
	while (!util_list_empty(inflight)) {
		struct dns_request *req = container_of(inflight->next,
						       struct dns_request,
						       transport_node);
		util_list_remove(&req->transport_node);
		req->ops = NULL;
	}
}

struct util_list *dns_request_wait_node(struct dns_request *req)
{
	return &req->wait_node;
}

struct dns_request *dns_request_from_wait(struct util_list *node)
{
	return container_of(node, struct dns_request, wait_node);
}

struct dns_env *dns_request_env(struct dns_request *req)
{
	return req->env;
}

/* ------------------------------------------------------------------ observing */

const char *dns_type_name(uint16_t type)
{
	/* ldns knows the record types (its table is static and const), but
	 * not the query-only ones. */
	switch (type) {
	case DNS_TYPE_IXFR: return "IXFR";
	case DNS_TYPE_AXFR: return "AXFR";
	case DNS_TYPE_MAILB: return "MAILB";
	case DNS_TYPE_MAILA: return "MAILA";
	case DNS_TYPE_ANY: return "ANY";
	default: break;
	}
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	return d && d->_name ? d->_name : NULL;
}

const char *dns_rcode_name(unsigned rcode)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
		"REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
		"NOTZONE", [DNS_RCODE_BADVERS] = "BADVERS",
	};
	return rcode < ARRAY_SIZE(names) ? names[rcode] : NULL;
}

static const char *verdict_name(int verdict)
{
	switch (verdict) {
	case VAL_SECURE: return "secure";
	case VAL_INSECURE: return "insecure";
	case VAL_BOGUS: return "bogus";
	default: return NULL;	/* unchecked: validation is off */
	}
}

static void tell_observer(const struct dns_request *req, unsigned rcode,
			  int ede)
{
	struct dns_answered a = {
		.client = &req->client,
		.q = &req->q,
		.rcode = rcode,
		.ede = ede,
		.cached = req->cached,
		.stale = req->stale,
		.dnssec = verdict_name(req->verdict),
		.latency_ns = uv_hrtime() - req->started_ns,
	};
	req->w->answered(req->w->answered_ctx, &a);
}

/* ------------------------------------------------------------------ answering */

static void begin_answer(struct dns_request *req, struct dns_builder *b)
{
	dns_builder_begin(b, req->w->scratch + DNS_HEADROOM, DNS_MAX_MSG,
			  req->limit, &req->q, req->query);
}

/* Finish the OPT record as the transport allows, hand the answer over and
 * release the request. */
static void send_answer(struct dns_request *req, struct dns_builder *b,
			int ede, const char *ede_text)
{
	const struct dns_conf *c = dns_env_conf(req->env);
	struct dns_answer_edns e = {
		.ede = ede,
		.ede_text = ede_text,
		.pad = req->client.encrypted,
		.keepalive = req->client.stream && req->q.edns_keepalive,
		.keepalive_100ms = c->tcp_keepalive_100ms,
		.udp_size = c->edns_udp_size,
	};
	size_t len = dns_builder_finish(b, &e);
	struct dns_worker_stats *st = &req->w->stats;
	st->rcodes[MIN(b->rcode, ARRAY_SIZE(st->rcodes) - 1)]++;
	if (req->w->answered && req->ops)
		tell_observer(req, b->rcode, ede);
	if (req->confined && req->ops && b->rcode == DNS_RCODE_NOERROR &&
	    req->w->confined)
		req->w->confined(req->w->policy_ctx, &req->client, b->buf, len);
	/* Off the transport's list first: send may free the list. */
	util_list_remove(&req->transport_node);
	if (req->ops)
		req->ops->send(req, req->ctx, b->buf, len);
	request_release(req);
}

void dns_request_answer_error(struct dns_request *req, unsigned rcode, int ede,
			      const char *text)
{
	struct dns_builder b;
	begin_answer(req, &b);
	dns_builder_set_rcode(&b, rcode);
	send_answer(req, &b, ede, text);
}

/* Whether a client gets AD on an answer of this verdict. */
static bool wants_ad(const struct dns_query *q, enum val_status status,
		     bool stale)
{
	return status == VAL_SECURE && !stale && (q->edns_do || q->ad);
}

/* A bogus answer is an error unless the client checks for itself. */
static bool refuse_bogus(const struct dns_query *q, enum val_status status)
{
	return status == VAL_BOGUS && !q->cd;
}

void dns_request_answer_validated(struct dns_request *req,
				  const struct dns_validated *v)
{
	struct dns_builder b;
	begin_answer(req, &b);
	req->verdict = (int8_t)v->status;
	if (refuse_bogus(&req->q, v->status)) {
		dns_builder_set_rcode(&b, DNS_RCODE_SERVFAIL);
		send_answer(req, &b, v->ede, v->why);
		return;
	}
	int i = req->q.edns_do ? 1 : 0;
	const struct dns_scan *s = v->scan[i];
	dns_builder_set_rcode(&b, s->rcode);
	dns_builder_put_records(&b, v->wire[i] + s->question_end,
				s->records_end - s->question_end, s->an, s->ns,
				s->ar, v->ttl[i], v->n_ttl[i], 0, -1);
	if (wants_ad(&req->q, v->status, false))
		dns_builder_set_flags(&b, 0, DNS_FLAG2_AD);
	send_answer(req, &b, v->ede, v->ede >= 0 ? v->why : NULL);
}

void dns_request_answer_upstream(struct dns_request *req, const uint8_t *wire,
				 const struct dns_scan *s,
				 const struct dns_ttl_ref *ttl, unsigned n_ttl)
{
	struct dns_builder b;
	begin_answer(req, &b);
	dns_builder_set_rcode(&b, s->rcode);
	dns_builder_put_records(&b, wire + s->question_end,
				s->records_end - s->question_end, s->an, s->ns,
				s->ar, ttl, n_ttl, 0, -1);
	send_answer(req, &b, DNS_EDE_NONE, NULL);
}

struct cached_answer {
	struct dns_builder *b;
	int ede;
	const char *ede_text;
	bool used;
	uint8_t verdict;
};

static void use_cached(void *ctx, const struct dns_cache_view *v)
{
	struct cached_answer *ca = ctx;
	const struct dns_query *q = ca->b->q;
	if (v->question_end != ca->b->question_end)
		return;		/* cannot happen with equal keys; be safe */
	ca->used = true;
	ca->verdict = v->dnssec;
	if (refuse_bogus(q, v->dnssec)) {
		dns_builder_set_rcode(ca->b, DNS_RCODE_SERVFAIL);
		ca->ede = v->ede;
		ca->ede_text = v->why ? v->why : "DNSSEC validation failed";
		return;
	}
	if (wants_ad(q, v->dnssec, v->stale))
		dns_builder_set_flags(ca->b, 0, DNS_FLAG2_AD);
	if (v->ede >= 0 && !v->failure) {
		ca->ede = v->ede;	/* e.g. an unsupported algorithm */
		ca->ede_text = v->why;
	}
	dns_builder_set_rcode(ca->b, v->rcode);
	dns_builder_put_records(ca->b, v->rrs, v->rrs_len, v->an, v->ns, v->ar,
				v->ttl, v->n_ttl, v->elapsed,
				v->stale ? STALE_TTL : -1);
	if (v->failure) {
		ca->ede = v->ede;
		ca->ede_text = v->why ? v->why : "cached resolution failure";
	} else if (v->stale) {
		ca->ede = DNS_EDE_STALE_ANSWER;
		ca->ede_text = "upstream resolvers unreachable";
	}
}

/* Look the request up; on success the answer has been sent. */
static bool answer_from_cache(struct dns_request *req, enum dns_cache_mode mode,
			      bool *stale_available, bool *retry_stale)
{
	uint8_t key[DNS_MAX_KEY];
	size_t klen = dns_cache_key(key, &req->q, req->env->trust != NULL);
	uint64_t hash = util_hash(key, klen);
	struct dns_builder b;
	begin_answer(req, &b);
	struct cached_answer ca = { .b = &b, .ede = DNS_EDE_NONE };
	enum dns_cache_result r = dns_cache_get(req->w->cache, key, klen, hash,
						uv_now(req->w->loop), mode,
						use_cached, &ca, retry_stale);
	if (stale_available)
		*stale_available = r == DNS_CACHE_STALE;
	if (!ca.used)
		return false;
	if (r == DNS_CACHE_STALE)
		req->w->stats.stale_answers++;
	else
		req->w->stats.cache_hits++;
	req->cached = true;
	req->stale = r == DNS_CACHE_STALE;
	req->verdict = (int8_t)ca.verdict;
	send_answer(req, &b, ca.ede, ca.ede_text);
	return true;
}

bool dns_request_try_stale(struct dns_request *req)
{
	return answer_from_cache(req, DNS_CACHE_ALLOW_STALE, NULL, NULL);
}

/* ------------------------------------------------------------------ pipeline */

static uint16_t answer_limit(const struct dns_request *req, uint16_t max_size)
{
	const struct dns_conf *c = dns_env_conf(req->env);
	if (req->client.transport != DNS_TRANSPORT_UDP)
		return max_size ? max_size : DNS_MAX_MSG;
	if (!req->q.edns)
		return 512;
	return MAX(512, MIN(req->q.edns_udp, c->edns_udp_size));
}

/* Queries anchord does not serve get a definite answer. Returns false when
 * it has answered. */
static bool check_query(struct dns_request *req)
{
	const struct dns_query *q = &req->q;
	if (q->opcode != 0) {
		dns_request_answer_error(req, DNS_RCODE_NOTIMP, DNS_EDE_NONE, NULL);
		return false;
	}
	if (q->edns && q->edns_version > 0) {
		dns_request_answer_error(req, DNS_RCODE_BADVERS, DNS_EDE_NONE, NULL);
		return false;
	}
	switch (q->qtype) {
	case DNS_TYPE_OPT:
	case DNS_TYPE_TSIG:
	case DNS_TYPE_TKEY:
		dns_request_answer_error(req, DNS_RCODE_FORMERR, DNS_EDE_NONE,
					 NULL);
		return false;
	case DNS_TYPE_AXFR:
	case DNS_TYPE_IXFR:
		dns_request_answer_error(req, DNS_RCODE_REFUSED,
					 DNS_EDE_NOT_SUPPORTED,
					 "zone transfers are not served");
		return false;
	case DNS_TYPE_MAILA:
	case DNS_TYPE_MAILB:
		dns_request_answer_error(req, DNS_RCODE_NOTIMP, DNS_EDE_NONE,
					 NULL);
		return false;
	default:
		break;
	}
	if (q->qclass != DNS_CLASS_IN) {
		unsigned rcode = q->qclass == DNS_CLASS_ANY ? DNS_RCODE_NOTIMP
							    : DNS_RCODE_REFUSED;
		dns_request_answer_error(req, rcode, DNS_EDE_NOT_SUPPORTED,
					 "only class IN is served");
		return false;
	}
	return true;
}

static bool answer_local(struct dns_request *req)
{
	struct dns_builder b;
	begin_answer(req, &b);
	int ede = DNS_EDE_NONE;
	if (dns_local_answer(req->env->local, &req->q, &b, &ede) ==
	    DNS_LOCAL_NONE)
		return false;
	req->w->stats.local_answers++;
	send_answer(req, &b, ede, NULL);
	return true;
}

static void forward(struct dns_request *req, bool stale_available)
{
	uint8_t key[DNS_MAX_KEY];
	size_t klen = dns_cache_key(key, &req->q, req->env->trust != NULL);
	uint64_t hash = util_hash(key, klen);
	req->w->stats.cache_misses++;
	dns_env_ref(req->env);
	req->env_ref = true;
	if (fwd_resolve(req->w->fwd, req, &req->q, key, klen, hash,
			stale_available) != 0) {
		if (!dns_request_try_stale(req))
			dns_request_answer_error(req, DNS_RCODE_SERVFAIL,
						 DNS_EDE_OTHER,
						 "resolver overloaded");
	}
}

/* Every block is counted; the log gets at most BLOCK_LOG_PER_SECOND lines a
 * second per worker, so that a device hammering a blocked name cannot
 * flood it, and says how many it left out. */
#define BLOCK_LOG_PER_SECOND 20

static void log_block(struct dns_request *req,
		      const struct policy_decision *d)
{
	struct dns_worker *w = req->w;
	uint64_t second = uv_now(w->loop) / 1000;
	if (second != w->block_log_second) {
		if (w->block_log_suppressed)
			log_info("policy", "%" PRIu64 " more blocked queries "
				 "not logged", w->block_log_suppressed);
		w->block_log_second = second;
		w->block_log_count = 0;
		w->block_log_suppressed = 0;
	}
	if (++w->block_log_count > BLOCK_LOG_PER_SECOND) {
		w->block_log_suppressed++;
		return;
	}
	char name[DNS_MAX_NAME * 4], addr[UTIL_ADDR_STRLEN];
	const struct dns_client *c = &req->client;
	log_info("policy", "blocked %s %s for %s%s%s (profile %s): %s",
		 dns_name_str(req->q.qname, name, sizeof(name)),
		 dns_type_name(req->q.qtype) ? dns_type_name(req->q.qtype) : "",
		 util_addr_str((const struct sockaddr *)&c->addr.ss, addr,
			       sizeof(addr)),
		 c->cert_verified ? " device " : "",
		 c->cert_verified ? c->cert_cn : "", d->profile, d->reason);
}

/* The client's profile and MUD file decide; returns false when the query
 * has been answered (blocked). */
static bool apply_policy(struct dns_request *req)
{
	struct dns_worker *w = req->w;
	if (!w->policy)
		return true;
	dns_worker_identify(w, &req->client);
	struct policy_decision d;
	policy_decide(w->policy, &req->client.policy, req->q.qname, &d);
	req->confined = d.confined;
	switch (d.verdict) {
	case POLICY_ALLOW:
		return true;
	case POLICY_BLOCK:
		w->stats.policy_blocked++;
		log_block(req, &d);
		dns_request_answer_error(req, policy_block_rcode(w->policy),
					 DNS_EDE_BLOCKED, d.reason);
		return false;
	case POLICY_NOT_READY:
		w->stats.policy_not_ready++;
		dns_request_answer_error(req, DNS_RCODE_SERVFAIL,
					 DNS_EDE_NOT_READY, d.reason);
		return false;
	}
	return true;
}

static void run_pipeline(struct dns_request *req)
{
	if (!check_query(req) || !apply_policy(req) || answer_local(req))
		return;
	if (!req->q.rd) {
		/* Not ours to answer without recursion; no cache snooping. */
		dns_request_answer_error(req, DNS_RCODE_REFUSED,
					 DNS_EDE_NOT_AUTHORITATIVE,
					 "recursion not desired");
		return;
	}
	bool stale = false, retry_stale = false;
	if (answer_from_cache(req, DNS_CACHE_FRESH, &stale, &retry_stale))
		return;
	/* Upstreams failed moments ago: stale data now, no new attempt. */
	if (stale && retry_stale && dns_request_try_stale(req))
		return;
	forward(req, stale);
}

const struct dns_client *dns_request_client(const struct dns_request *req)
{
	return &req->client;
}

void dns_request_start(struct dns_worker *w, const uint8_t *wire, size_t len,
		       const struct dns_client *client, uint16_t max_size,
		       const struct dns_reply_ops *ops, void *ctx,
		       struct util_list *inflight)
{
	w->stats.queries[client->transport]++;
	struct dns_request *req = NULL;
	if (w->inflight < MAX_INFLIGHT)
		req = request_alloc(w);
	if (!req) {
		w->stats.dropped++;
		if (ops->dropped)
			ops->dropped(NULL, ctx);
		return;
	}
	w->inflight++;
	req->w = w;
	req->env = w->env;
	req->env_ref = false;
	req->ops = ops;
	req->ctx = ctx;
	req->client = *client;
	req->cached = req->stale = false;
	req->verdict = -1;
	req->confined = false;
	req->started_ns = w->answered ? uv_hrtime() : 0;
	util_list_init(&req->transport_node);
	util_list_init(&req->wait_node);
	if (inflight)
		util_list_push(inflight, &req->transport_node);
	enum dns_parse_result r = dns_query_parse(wire, len, &req->q);
	if (r == DNS_PARSE_DROP) {
		w->stats.dropped++;
		util_list_remove(&req->transport_node);
		if (ops->dropped)
			ops->dropped(req, ctx);
		request_release(req);
		return;
	}
	size_t copy = req->q.question_end ? req->q.question_end
					  : DNS_HEADER_SIZE;
	memcpy(req->query, wire, copy);
	req->limit = answer_limit(req, max_size);
	if (r == DNS_PARSE_FORMERR) {
		w->stats.formerr_in++;
		dns_request_answer_error(req, DNS_RCODE_FORMERR, DNS_EDE_NONE,
					 NULL);
		return;
	}
	run_pipeline(req);
}
