/*  anchord - dns/forward_dane.c: DoT upstreams authenticated by DANE.
 *
 *  An upstream with dane: true is used only once the validator has found
 *  its TLSA records (_853._tcp.<name>) secure; until then its queries
 *  wait, and the lookup itself goes out through an unauthenticated twin
 *  of the upstream, whose answers the validator checks. Split from
 *  forward.c, whose structures it shares through internal.h.
 */
#include "dns/internal.h"
#include "net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DANE_RETRY_MS 30000		/* after a failed TLSA lookup */
#define DANE_MIN_TTL_S 30		/* look TLSA records up again at most so often */


static const char *up_name(const struct fwd_upstream *up)
{
	return up->conf.name ? up->conf.name : "(DoT)";
}

/* The twin of a DANE upstream: same server, TLS without authentication,
 * for lookups whose answers DNSSEC validates anyway. */
static struct fwd_upstream *dane_twin(struct fwd_upstream *up)
{
	if (up->twin)
		return up->twin;
	struct fwd_upstream *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->conf = up->conf;
	t->conf.name = up->conf.name ? strdup(up->conf.name) : NULL;
	t->conf.ca_file = NULL;
	t->conf.n_pins = 0;
	t->conf.dane = false;
	t->fwd = up->fwd;
	t->twin_of = up;
	t->current = true;		/* lives as long as its upstream */
	util_list_init(&t->node);
	util_list_init(&t->tcp_attempts);
	util_list_init(&t->dane_waiting);
	util_list_init(&t->dane_lookup.node);
	uv_timer_init(up->fwd->loop, &t->tcp_idle);
	t->tcp_idle.data = t;
	up->twin = t;
	return t;
}

static void dane_failed(struct fwd_upstream *up, const char *why)
{
	up->dane_state = DANE_FAILED;
	up->dane_why = why;
	up->dane_until_ms = uv_now(up->fwd->loop) + DANE_RETRY_MS;
	log_warning("forward", "upstream %s: %s; not used", up_name(up), why);
	while (!util_list_empty(&up->dane_waiting)) {
		struct fwd_attempt *a = container_of(up->dane_waiting.next,
						     struct fwd_attempt,
						     conn_node);
		util_list_remove(&a->conn_node);
		fwd_attempt_failed(a, DNS_EDE_NETWORK_ERROR, why);
	}
}

/* The usable TLSA records of a secure answer, and their TTL. */
static size_t tlsa_records(const struct dns_validated *v,
			   struct net_dane_record *out, uint32_t *ttl)
{
	ldns_pkt *p;
	size_t n = 0;
	if (ldns_wire2pkt(&p, v->wire[1], v->len[1]) != LDNS_STATUS_OK)
		return 0;
	ldns_rr_list *an = ldns_pkt_answer(p);
	*ttl = UINT32_MAX;
	for (size_t i = 0; i < ldns_rr_list_rr_count(an) && n < NET_MAX_DANE;
	     i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TLSA ||
		    ldns_rr_rd_count(rr) != 4)
			continue;
		struct net_dane_record *r = &out[n];
		const ldns_rdf *data = ldns_rr_rdf(rr, 3);
		r->usage = ldns_rdf2native_int8(ldns_rr_rdf(rr, 0));
		r->selector = ldns_rdf2native_int8(ldns_rr_rdf(rr, 1));
		r->mtype = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
		size_t len = ldns_rdf_size(data);
		bool usable = (r->usage == 2 || r->usage == 3) &&
			      r->selector <= 1 && len <= NET_DANE_DATA_MAX &&
			      (r->mtype == 0 || (r->mtype == 1 && len == 32) ||
			       (r->mtype == 2 && len == 64));
		if (!usable)
			continue;
		r->len = (uint16_t)len;
		memcpy(r->data, ldns_rdf_data(data), len);
		*ttl = MIN(*ttl, ldns_rr_ttl(rr));
		n++;
	}
	ldns_pkt_free(p);
	return n;
}

static void dane_ready(struct fwd_upstream *up,
		       const struct net_dane_record *r, size_t n, uint32_t ttl)
{
	struct net_dane_record *copy = malloc(n * sizeof(*copy));
	if (!copy) {
		dane_failed(up, "out of memory");
		return;
	}
	memcpy(copy, r, n * sizeof(*copy));
	free(up->tlsa);
	up->tlsa = copy;
	up->n_tlsa = n;
	if (up->tls)
		net_tls_client_set_dane(up->tls, copy, n);
	up->dane_state = DANE_READY;
	up->dane_until_ms = uv_now(up->fwd->loop) +
			    (uint64_t)MAX(ttl, DANE_MIN_TTL_S) * 1000;
	log_info("forward", "upstream %s: %zu secure TLSA record%s",
		 up_name(up), n, n == 1 ? "" : "s");
	while (!util_list_empty(&up->dane_waiting)) {
		struct fwd_attempt *a = container_of(up->dane_waiting.next,
						     struct fwd_attempt,
						     conn_node);
		util_list_remove(&a->conn_node);
		if (fwd_attempt_send_tcp(a, a->fq) != 0)
			fwd_attempt_failed(a, DNS_EDE_NETWORK_ERROR,
				       "cannot reach upstream resolvers");
	}
}

static void dane_looked_up(struct fwd_waiter *w, const struct fwd_result *r)
{
	struct fwd_upstream *up = container_of(w, struct fwd_upstream,
					       dane_lookup);
	up->dane_looking = false;
	if (r->failed || !r->v)
		return dane_failed(up, "TLSA lookup failed");
	if (r->v->status != VAL_SECURE)
		return dane_failed(up, r->v->status == VAL_BOGUS
					       ? "TLSA records are bogus"
					       : "TLSA records are not secure");
	struct net_dane_record *recs = calloc(NET_MAX_DANE, sizeof(*recs));
	uint32_t ttl = 0;
	size_t n = recs ? tlsa_records(r->v, recs, &ttl) : 0;
	if (n)
		dane_ready(up, recs, n, ttl);
	else
		dane_failed(up, "no usable TLSA record");
	free(recs);
}

static void dane_look_up(struct fwd_upstream *up, struct dns_env *env)
{
	char text[DNS_MAX_NAME * 4];
	uint8_t name[DNS_MAX_NAME];
	if (up->dane_looking)
		return;
	snprintf(text, sizeof(text), "_%u._tcp.%s",
		 util_addr_port((const struct sockaddr *)&up->conf.addr.ss),
		 up->conf.name);
	up->dane_lookup.done = dane_looked_up;
	if (dns_name_from_str(text, name) < 0 ||
	    fwd_lookup(up->fwd, env, name, DNS_TYPE_TLSA, false,
		       &up->dane_lookup) != 0) {
		dane_failed(up, "cannot look up TLSA records");
		return;
	}
	up->dane_looking = true;
}

/* Where an attempt of fq on a DANE upstream goes: <0 nowhere, 0 ahead
 * (*up may become the twin), >0 it waits for the TLSA records. */
int fwd_dane_gate(struct fwd_query *fq, struct fwd_upstream **up)
{
	struct fwd_upstream *u = *up;
	uint64_t now = uv_now(fq->fwd->loop);
	if (u->dane_state != DANE_UNKNOWN && now >= u->dane_until_ms)
		dane_look_up(u, fq->env);	/* refresh, or retry */
	if (u->dane_state == DANE_READY)
		return 0;
	if (u->dane_state == DANE_FAILED && !u->dane_looking)
		return UV_EPERM;
	if (fq->meta) {
		*up = dane_twin(u);
		return *up ? 0 : UV_ENOMEM;
	}
	dane_look_up(u, fq->env);
	return u->dane_state == DANE_FAILED && !u->dane_looking ? UV_EPERM : 1;
}

void fwd_dane_wait(struct fwd_attempt *a)
{
	util_list_push(&a->up->dane_waiting, &a->conn_node);
}
