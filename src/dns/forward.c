/*  anchord - dns/forward.c: asking the upstream resolvers.
 *
 *  One forwarding query per (name, type, class, DO, CD) in flight per
 *  worker: identical requests wait on it (coalescing). Each attempt goes to
 *  the healthiest upstream not tried yet, over a fresh UDP socket (random
 *  source port, random ID, connected so the kernel only passes datagrams
 *  from that upstream) or over the upstream's pipelined TCP connection.
 *  Earlier attempts stay open, so a late answer still counts. An answer
 *  must match ID and question; a truncated one is asked again over TCP.
 *  When every upstream fails, stale cache data is served (RFC 8767),
 *  otherwise SERVFAIL with an Extended DNS Error.
 *
 *  With validation on, upstreams are asked with DO and CD set (RFC 6840
 *  5.9), whatever the client asked: one query per name and type serves
 *  every client. The answer is judged (dns/chain.c, which fetches DS and
 *  DNSKEY records through lookups here) while the query keeps coalescing;
 *  the verdict and the answer in its two forms (with and without DNSSEC
 *  records) go into the cache, and each client gets the form its own DO,
 *  CD and AD bits call for (dns/request.c).
 *
 *  A DoT upstream with dane (RFC 7671, RFC 8310 8.2) is authenticated by
 *  the TLSA records at _port._tcp.<name>, looked up through this same
 *  forwarder and validator: only a secure RRset counts. Client queries
 *  wait for that lookup; the lookup itself, and the DS and DNSKEY fetches
 *  its validation needs, may go to the same server over a twin connection
 *  that is not authenticated (DNSSEC protects what it carries, and no
 *  client query uses it).
 */
#include "dns/internal.h"
#include "net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOLVE_DEADLINE_MS 3000	/* answer (or fail) before stubs give up */
#define STALE_ANSWER_MS 1200		/* RFC 8767 client response timer */
#define STALE_RETRY_MS 30000		/* RFC 8767 failure recheck timer */
#define FAILURE_TTL_S 5			/* RFC 9520: cache failures briefly */
#define INITIAL_RTO_MS 400
#define MIN_RTO_MS 250
#define MAX_RTO_MS 1500
#define MAX_OPEN_ATTEMPTS 3
#define MAX_ATTEMPTS 8
#define DOWN_AFTER_FAILURES 3
#define DOWN_MAX_MS 60000
#define TCP_IDLE_MS 10000		/* close an unused upstream connection */
#define MAX_PENDING 20000		/* forwarding queries per worker */
#define VALIDATE_DEADLINE_MS 4000	/* judging, fetches included */

static void fq_send_next(struct fwd_query *fq);
static void fq_fail(struct fwd_query *fq);

/* ------------------------------------------------------------------ upstream health */

static uint64_t upstream_rto(const struct fwd_upstream *up)
{
	if (up->srtt_ms <= 0)
		return INITIAL_RTO_MS;
	uint64_t rto = (uint64_t)(up->srtt_ms * 4) + 200;
	return MAX(MIN_RTO_MS, MIN(rto, MAX_RTO_MS));
}

/* Copy the current upstreams' state where other threads can read it. */
static void publish_health(struct fwd_state *fwd)
{
	struct dns_worker_health *h = dns_worker_health_mut(fwd->w);
	uint64_t now = util_now_ms();
	size_t n = 0;
	for (; n < fwd->n_cur && n < DNS_HEALTH_MAX; n++) {
		const struct fwd_upstream *up = fwd->cur[n];
		struct dns_upstream_health *e = &h->up[n];
		util_addr_str((const struct sockaddr *)&up->conf.addr.ss,
			      e->address, sizeof(e->address));
		e->transport = up->conf.transport;
		e->srtt_ms = (uint32_t)(up->srtt_ms > 0 ? up->srtt_ms : 0);
		e->failures = up->failures;
		e->down = up->down_until_ms > now;
	}
	h->n = n;
	fwd->health_published_ms = now;
}

static void upstream_success(struct fwd_upstream *up, uint64_t rtt_ms)
{
	double rtt = (double)rtt_ms;
	bool recovered = up->failures > 0;
	up->srtt_ms = up->srtt_ms <= 0 ? rtt : 0.7 * up->srtt_ms + 0.3 * rtt;
	up->failures = 0;
	up->down_until_ms = 0;
	up->down_ms = 0;
	if (recovered ||
	    util_now_ms() - up->fwd->health_published_ms >= 1000)
		publish_health(up->fwd);
}

static void upstream_failure(struct fwd_upstream *up, uint64_t now)
{
	up->srtt_ms = MIN(MAX(up->srtt_ms, 50.0) * 2, (double)MAX_RTO_MS);
	if (++up->failures < DOWN_AFTER_FAILURES) {
		publish_health(up->fwd);
		return;
	}
	/* Back off exponentially; the server is probed again afterwards. */
	up->down_ms = up->down_ms ? MIN(up->down_ms * 2, DOWN_MAX_MS) : 1000;
	up->down_until_ms = now + up->down_ms;
	if (up->failures == DOWN_AFTER_FAILURES) {
		char a[UTIL_ADDR_STRLEN];
		log_warning("forward", "upstream %s is not answering; "
			    "avoiding it for %llu ms",
			    util_addr_str((struct sockaddr *)&up->conf.addr.ss,
					  a, sizeof(a)),
			    (unsigned long long)up->down_ms);
	}
	publish_health(up->fwd);
}

/* Healthiest upstream not tried in this round; all tried starts a round. */
static struct fwd_upstream *pick_upstream(struct fwd_query *fq, uint64_t now,
					  size_t *index)
{
	struct fwd_state *fwd = fq->fwd;
	for (int round = 0; round < 2; round++) {
		struct fwd_upstream *best = NULL;
		double best_score = 0;
		for (size_t i = 0; i < fwd->n_cur && i < 64; i++) {
			struct fwd_upstream *up = fwd->cur[i];
			if (fq->tried & (1ULL << i))
				continue;
			double score = up->srtt_ms + up->failures * 1000.0 +
				       (up->down_until_ms > now ? 1e9 : 0);
			if (!best || score < best_score) {
				best = up;
				best_score = score;
				*index = i;
			}
		}
		if (best)
			return best;
		fq->tried = 0;
	}
	return NULL;
}

/* ------------------------------------------------------------------ table */

static struct fwd_query *fq_find(struct fwd_state *fwd, const uint8_t *key,
				 size_t klen, uint64_t hash)
{
	struct fwd_query *fq = fwd->buckets[hash & (fwd->n_buckets - 1)];
	for (; fq; fq = fq->hnext)
		if (fq->hash == hash && fq->klen == klen &&
		    memcmp(fq->key, key, klen) == 0)
			return fq;
	return NULL;
}

static void fq_table_insert(struct fwd_state *fwd, struct fwd_query *fq)
{
	struct fwd_query **b = &fwd->buckets[fq->hash & (fwd->n_buckets - 1)];
	fq->hnext = *b;
	*b = fq;
	fwd->count++;
}

static void fq_table_remove(struct fwd_state *fwd, struct fwd_query *fq)
{
	struct fwd_query **pp = &fwd->buckets[fq->hash & (fwd->n_buckets - 1)];
	while (*pp && *pp != fq)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = fq->hnext;
		fwd->count--;
	}
}

/* ------------------------------------------------------------------ attempts */

static void upstream_release(struct fwd_upstream *up);

static void attempt_free(struct fwd_attempt *a)
{
	struct fwd_upstream *up = a->up;
	free(a);
	/* An upstream dropped from the configuration goes with its last
	 * attempt. */
	if (--up->refs == 0 && !up->current && util_list_empty(&up->tcp_attempts))
		upstream_release(up);
}

static void attempt_closed(uv_handle_t *h)
{
	attempt_free(h->data);
}

static void attempt_end(struct fwd_attempt *a)
{
	if (a->closing)
		return;
	a->closing = true;
	util_list_remove(&a->node);
	util_list_remove(&a->conn_node);
	a->fq = NULL;
	if (a->udp_open)
		uv_close((uv_handle_t *)&a->udp, attempt_closed);
	else
		attempt_free(a);
}

/* Query wire for the upstream: RD, the client's CD, our own random ID, the
 * lower-cased question and an OPT record with the client's DO bit. When
 * anchord judges the answer itself, DO and CD are always set. */
static size_t build_upstream_query(const struct fwd_query *fq, uint16_t id,
				   bool edns, uint8_t *out)
{
	const struct dns_query *q = &fq->q;
	bool dnssec = fq->validate || fq->raw;
	memset(out, 0, DNS_HEADER_SIZE);
	out[0] = (uint8_t)(id >> 8);
	out[1] = (uint8_t)id;
	out[2] = DNS_FLAG1_RD;
	out[3] = q->cd || dnssec ? DNS_FLAG2_CD : 0;
	out[5] = 1;
	size_t p = DNS_HEADER_SIZE;
	memcpy(out + p, q->qname, q->qname_len);
	p += q->qname_len;
	out[p++] = (uint8_t)(q->qtype >> 8);
	out[p++] = (uint8_t)q->qtype;
	out[p++] = (uint8_t)(q->qclass >> 8);
	out[p++] = (uint8_t)q->qclass;
	if (edns) {
		out[11] = 1;
		uint8_t opt[11] = { 0, 0, DNS_TYPE_OPT,
				    DNS_EDNS_UDP_DEFAULT >> 8,
				    DNS_EDNS_UDP_DEFAULT & 0xFF, 0, 0,
				    q->edns_do || dnssec ? 0x80 : 0, 0, 0, 0 };
		memcpy(out + p, opt, sizeof(opt));
		p += sizeof(opt);
	}
	return p;
}

static bool question_matches(const struct fwd_query *fq,
			     const struct dns_scan *s)
{
	return s->qtype == fq->q.qtype && s->qclass == fq->q.qclass &&
	       s->qname_len == fq->q.qname_len && !s->qname_compressed &&
	       memcmp(s->qname, fq->q.qname, s->qname_len) == 0;
}

static void attempt_response(struct fwd_attempt *a, const uint8_t *wire,
			     size_t len);

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct fwd_attempt *a = h->data;
	struct dns_worker *w = a->up->fwd->w;
	*buf = uv_buf_init((char *)dns_worker_recv_buf(w), DNS_MAX_MSG);
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		     const struct sockaddr *addr, unsigned flags)
{
	struct fwd_attempt *a = h->data;
	if (a->closing || !a->fq || nread == 0)
		return;
	if (nread < 0) {
		fwd_attempt_failed(a, DNS_EDE_NETWORK_ERROR, uv_strerror((int)nread));
		return;
	}
	if ((flags & UV_UDP_PARTIAL) ||
	    (addr && !util_addr_equal(addr,
				      (struct sockaddr *)&a->up->conf.addr.ss))) {
		dns_worker_stats_mut(a->up->fwd->w)->upstream_mismatches++;
		return;
	}
	attempt_response(a, (const uint8_t *)buf->base, (size_t)nread);
}

static int attempt_send_udp(struct fwd_attempt *a, const uint8_t *msg,
			    size_t len)
{
	uv_loop_t *loop = a->up->fwd->loop;
	int ret = uv_udp_init(loop, &a->udp);
	if (ret != 0)
		return ret;
	a->udp_open = true;
	a->udp.data = a;
	const struct sockaddr *to = (struct sockaddr *)&a->up->conf.addr.ss;
	ret = uv_udp_connect(&a->udp, to);
	if (ret == 0)
		ret = uv_udp_recv_start(&a->udp, udp_alloc, udp_recv);
	if (ret == 0) {
		uv_buf_t b = uv_buf_init((char *)msg, (unsigned)len);
		int sent = uv_udp_try_send(&a->udp, &b, 1, NULL);
		ret = sent < 0 ? sent : 0;
	}
	return ret;
}

/* ------------------------------------------------------------------ TCP upstream connections */

static void tcp_idle_fire(uv_timer_t *t)
{
	struct fwd_upstream *up = t->data;
	if (up->tcp && util_list_empty(&up->tcp_attempts)) {
		net_client_close(up->tcp);
		up->tcp = NULL;
	}
}

static void tcp_on_message(void *ctx, const uint8_t *msg, size_t len)
{
	struct fwd_upstream *up = ctx;
	if (len < 2)
		return;
	uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &up->tcp_attempts) {
		struct fwd_attempt *a = container_of(pos, struct fwd_attempt,
						     conn_node);
		if (a->id == id) {
			attempt_response(a, msg, len);
			return;
		}
	}
	dns_worker_stats_mut(up->fwd->w)->upstream_mismatches++;
}

static void tcp_on_close(void *ctx, int error)
{
	struct fwd_upstream *up = ctx;
	up->tcp = NULL;
	/* Every attempt on this connection failed: each asks elsewhere. Move
	 * them aside first, since a retry may open a new connection here. */
	struct util_list failed;
	util_list_init(&failed);
	if (!util_list_empty(&up->tcp_attempts)) {
		failed.next = up->tcp_attempts.next;
		failed.prev = up->tcp_attempts.prev;
		failed.next->prev = failed.prev->next = &failed;
		util_list_init(&up->tcp_attempts);
	}
	while (!util_list_empty(&failed)) {
		struct fwd_attempt *a = container_of(failed.next,
						     struct fwd_attempt,
						     conn_node);
		util_list_remove(&a->conn_node);
		fwd_attempt_failed(a, DNS_EDE_NETWORK_ERROR,
			       error ? uv_strerror(error) : "connection closed");
	}
}

static const struct net_client_ops tcp_ops = {
	.on_message = tcp_on_message,
	.on_close = tcp_on_close,
};

static bool tcp_id_in_use(const struct fwd_upstream *up, uint16_t id)
{
	const struct util_list *pos;
	for (pos = up->tcp_attempts.next; pos != &up->tcp_attempts;
	     pos = pos->next)
		if (container_of(pos, struct fwd_attempt, conn_node)->id == id)
			return true;
	return false;
}

/* The TLS profile of a DoT upstream, made on first use; it also keeps the
 * session for resumption. */
static struct net_tls_client *upstream_tls(struct fwd_upstream *up)
{
	if (up->tls || up->conf.transport != DNS_UPSTREAM_DOT)
		return up->tls;
	struct net_tls_client_conf c = {
		.server_name = up->conf.name,
		.pins = (const uint8_t (*)[NET_PIN_LEN])up->conf.pins,
		.n_pins = up->conf.n_pins,
		.ca_file = up->conf.ca_file,
		.alpn = "dot",
		.dane = up->conf.dane,
		.opportunistic = up->twin_of != NULL,
	};
	char err[256];
	up->tls = net_tls_client_new(&c, err, sizeof(err));
	if (!up->tls)
		log_error("forward", "upstream %s: %s",
			  up->conf.name ? up->conf.name : "(DoT)", err);
	else if (up->conf.dane)
		net_tls_client_set_dane(up->tls, up->tlsa, up->n_tlsa);
	return up->tls;
}

int fwd_attempt_send_tcp(struct fwd_attempt *a, struct fwd_query *fq)
{
	struct fwd_upstream *up = a->up;
	bool dot = up->conf.transport == DNS_UPSTREAM_DOT;
	if (dot && !upstream_tls(up))
		return UV_EINVAL;
	if (!up->tcp)
		up->tcp = net_client_connect(up->fwd->loop, &up->conf.addr,
					     up->tls, &tcp_ops, up);
	if (!up->tcp)
		return UV_ENOMEM;
	while (tcp_id_in_use(up, a->id))
		a->id = dns_rng_u16(dns_worker_rng(up->fwd->w));
	uint8_t msg[DNS_HEADER_SIZE + DNS_MAX_NAME + 4 + 11];
	size_t len = build_upstream_query(fq, a->id, a->edns, msg);
	util_list_push(&up->tcp_attempts, &a->conn_node);
	uv_timer_stop(&up->tcp_idle);
	return net_client_send(up->tcp, msg, len);
}

/* ------------------------------------------------------------------ sending */

static void close_oldest_attempt(struct fwd_query *fq)
{
	unsigned open = 0;
	struct util_list *pos;
	for (pos = fq->attempts.next; pos != &fq->attempts; pos = pos->next)
		open++;
	if (open >= MAX_OPEN_ATTEMPTS)
		attempt_end(container_of(fq->attempts.next, struct fwd_attempt,
					 node));
}


static int attempt_start(struct fwd_query *fq, struct fwd_upstream *up,
			 bool tcp)
{
	struct dns_worker *w = fq->fwd->w;
	int gate = up->conf.dane ? fwd_dane_gate(fq, &up) : 0;
	if (gate < 0)
		return gate;
	struct fwd_attempt *a = calloc(1, sizeof(*a));
	if (!a)
		return UV_ENOMEM;
	close_oldest_attempt(fq);
	a->fq = fq;
	a->up = up;
	a->tcp = tcp;
	a->edns = !up->no_edns;
	a->id = dns_rng_u16(dns_worker_rng(w));
	a->sent_ms = uv_now(fq->fwd->loop);
	a->sent_ns = uv_hrtime();
	util_list_init(&a->conn_node);
	util_list_push(&fq->attempts, &a->node);
	up->refs++;
	fq->n_sent++;
	dns_worker_stats_mut(w)->upstream_queries++;
	int ret = 0;
	if (gate > 0) {
		fwd_dane_wait(a);	/* sent when the TLSA records are known */
	} else if (tcp) {
		ret = fwd_attempt_send_tcp(a, fq);
	} else {
		uint8_t msg[DNS_HEADER_SIZE + DNS_MAX_NAME + 4 + 11];
		size_t len = build_upstream_query(fq, a->id, a->edns, msg);
		ret = attempt_send_udp(a, msg, len);
	}
	if (ret != 0)
		attempt_end(a);
	return ret;
}

static void on_attempt_timeout(uv_timer_t *t)
{
	struct fwd_query *fq = t->data;
	struct dns_worker *w = fq->fwd->w;
	dns_worker_stats_mut(w)->upstream_timeouts++;
	if (!util_list_empty(&fq->attempts)) {
		struct fwd_attempt *last = container_of(fq->attempts.prev,
							struct fwd_attempt, node);
		upstream_failure(last->up, uv_now(fq->fwd->loop));
	}
	if (fq->fail_ede < 0) {
		fq->fail_ede = DNS_EDE_NO_REACHABLE_AUTHORITY;
		fq->fail_text = "upstream resolvers did not answer";
	}
	fq_send_next(fq);
}

static void fq_send_next(struct fwd_query *fq)
{
	uv_loop_t *loop = fq->fwd->loop;
	uint64_t now = uv_now(loop);
	uint64_t deadline = fq->started_ms + RESOLVE_DEADLINE_MS;
	for (unsigned guard = 0; !fq->done; guard++) {
		size_t index = 0;
		struct fwd_upstream *up = NULL;
		if (now < deadline && fq->n_sent < MAX_ATTEMPTS &&
		    guard < MAX_ATTEMPTS)
			up = pick_upstream(fq, now, &index);
		if (!up) {
			if (util_list_empty(&fq->attempts) || now >= deadline) {
				fq_fail(fq);
				return;
			}
			/* Nothing left to try; wait for the open attempts. */
			uv_timer_start(&fq->timer, on_attempt_timeout,
				       deadline - now, 0);
			return;
		}
		fq->tried |= 1ULL << index;
		bool tcp = up->conf.transport != DNS_UPSTREAM_UDP;
		if (attempt_start(fq, up, tcp) == 0) {
			uint64_t rto = MIN(upstream_rto(up), deadline - now);
			uv_timer_start(&fq->timer, on_attempt_timeout, rto, 0);
			return;
		}
		upstream_failure(up, now);
		fq->fail_ede = DNS_EDE_NETWORK_ERROR;
		fq->fail_text = up->dane_state == DANE_FAILED && up->dane_why
					? up->dane_why
					: "cannot reach upstream resolvers";
	}
}

/* ------------------------------------------------------------------ finishing */

static void fq_closed(uv_handle_t *h)
{
	struct fwd_query *fq = h->data;
	if (--fq->handles_open == 0) {
		dns_env_unref(fq->env);
		free(fq);
	}
}

/* End every attempt; an unused upstream connection lingers for the next
 * query. */
static void fq_stop_attempts(struct fwd_query *fq)
{
	while (!util_list_empty(&fq->attempts)) {
		struct fwd_attempt *a = container_of(fq->attempts.next,
						     struct fwd_attempt, node);
		struct fwd_upstream *up = a->up;
		bool tcp = a->tcp;
		attempt_end(a);
		if (tcp && up->tcp && util_list_empty(&up->tcp_attempts))
			uv_timer_start(&up->tcp_idle, tcp_idle_fire, TCP_IDLE_MS,
				       0);
	}
}

static void fq_finish(struct fwd_query *fq)
{
	fq->done = true;
	fq_table_remove(fq->fwd, fq);
	fq_stop_attempts(fq);
	val_job_free(fq->job);
	fq->job = NULL;
	free(fq->resp);
	fq->resp = NULL;
	uv_close((uv_handle_t *)&fq->timer, fq_closed);
	uv_close((uv_handle_t *)&fq->stale_timer, fq_closed);
}

/* Hand a result to the internal waiters, one at a time: a waiter may start
 * new lookups, or end other queries. */
static void fq_tell_internal(struct fwd_query *fq, const struct fwd_result *r)
{
	while (!util_list_empty(&fq->internal)) {
		struct fwd_waiter *w = container_of(fq->internal.next,
						    struct fwd_waiter, node);
		util_list_remove(&w->node);
		w->done(w, r);
	}
}

static uint32_t clamp_ttl(uint32_t ttl, const struct dns_conf *c)
{
	return MAX(MIN(ttl, c->max_ttl), c->min_ttl);
}

static bool is_negative(const struct dns_scan *s)
{
	return s->rcode == DNS_RCODE_NXDOMAIN ||
	       (s->rcode == DNS_RCODE_NOERROR && s->an == 0);
}

/* TTL fields relative to the records, clamped to the configured range;
 * in a negative answer none exceeds the negative TTL (RFC 2308 5). The
 * entry lives no longer than cap, the validity of the signatures (the
 * records' own TTLs were capped per RRset when the answer was judged). */
static uint32_t answer_ttls(const struct fwd_query *fq, const struct dns_scan *s,
			    uint32_t cap, struct dns_ttl_ref *refs)
{
	const struct dns_conf *c = dns_env_conf(fq->env);
	bool negative = is_negative(s);
	uint32_t ttl = negative ? MIN(s->negative_ttl, c->max_negative_ttl)
				: clamp_ttl(s->min_ttl, c);
	ttl = MIN(ttl, cap);
	for (unsigned i = 0; i < s->n_ttl; i++) {
		refs[i].offset = (uint16_t)(s->ttl[i].offset - s->question_end);
		refs[i].ttl = negative ? MIN(s->ttl[i].ttl, ttl)
				       : clamp_ttl(s->ttl[i].ttl, c);
	}
	return ttl;
}

static bool cacheable(const struct dns_scan *s)
{
	return (s->rcode == DNS_RCODE_NOERROR || s->rcode == DNS_RCODE_NXDOMAIN) &&
	       !s->too_many_ttls && !(s->flags1 & DNS_FLAG1_TC) &&
	       (!is_negative(s) || s->has_soa);
}

/* Store an answer: the records after the question, without the OPT. */
static void cache_answer(struct fwd_query *fq, const uint8_t *key, size_t klen,
			 const uint8_t *wire, const struct dns_scan *s,
			 uint32_t ttl, const struct dns_ttl_ref *refs,
			 enum val_status status, int ede, const char *why)
{
	const struct dns_conf *c = dns_env_conf(fq->env);
	if (ttl == 0 || !cacheable(s))
		return;
	struct dns_cache_put p = {
		.rrs = wire + s->question_end,
		.rrs_len = s->records_end - s->question_end,
		.an = s->an, .ns = s->ns, .ar = s->ar,
		.ttl = refs, .n_ttl = s->n_ttl,
		.question_end = s->question_end,
		.rcode = s->rcode,
		.dnssec = (uint8_t)status,
		.ttl_s = ttl,
		/* A bogus answer is never served stale as if it were data. */
		.stale_s = status == VAL_BOGUS ? 0 : c->serve_stale,
		.ede = ede,
		.why = why,
	};
	dns_cache_put(dns_worker_cache(fq->fwd->w), key, klen,
		      util_hash(key, klen), uv_now(fq->fwd->loop), &p);
}

/* The cache key of a judged answer's form with or without DNSSEC RRs. */
static size_t validated_key(const struct fwd_query *fq, bool dnssec_rrs,
			    uint8_t *key)
{
	struct dns_query q = fq->q;
	q.edns_do = dnssec_rrs;
	return dns_cache_key(key, &q, true);
}

static void fq_success(struct fwd_query *fq, const uint8_t *wire,
		       const struct dns_scan *s)
{
	struct dns_ttl_ref refs[DNS_SCAN_MAX_TTLS];
	unsigned n_ttl = 0;
	if (!s->too_many_ttls) {
		uint32_t ttl = answer_ttls(fq, s, UINT32_MAX, refs);
		n_ttl = s->n_ttl;
		cache_answer(fq, fq->key, fq->klen, wire, s, ttl, refs,
			     VAL_UNCHECKED, DNS_EDE_NONE, NULL);
	}
	while (!util_list_empty(&fq->waiters)) {
		struct dns_request *req = dns_request_from_wait(fq->waiters.next);
		util_list_remove(fq->waiters.next);
		dns_request_answer_upstream(req, wire, s, refs, n_ttl);
	}
	fq_finish(fq);
}

/* ------------------------------------------------------------------ judged answers */

/* One form of a judged answer: its wire, scan and TTL fields. */
struct judged_form {
	uint8_t *owned;			/* an encoding made here */
	const uint8_t *wire;
	size_t len;
	struct dns_scan scan;
	struct dns_ttl_ref refs[DNS_SCAN_MAX_TTLS];
	uint32_t ttl;
};

/* Build form i (0: without DNSSEC records, 1: with) of a judged answer.
 * A secure answer goes out only as ldns re-encoded what was judged (no
 * record the validator did not see can ride along under AD); others are
 * re-encoded when they carry DNSSEC records to strip, and a bogus answer's
 * form with them is the raw answer, which CD clients asked for. */
static int judged_form(struct fwd_query *fq, struct val_msg *m,
		       enum val_status status, uint32_t cap, bool dnssec_rrs,
		       bool has_dnssec, struct judged_form *f)
{
	bool encode = m && (status == VAL_SECURE ||
			    (has_dnssec && !(status == VAL_BOGUS && dnssec_rrs)));
	size_t len = fq->resp_len;
	f->wire = fq->resp;
	if (encode && val_msg_encode(m, dnssec_rrs, &f->owned, &len) == 0)
		f->wire = f->owned;
	if (dns_response_scan(f->wire, len, &f->scan) != 0 ||
	    f->scan.qname_len != fq->q.qname_len) {
		if (status == VAL_SECURE)
			return -1;
		free(f->owned);
		f->owned = NULL;
		f->wire = fq->resp;
		len = fq->resp_len;
		if (dns_response_scan(f->wire, len, &f->scan) != 0)
			return -1;
	} else if (status == VAL_SECURE && !f->owned) {
		return -1;	/* encoding failed */
	}
	f->len = len;
	f->ttl = f->scan.too_many_ttls ? 0 : answer_ttls(fq, &f->scan, cap,
							 f->refs);
	return 0;
}

/* The verdict is in: cache both forms, answer every waiter. */
static void fq_deliver_judged(struct fwd_query *fq, struct val_msg *m,
			      enum val_status status, int ede, const char *why,
			      uint32_t cap)
{
	struct judged_form *f = calloc(2, sizeof(*f));
	struct dns_scan *raw = f ? &f[0].scan : NULL;
	bool ok = f && dns_response_scan(fq->resp, fq->resp_len, raw) == 0;
	bool has_dnssec = ok && raw->has_dnssec;
	for (int i = 0; ok && i < 2; i++)
		ok = judged_form(fq, m, status, cap, i == 1, has_dnssec,
				 &f[i]) == 0;
	if (!ok) {
		bool oom = !f;
		if (f)
			free(f[0].owned), free(f[1].owned);
		free(f);
		if (status == VAL_SECURE) {
			/* What was judged cannot be sent as judged. */
			fq_deliver_judged(fq, m, VAL_BOGUS, DNS_EDE_DNSSEC_BOGUS,
					  "answer does not re-encode",
					  FAILURE_TTL_S);
			return;
		}
		fq->fail_ede = DNS_EDE_OTHER;
		fq->fail_text = oom ? "out of memory" : "unusable answer";
		fq_fail(fq);
		return;
	}
	struct dns_validated v = { .status = status, .ede = ede, .why = why };
	for (int i = 0; i < 2; i++) {
		uint8_t key[DNS_MAX_KEY];
		size_t klen = validated_key(fq, i == 1, key);
		if (!f[i].scan.too_many_ttls)
			cache_answer(fq, key, klen, f[i].wire, &f[i].scan,
				     f[i].ttl, f[i].refs, status, ede, why);
		v.wire[i] = f[i].wire;
		v.len[i] = f[i].len;
		v.scan[i] = &f[i].scan;
		v.ttl[i] = f[i].refs;
		v.n_ttl[i] = f[i].scan.too_many_ttls ? 0 : f[i].scan.n_ttl;
	}
	fq_table_remove(fq->fwd, fq);
	while (!util_list_empty(&fq->waiters)) {
		struct dns_request *req = dns_request_from_wait(fq->waiters.next);
		util_list_remove(fq->waiters.next);
		dns_request_answer_validated(req, &v);
	}
	struct fwd_result r = { .v = &v, .wire = fq->resp,
				.len = fq->resp_len };
	fq_tell_internal(fq, &r);
	free(f[0].owned);
	free(f[1].owned);
	free(f);
	fq_finish(fq);
}

static void fq_judged(struct val_job *job, void *ctx)
{
	struct fwd_query *fq = ctx;
	int ede;
	const char *why;
	struct val_msg *m = val_job_msg(job);
	enum val_status status = val_msg_status(m, &ede, &why);
	if (status == VAL_BOGUS)
		log_debug("dnssec", "bogus answer: %s (EDE %d)",
			  why ? why : "?", ede);
	fq_deliver_judged(fq, m, status, ede, why, val_msg_ttl_cap(m));
}

static void on_validate_timeout(uv_timer_t *t)
{
	struct fwd_query *fq = t->data;
	val_job_free(fq->job);
	fq->job = NULL;
	fq_deliver_judged(fq, NULL, VAL_BOGUS, DNS_EDE_DNSSEC_INDETERMINATE,
			  "validation took too long", FAILURE_TTL_S);
}

/* The upstream answered: keep a copy and judge it, while new clients keep
 * joining the query. */
static void fq_validate(struct fwd_query *fq, const uint8_t *wire, size_t len)
{
	fq_stop_attempts(fq);
	fq->resp = malloc(len);
	if (!fq->resp) {
		fq_fail(fq);
		return;
	}
	memcpy(fq->resp, wire, len);
	fq->resp_len = len;
	struct val_msg *m = val_msg_parse(fq->resp, len);
	if (!m) {
		fq_deliver_judged(fq, NULL, VAL_BOGUS, DNS_EDE_DNSSEC_BOGUS,
				  "answer does not parse", FAILURE_TTL_S);
		return;
	}
	fq->job = val_job_new(fq->fwd->val, fq->env, m, fq_judged, fq);
	if (!fq->job) {
		fq_fail(fq);
		return;
	}
	uv_timer_start(&fq->timer, on_validate_timeout, VALIDATE_DEADLINE_MS,
		       0);
	val_job_run(fq->job);	/* may deliver before it returns */
}

static void fq_answered(struct fwd_query *fq, const uint8_t *wire, size_t len,
			const struct dns_scan *s)
{
	if (fq->raw) {
		struct fwd_result r = { .wire = wire, .len = len };
		fq_table_remove(fq->fwd, fq);
		fq_tell_internal(fq, &r);
		fq_finish(fq);
	} else if (fq->validate) {
		fq_validate(fq, wire, len);
	} else {
		fq_success(fq, wire, s);
	}
}

/* A failure entry for a key, so that clients do not hammer upstreams. */
static void cache_failure(struct fwd_query *fq, const uint8_t *key,
			  size_t klen, int ede, const char *why)
{
	struct dns_cache *cache = dns_worker_cache(fq->fwd->w);
	uint64_t now = uv_now(fq->fwd->loop);
	if (fq->stale_available) {
		dns_cache_mark_failed(cache, key, klen, util_hash(key, klen),
				      now, STALE_RETRY_MS);
		return;
	}
	struct dns_cache_put p = {
		.question_end = (uint16_t)(DNS_HEADER_SIZE + fq->q.qname_len + 4),
		.rcode = DNS_RCODE_SERVFAIL,
		.ttl_s = FAILURE_TTL_S,
		.failure = true,
		.ede = ede,
		.why = why,
	};
	dns_cache_put(cache, key, klen, util_hash(key, klen), now, &p);
}

static void fq_fail(struct fwd_query *fq)
{
	int ede = fq->fail_ede >= 0 ? fq->fail_ede
				    : DNS_EDE_NO_REACHABLE_AUTHORITY;
	const char *text = fq->fail_text ? fq->fail_text
					 : "no upstream resolver answered";
	val_job_free(fq->job);
	fq->job = NULL;
	fq_table_remove(fq->fwd, fq);
	if (fq->validate) {
		for (int i = 0; i < 2; i++) {
			uint8_t key[DNS_MAX_KEY];
			cache_failure(fq, key, validated_key(fq, i == 1, key),
				      ede, text);
		}
	} else if (!fq->raw) {
		cache_failure(fq, fq->key, fq->klen, ede, text);
	}
	while (!util_list_empty(&fq->waiters)) {
		struct dns_request *req = dns_request_from_wait(fq->waiters.next);
		util_list_remove(fq->waiters.next);
		if (!dns_request_try_stale(req))
			dns_request_answer_error(req, DNS_RCODE_SERVFAIL, ede,
						 text);
	}
	struct fwd_result r = { .failed = true, .ede = ede, .why = text };
	fq_tell_internal(fq, &r);
	fq_finish(fq);
}

static void on_stale_timer(uv_timer_t *t)
{
	struct fwd_query *fq = t->data;
	fq->stale_served = true;
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &fq->waiters) {
		struct dns_request *req = dns_request_from_wait(pos);
		util_list_remove(pos);
		if (!dns_request_try_stale(req))
			util_list_push(&fq->waiters, pos);	/* keep waiting */
	}
	/* Resolution goes on: a late answer still refreshes the cache. */
}

/* ------------------------------------------------------------------ responses */

void fwd_attempt_failed(struct fwd_attempt *a, int ede, const char *text)
{
	struct fwd_query *fq = a->fq;
	struct fwd_upstream *up = a->up;
	struct dns_worker *w = up->fwd->w;
	dns_worker_stats_mut(w)->upstream_errors++;
	upstream_failure(up, uv_now(up->fwd->loop));
	attempt_end(a);
	if (!fq || fq->done)
		return;
	if (fq->fail_ede < 0 || ede == DNS_EDE_NETWORK_ERROR) {
		fq->fail_ede = ede;
		fq->fail_text = text;
	}
	fq_send_next(fq);
}

static void retry_same_upstream(struct fwd_attempt *a, bool tcp)
{
	struct fwd_query *fq = a->fq;
	struct fwd_upstream *up = a->up;
	up->refs++;	/* keep it while the old attempt goes */
	attempt_end(a);
	up->refs--;
	if (attempt_start(fq, up, tcp) == 0) {
		uv_timer_start(&fq->timer, on_attempt_timeout,
			       upstream_rto(up), 0);
		return;
	}
	fq_send_next(fq);
}

const double dns_latency_bounds[DNS_LATENCY_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5,
};

static void record_latency(struct dns_worker_stats *st, uint64_t ns)
{
	double s = (double)ns / 1e9;
	unsigned b = 0;
	while (b < DNS_LATENCY_BUCKETS && s > dns_latency_bounds[b])
		b++;
	st->upstream_latency[b]++;
	st->upstream_latency_us += ns / 1000;
	st->upstream_answers++;
}

static void attempt_response(struct fwd_attempt *a, const uint8_t *wire,
			     size_t len)
{
	struct fwd_query *fq = a->fq;
	struct fwd_upstream *up = a->up;
	struct dns_worker *w = up->fwd->w;
	struct dns_scan *s = dns_worker_scan_buf(w);
	if (!fq || fq->done)
		return;
	if (dns_response_scan(wire, len, s) != 0 || !s->opt_last) {
		fwd_attempt_failed(a, DNS_EDE_NETWORK_ERROR,
			       "malformed answer from upstream");
		return;
	}
	if (s->id != a->id || !(s->flags1 & DNS_FLAG1_QR) ||
	    !question_matches(fq, s)) {
		dns_worker_stats_mut(w)->upstream_mismatches++;
		return;		/* not ours: keep waiting */
	}
	upstream_success(up, uv_now(up->fwd->loop) - a->sent_ms);
	record_latency(dns_worker_stats_mut(w), uv_hrtime() - a->sent_ns);
	if ((s->flags1 & DNS_FLAG1_TC) && !a->tcp) {
		dns_worker_stats_mut(w)->upstream_tcp_fallbacks++;
		retry_same_upstream(a, true);
		return;
	}
	if (a->edns && !s->has_opt &&
	    (s->rcode == DNS_RCODE_FORMERR || s->rcode == DNS_RCODE_NOTIMP)) {
		up->no_edns = true;	/* RFC 6891 7: ask again without */
		retry_same_upstream(a, a->tcp);
		return;
	}
	if (s->rcode == DNS_RCODE_SERVFAIL || s->rcode == DNS_RCODE_REFUSED ||
	    s->rcode == DNS_RCODE_NOTIMP || s->rcode == DNS_RCODE_FORMERR) {
		fwd_attempt_failed(a, DNS_EDE_NO_REACHABLE_AUTHORITY,
			       "upstream resolvers answered with failure");
		return;
	}
	fq_answered(fq, wire, len, s);
}

/* ------------------------------------------------------------------ API */

struct fwd_state *fwd_new(struct dns_worker *w, uv_loop_t *loop)
{
	struct fwd_state *fwd = calloc(1, sizeof(*fwd));
	if (!fwd)
		return NULL;
	fwd->w = w;
	fwd->loop = loop;
	util_list_init(&fwd->upstreams);
	fwd->n_buckets = 1024;
	fwd->buckets = calloc(fwd->n_buckets, sizeof(*fwd->buckets));
	fwd->val = val_state_new(fwd, loop);
	if (!fwd->buckets || !fwd->val) {
		fwd_free(fwd);
		return NULL;
	}
	return fwd;
}

static void upstream_idle_closed(uv_handle_t *h)
{
	struct fwd_upstream *up = h->data;
	net_tls_client_free(up->tls);
	free(up->conf.name);
	free(up->conf.ca_file);
	free(up->tlsa);
	free(up);
}

static void upstream_release(struct fwd_upstream *up)
{
	if (up->closing)
		return;
	up->closing = true;
	util_list_remove(&up->node);
	fwd_waiter_cancel(&up->dane_lookup);
	if (up->twin) {
		struct fwd_upstream *t = up->twin;
		up->twin = NULL;
		t->twin_of = NULL;
		t->current = false;
		if (t->refs == 0 && util_list_empty(&t->tcp_attempts))
			upstream_release(t);
	}
	if (up->tcp) {
		net_client_close(up->tcp);
		up->tcp = NULL;
	}
	uv_close((uv_handle_t *)&up->tcp_idle, upstream_idle_closed);
}

/* Upstreams no longer configured go once no attempt points at them. */
static void collect_upstreams(struct fwd_state *fwd)
{
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &fwd->upstreams) {
		struct fwd_upstream *up = container_of(pos, struct fwd_upstream,
						       node);
		if (!up->current && up->refs == 0 &&
		    util_list_empty(&up->tcp_attempts))
			upstream_release(up);
	}
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The same server, reached and authenticated the same way: its health and
 * connection carry over a reload. */
static bool same_upstream(const struct dns_upstream_conf *a,
			  const struct dns_upstream_conf *b)
{
	return a->transport == b->transport &&
	       util_addr_equal((const struct sockaddr *)&a->addr.ss,
			       (const struct sockaddr *)&b->addr.ss) &&
	       same_str(a->name, b->name) && same_str(a->ca_file, b->ca_file) &&
	       a->dane == b->dane && a->n_pins == b->n_pins &&
	       memcmp(a->pins, b->pins, sizeof(a->pins[0]) * a->n_pins) == 0;
}

static struct fwd_upstream *upstream_get(struct fwd_state *fwd,
					 const struct dns_upstream_conf *c)
{
	struct util_list *pos;
	for (pos = fwd->upstreams.next; pos != &fwd->upstreams; pos = pos->next) {
		struct fwd_upstream *up = container_of(pos, struct fwd_upstream,
						       node);
		if (same_upstream(&up->conf, c))
			return up;
	}
	struct fwd_upstream *up = calloc(1, sizeof(*up));
	if (!up)
		return NULL;
	up->conf = *c;
	up->conf.name = c->name ? strdup(c->name) : NULL;
	up->conf.ca_file = c->ca_file ? strdup(c->ca_file) : NULL;
	up->fwd = fwd;
	util_list_init(&up->tcp_attempts);
	util_list_init(&up->dane_waiting);
	util_list_init(&up->dane_lookup.node);
	uv_timer_init(fwd->loop, &up->tcp_idle);
	up->tcp_idle.data = up;
	util_list_push(&fwd->upstreams, &up->node);
	return up;
}

void fwd_set_env(struct fwd_state *fwd, const struct dns_env *env)
{
	const struct dns_conf *c = dns_env_conf(env);
	struct fwd_upstream **cur = calloc(c->n_upstreams + 1, sizeof(*cur));
	if (!cur)
		return;		/* keep the old list rather than none */
	struct util_list *pos;
	for (pos = fwd->upstreams.next; pos != &fwd->upstreams; pos = pos->next)
		container_of(pos, struct fwd_upstream, node)->current = false;
	size_t n = 0;
	for (size_t i = 0; i < c->n_upstreams; i++) {
		struct fwd_upstream *up = upstream_get(fwd, &c->upstreams[i]);
		if (up) {
			up->current = true;
			cur[n++] = up;
		}
	}
	free(fwd->cur);
	fwd->cur = cur;
	fwd->n_cur = n;
	publish_health(fwd);
	collect_upstreams(fwd);
	/* Key entries hold only under the trust anchors they came from. */
	val_state_flush(fwd->val);
}

unsigned fwd_pending(const struct fwd_state *fwd)
{
	return (unsigned)fwd->count;
}

static struct fwd_query *fq_new(struct fwd_state *fwd, struct dns_env *env,
				const struct dns_query *q, const uint8_t *key,
				size_t klen, uint64_t hash)
{
	struct fwd_query *fq = calloc(1, sizeof(*fq));
	if (!fq)
		return NULL;
	fq->fwd = fwd;
	fq->env = env;
	dns_env_ref(env);
	fq->q = *q;
	memcpy(fq->key, key, klen);
	fq->klen = klen;
	fq->hash = hash;
	fq->fail_ede = DNS_EDE_NONE;
	fq->started_ms = uv_now(fwd->loop);
	util_list_init(&fq->waiters);
	util_list_init(&fq->attempts);
	util_list_init(&fq->internal);
	uv_timer_init(fwd->loop, &fq->timer);
	uv_timer_init(fwd->loop, &fq->stale_timer);
	fq->timer.data = fq->stale_timer.data = fq;
	fq->handles_open = 2;
	fq_table_insert(fwd, fq);
	return fq;
}

int fwd_resolve(struct fwd_state *fwd, struct dns_request *req,
		const struct dns_query *q, const uint8_t *key, size_t klen,
		uint64_t hash, bool stale_available)
{
	/* Judged answers serve DO and non-DO clients from one query. */
	uint8_t judged[DNS_MAX_KEY];
	bool validate = dns_request_env(req)->trust != NULL;
	if (validate) {
		memcpy(judged, key, klen);
		judged[0] = DNS_KEY_VALIDATED;
		key = judged;
		hash = util_hash(key, klen);
	}
	struct fwd_query *fq = fq_find(fwd, key, klen, hash);
	if (fq) {
		dns_worker_stats_mut(fwd->w)->coalesced++;
		if (fq->stale_served && dns_request_try_stale(req))
			return 0;
		util_list_push(&fq->waiters, dns_request_wait_node(req));
		return 0;
	}
	if (fwd->shutting_down || fwd->count >= MAX_PENDING)
		return -1;
	fq = fq_new(fwd, dns_request_env(req), q, key, klen, hash);
	if (!fq)
		return -1;
	fq->validate = validate;
	util_list_push(&fq->waiters, dns_request_wait_node(req));
	fq->stale_available = stale_available;
	if (stale_available)
		uv_timer_start(&fq->stale_timer, on_stale_timer,
			       STALE_ANSWER_MS, 0);
	fq_send_next(fq);
	return 0;
}

static void on_lookup_start(uv_timer_t *t)
{
	fq_send_next(t->data);
}

int fwd_lookup(struct fwd_state *fwd, struct dns_env *env,
	       const uint8_t *name, uint16_t type, bool raw,
	       struct fwd_waiter *w)
{
	struct dns_query q = { .rd = true, .edns = true, .edns_do = true,
			       .cd = true, .qtype = type,
			       .qclass = DNS_CLASS_IN };
	int n = dns_name_lower(name, DNS_MAX_NAME, q.qname);
	if (n < 0)
		return -1;
	q.qname_len = (uint16_t)n;
	q.question_end = (uint16_t)(DNS_HEADER_SIZE + n + 4);
	uint8_t key[DNS_MAX_KEY];
	size_t klen = dns_cache_key(key, &q, true);
	key[0] = raw ? DNS_KEY_RAW : DNS_KEY_VALIDATED;
	uint64_t hash = util_hash(key, klen);
	struct fwd_query *fq = fq_find(fwd, key, klen, hash);
	if (fq) {
		dns_worker_stats_mut(fwd->w)->coalesced++;
		util_list_push(&fq->internal, &w->node);
		return 0;
	}
	if (fwd->shutting_down || fwd->count >= MAX_PENDING ||
	    (!raw && !env->trust))
		return -1;
	fq = fq_new(fwd, env, &q, key, klen, hash);
	if (!fq)
		return -1;
	fq->raw = raw;
	fq->validate = !raw;
	fq->meta = true;
	util_list_push(&fq->internal, &w->node);
	/* Sending waits for the loop, so that the waiter never hears back
	 * before this returns. */
	uv_timer_start(&fq->timer, on_lookup_start, 0, 0);
	return 0;
}

void fwd_waiter_cancel(struct fwd_waiter *w)
{
	if (w->node.next)
		util_list_remove(&w->node);
}

void fwd_shutdown(struct fwd_state *fwd)
{
	fwd->shutting_down = true;
	for (size_t i = 0; i < fwd->n_buckets; i++)
		while (fwd->buckets[i])
			fq_fail(fwd->buckets[i]);
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &fwd->upstreams) {
		struct fwd_upstream *up = container_of(pos, struct fwd_upstream,
						       node);
		up->current = false;
	}
	collect_upstreams(fwd);
}

void fwd_free(struct fwd_state *fwd)
{
	if (!fwd)
		return;
	val_state_free(fwd->val);
	free(fwd->cur);
	free(fwd->buckets);
	free(fwd);
}
