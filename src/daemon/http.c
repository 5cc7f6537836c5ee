/*  anchord - daemon/http.c: the HTTP services: DoH and /metrics.
 *
 *  DNS over HTTPS (RFC 8484) is glue between the HTTP layer and the DNS
 *  pipeline, like worker.c's glue for UDP and TCP: a GET (?dns=, base64url)
 *  or POST (application/dns-message) becomes a DNS request from this
 *  client, over the DoH transport, and every DNS answer, SERVFAIL and
 *  NXDOMAIN included, a 200 with Cache-Control max-age from its TTLs.
 *  /dns-query/<id> carries a client id, a hint for the policy engine.
 */
#include "daemon/daemon.h"
#include "enroll/enroll.h"
#include "est/est.h"
#include "pki/pki.h"

#include <ctype.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <time.h>

#define DOH_TYPE "application/dns-message"

struct http_services {
	struct net_http_router *router;
	struct est_service *est;
	struct enroll_service *enroll;
	struct device_directory *devices;
	char server_cert[PATH_MAX];
	struct dns_worker *dns;
	const struct anchord_config *conf;
	struct daemon_workers *workers;
	time_t started;
};

/* ------------------------------------------------------------------ DoH */

/* A DNS request answered over HTTP: its exchange, and the list the
 * request sits on while in flight (to orphan it if the client goes). */
struct doh_pending {
	struct util_list inflight;
	struct net_http_exchange *ex;
};

static void doh_reply(struct dns_request *req, void *ctx, uint8_t *wire,
		      size_t len)
{
	struct doh_pending *p = ctx;
	char cache[48];
	snprintf(cache, sizeof(cache), "max-age=%u",
		 dns_answer_max_age(wire, len));
	struct net_http_header h[] = { { "Cache-Control", cache } };
	net_http_respond(p->ex, 200, DOH_TYPE, h, ARRAY_SIZE(h), wire, len);
	free(p);
}

static void doh_dropped(struct dns_request *req, void *ctx)
{
	struct doh_pending *p = ctx;
	if (req)
		net_http_respond_error(p->ex, 400, "not a DNS query");
	else
		net_http_respond_error(p->ex, 503, "overloaded");
	free(p);
}

static const struct dns_reply_ops doh_reply_ops = {
	.send = doh_reply,
	.dropped = doh_dropped,
};

static void doh_cancel(void *arg)
{
	struct doh_pending *p = arg;
	dns_requests_orphan(&p->inflight);
	free(p);
}

/* The dns= parameter of a query string, base64url without padding. */
static int query_param_dns(const char *query, uint8_t *out, size_t cap,
			   size_t *len)
{
	for (const char *p = query; p && *p;) {
		const char *end = strchr(p, '&');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 4 && strncmp(p, "dns=", 4) == 0) {
			const char *last;
			return sodium_base642bin(out, cap, p + 4, n - 4, NULL, len,
				&last, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
					       0 && last == p + n ? 0 : -1;
		}
		p = end ? end + 1 : NULL;
	}
	return -1;
}

static bool is_dns_message(const char *content_type)
{
	if (!content_type)
		return false;
	size_t n = strlen(DOH_TYPE);
	return strncasecmp(content_type, DOH_TYPE, n) == 0 &&
	       (content_type[n] == '\0' || content_type[n] == ';' ||
		content_type[n] == ' ');
}

/* /dns-query/<id>: letters, digits, '-', '_' and '.', as AdGuard's
 * ClientID; anything else is not a DoH path of ours. */
static int client_id(const char *subpath, char *out, size_t cap)
{
	out[0] = '\0';
	if (!subpath[0])
		return 0;
	const char *id = subpath + 1;
	size_t n = strlen(id);
	if (n == 0 || n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("-_.", id[i]))
			return -1;
	memcpy(out, id, n + 1);
	return 0;
}

static void doh_client(struct net_conn *conn, struct dns_client *client)
{
	const struct net_peer_cert *cert = net_conn_peer_cert(conn);
	client->addr = *net_conn_remote(conn);
	client->local = *net_conn_local(conn);
	client->transport = DNS_TRANSPORT_DOH;
	client->encrypted = net_conn_encrypted(conn);
	if (cert->present) {
		client->cert_present = true;
		client->cert_verified = cert->verified;
		memcpy(client->cert_spki, cert->spki_sha256,
		       sizeof(client->cert_spki));
		memcpy(client->cert_cn, cert->subject_cn,
		       sizeof(client->cert_cn));
		memcpy(client->cert_mud_url, cert->mud_url,
		       sizeof(client->cert_mud_url));
		memcpy(client->cert_mud_signer, cert->mud_signer,
		       cert->mud_signer_len);
		client->cert_mud_signer_len = cert->mud_signer_len;
	}
}

static void doh_handle(void *ctx, struct net_http_exchange *ex)
{
	struct http_services *sv = ctx;
	const struct net_http_request *r = net_http_exchange_request(ex);
	static _Thread_local uint8_t wire[DNS_MAX_MSG];
	const uint8_t *msg = wire;
	size_t len = 0;
	struct dns_client client = { 0 };
	if (client_id(net_http_exchange_subpath(ex), client.client_id,
		      sizeof(client.client_id)) != 0) {
		net_http_respond_error(ex, 404, NULL);
		return;
	}
	switch (r->method) {
	case NET_HTTP_GET:
	case NET_HTTP_HEAD:
		if (query_param_dns(r->query, wire, sizeof(wire), &len) != 0) {
			net_http_respond_error(ex, 400, "expected ?dns= with a "
					       "base64url DNS message");
			return;
		}
		break;
	case NET_HTTP_POST:
		if (!is_dns_message(r->content_type)) {
			net_http_respond_error(ex, 415, "expected "
					       "application/dns-message");
			return;
		}
		msg = r->body;
		len = r->body_len;
		break;
	default: {
		struct net_http_header allow[] = { { "Allow", "GET, HEAD, POST" } };
		net_http_respond(ex, 405, "text/plain", allow, 1,
				 (const uint8_t *)"405 Method Not Allowed\n", 23);
		return;
	}
	}
	if (len < DNS_HEADER_SIZE) {
		net_http_respond_error(ex, 400, "not a DNS message");
		return;
	}
	struct doh_pending *p = malloc(sizeof(*p));
	if (!p) {
		net_http_respond_error(ex, 503, NULL);
		return;
	}
	util_list_init(&p->inflight);
	p->ex = ex;
	net_http_on_cancel(ex, doh_cancel, p);
	doh_client(net_http_exchange_conn(ex), &client);
	/* p is freed by whichever callback ends the request, maybe now. */
	dns_request_start(sv->dns, msg, len, &client, DNS_MAX_MSG,
			  &doh_reply_ops, p, &p->inflight);
}

/* ------------------------------------------------------------------ /metrics */

struct text {
	char *buf;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	for (int tries = 0; tries < 2; tries++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = MAX(t->cap * 2, t->len + (size_t)n + 1);
		char *b = realloc(t->buf, cap);
		if (!b)
			return;
		t->buf = b;
		t->cap = cap;
	}
}

static void counter(struct text *t, const char *name, const char *help,
		    uint64_t v)
{
	put(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
	    name, (unsigned long long)v);
}

static const char *const transport_names[] = { "udp", "tcp", "dot", "doh" };
static const char *const kind_names[] = { "tcp", "dot", "https" };
static const char *const rcode_names[] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
};

static void put_queries(struct text *t, const struct daemon_metrics *m)
{
	put(t, "# HELP anchord_queries_total Queries received, by transport.\n"
	       "# TYPE anchord_queries_total counter\n");
	for (size_t i = 0; i < DNS_TRANSPORT_COUNT; i++)
		put(t, "anchord_queries_total{transport=\"%s\"} %llu\n",
		    transport_names[i], (unsigned long long)m->dns.queries[i]);
	put(t, "# HELP anchord_answers_total Answers sent, by rcode.\n"
	       "# TYPE anchord_answers_total counter\n");
	for (size_t i = 0; i < ARRAY_SIZE(m->dns.rcodes); i++) {
		if (!m->dns.rcodes[i] && i >= ARRAY_SIZE(rcode_names))
			continue;
		if (i < ARRAY_SIZE(rcode_names))
			put(t, "anchord_answers_total{rcode=\"%s\"} %llu\n",
			    rcode_names[i],
			    (unsigned long long)m->dns.rcodes[i]);
		else
			put(t, "anchord_answers_total{rcode=\"%zu\"} %llu\n", i,
			    (unsigned long long)m->dns.rcodes[i]);
	}
	counter(t, "anchord_local_answers_total",
		"Answers from local data and local zones.", m->dns.local_answers);
	counter(t, "anchord_formerr_queries_total", "Malformed queries.",
		m->dns.formerr_in);
	counter(t, "anchord_dropped_queries_total",
		"Messages dropped: not queries, or overload.", m->dns.dropped);
}

static void put_cache(struct text *t, const struct daemon_metrics *m)
{
	counter(t, "anchord_cache_hits_total", "Answers from the cache.",
		m->dns.cache_hits);
	counter(t, "anchord_cache_misses_total", "Cache misses.",
		m->dns.cache_misses);
	counter(t, "anchord_stale_answers_total",
		"Expired answers served because upstreams failed (RFC 8767).",
		m->dns.stale_answers);
	counter(t, "anchord_cache_evictions_total", "Entries evicted.",
		m->cache.evictions);
	put(t, "# HELP anchord_cache_entries Entries in the cache.\n"
	       "# TYPE anchord_cache_entries gauge\nanchord_cache_entries %llu\n"
	       "# HELP anchord_cache_bytes Bytes used by the cache.\n"
	       "# TYPE anchord_cache_bytes gauge\nanchord_cache_bytes %llu\n",
	    (unsigned long long)m->cache.entries,
	    (unsigned long long)m->cache.bytes);
}

static void put_upstreams(struct text *t, const struct daemon_metrics *m)
{
	counter(t, "anchord_upstream_queries_total", "Queries sent upstream.",
		m->dns.upstream_queries);
	counter(t, "anchord_upstream_timeouts_total",
		"Upstream queries that timed out.", m->dns.upstream_timeouts);
	counter(t, "anchord_upstream_errors_total",
		"Upstream failures: network errors, garbage, SERVFAIL.",
		m->dns.upstream_errors);
	counter(t, "anchord_upstream_tcp_fallbacks_total",
		"Truncated upstream answers asked again over TCP.",
		m->dns.upstream_tcp_fallbacks);
	counter(t, "anchord_coalesced_queries_total",
		"Queries that joined an identical one in flight.",
		m->dns.coalesced);
	counter(t, "anchord_policy_blocked_total",
		"Queries answered as blocked by a profile or MUD file.",
		m->dns.policy_blocked);
	counter(t, "anchord_policy_not_ready_total",
		"Queries refused while a device's MUD file was fetched.",
		m->dns.policy_not_ready);
	put(t, "# HELP anchord_upstream_latency_seconds Time to an upstream "
	       "answer.\n# TYPE anchord_upstream_latency_seconds histogram\n");
	uint64_t cum = 0;
	for (size_t i = 0; i < DNS_LATENCY_BUCKETS; i++) {
		cum += m->dns.upstream_latency[i];
		put(t, "anchord_upstream_latency_seconds_bucket{le=\"%g\"} %llu\n",
		    dns_latency_bounds[i], (unsigned long long)cum);
	}
	cum += m->dns.upstream_latency[DNS_LATENCY_BUCKETS];
	put(t, "anchord_upstream_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
	       "anchord_upstream_latency_seconds_sum %.6f\n"
	       "anchord_upstream_latency_seconds_count %llu\n",
	    (unsigned long long)cum, (double)m->dns.upstream_latency_us / 1e6,
	    (unsigned long long)m->dns.upstream_answers);
}

static void put_listener_counter(struct text *t, const char *name,
				 const char *help, const struct daemon_metrics *m,
				 size_t offset)
{
	put(t, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (size_t k = 0; k < ARRAY_SIZE(kind_names); k++)
		put(t, "%s{kind=\"%s\"} %llu\n", name, kind_names[k],
		    (unsigned long long)*(const uint64_t *)(
			    (const char *)&m->listeners[k] + offset));
}

static void put_connections(struct text *t, const struct daemon_metrics *m)
{
	put(t, "# HELP anchord_connections Open connections, by listener "
	       "kind.\n# TYPE anchord_connections gauge\n");
	for (size_t k = 0; k < ARRAY_SIZE(kind_names); k++)
		put(t, "anchord_connections{kind=\"%s\"} %u\n", kind_names[k],
		    m->connections[k]);
#define L(field) offsetof(struct net_stream_stats, field)
	put_listener_counter(t, "anchord_connections_accepted_total",
			     "Connections accepted.", m, L(accepted));
	put_listener_counter(t, "anchord_connections_rejected_total",
			     "Connections refused for limits.", m, L(rejected));
	put_listener_counter(t, "anchord_tls_handshakes_total",
			     "TLS handshakes completed.", m, L(tls_handshakes));
	put_listener_counter(t, "anchord_tls_resumptions_total",
			     "TLS handshakes that resumed a session.", m,
			     L(tls_resumed));
	put_listener_counter(t, "anchord_tls_handshake_failures_total",
			     "TLS handshakes that failed.", m, L(tls_failed));
#undef L
	const struct net_stream_stats *h = &m->listeners[LISTEN_HTTPS];
	counter(t, "anchord_http_requests_total", "HTTP requests.",
		h->http_requests);
	counter(t, "anchord_http_errors_total",
		"HTTP responses with status 400 or more.", h->http_errors);
	counter(t, "anchord_http2_abuse_total",
		"HTTP/2 connections ended for floods or rapid reset.",
		h->h2_abuse);
}

static bool metrics_allowed(const struct anchord_config *c,
			    struct net_conn *conn)
{
	const struct sockaddr *sa =
		(const struct sockaddr *)&net_conn_remote(conn)->ss;
	for (size_t i = 0; i < c->http.n_metrics_allow; i++)
		if (util_subnet_contains(&c->http.metrics_allow[i], sa))
			return true;
	return false;
}

static void metrics_handle(void *ctx, struct net_http_exchange *ex)
{
	struct http_services *sv = ctx;
	const struct net_http_request *r = net_http_exchange_request(ex);
	if (r->method != NET_HTTP_GET && r->method != NET_HTTP_HEAD) {
		net_http_respond_error(ex, 405, NULL);
		return;
	}
	if (!metrics_allowed(sv->conf, net_http_exchange_conn(ex))) {
		net_http_respond_error(ex, 403, "not in http.metrics-allow");
		return;
	}
	struct daemon_metrics *m = calloc(1, sizeof(*m));
	struct text t = { .cap = 16384 };
	t.buf = malloc(t.cap);
	if (m && t.buf) {
		workers_collect_metrics(sv->workers, m);
		put(&t, "# HELP anchord_build_info anchord's version.\n"
		       "# TYPE anchord_build_info gauge\n"
		       "anchord_build_info{version=\"%s\"} 1\n"
		       "# HELP anchord_start_time_seconds Start, Unix time.\n"
		       "# TYPE anchord_start_time_seconds gauge\n"
		       "anchord_start_time_seconds %lld\n",
		    ANCHORD_VERSION, (long long)sv->started);
		put_queries(&t, m);
		put_cache(&t, m);
		put_upstreams(&t, m);
		put_connections(&t, m);
		counter(&t, "anchord_querylog_dropped_total",
			"Query log lines dropped: the file could not keep up.",
			m->querylog_dropped);
	}
	if (!t.buf)
		net_http_respond_error(ex, 503, NULL);
	else
		net_http_respond(ex, 200, "text/plain; version=0.0.4; "
				 "charset=utf-8", NULL, 0,
				 (const uint8_t *)t.buf, t.len);
	free(t.buf);
	free(m);
}

/* ------------------------------------------------------------------ routes */

/* EST with this worker's own store connection. */
static int add_est(struct http_services *sv, uv_loop_t *loop,
		   const struct anchord_config *c)
{
	config_server_cert(c, sv->server_cert, sizeof(sv->server_cert));
	struct est_conf ec = {
		.state_dir = c->state_dir,
		.ca_cert = c->tls.ca_certificate,
		.ca_key = c->tls.ca_key,
		.server_cert = sv->server_cert,
		.validity_days = c->est.validity / 86400 ? c->est.validity / 86400
							 : 1,
		.manual_approval = c->est.manual_approval,
		.retry_after_s = c->est.retry_after,
		.require_pop_linking = c->est.require_pop_linking,
		.basic_auth = c->est.basic_auth,
		.allowed_domains = c->est.allowed_domains,
		.n_allowed_domains = c->est.n_allowed_domains,
		.manufacturer_trust =
			(const char *const *)c->est.manufacturer_trust,
		.n_manufacturer_trust = c->est.n_manufacturer_trust,
		.masa_ca = c->est.masa_ca,
		.n_masa_ca = c->est.n_masa_ca,
	};
	char err[512];
	sv->est = est_service_new(loop, &ec, err, sizeof(err));
	if (!sv->est) {
		log_error("est", "%s", err);
		return -1;
	}
	return est_service_route(sv->est, sv->router);
}

/* The first listener of a kind: its port, or 0. */
static uint16_t listener_port(const struct anchord_config *c,
			      enum listen_kind kind)
{
	for (size_t i = 0; i < c->n_listen; i++)
		if (c->listen[i].kind == kind)
			return util_addr_port(
				(const struct sockaddr *)&c->listen[i].addr.ss);
	return 0;
}

static void on_enrolled(void *ctx, const char *device, const char *address)
{
	devices_add(ctx, device, address);
}

/* Enrollment (doc/ENROLLMENT.md): it hands out EST tokens, so it lives
 * only next to EST. */
static int add_enroll(struct http_services *sv, uv_loop_t *loop,
		      const struct anchord_config *c)
{
	struct pki_files files;
	char err[512], addrs[8][64];
	const char *addr_list[8];
	size_t n = 0;
	for (; n < c->tls.n_addresses && n < ARRAY_SIZE(addrs); n++) {
		util_addr_str((const struct sockaddr *)&c->tls.addresses[n].ss,
			      addrs[n], sizeof(addrs[n]));
		addrs[n][strcspn(addrs[n], "#")] = '\0';
		addr_list[n] = addrs[n];
	}
	if (pki_ensure_ca(c->state_dir, c->tls.ca_certificate, c->tls.ca_key,
			  &files, err, sizeof(err)) != 0) {
		log_error("enroll", "%s", err);
		return -1;
	}
	struct enroll_conf ec = {
		.state_dir = c->state_dir,
		.adn = c->name,
		.addresses = addr_list,
		.n_addresses = n,
		.dot_port = listener_port(c, LISTEN_DOT),
		.https_port = listener_port(c, LISTEN_HTTPS),
		.doh_path = c->doh_path,
		.server_cert = sv->server_cert,
		.backup_pin = c->enroll.backup_pin,
		.ca_cert = files.ca_cert,
		.max_failures = c->enroll.max_failures,
		.cert_validity_s = c->est.validity,
		.on_enrolled = on_enrolled,
		.ctx = sv->devices,
	};
	sv->enroll = enroll_service_new(loop, &ec, err, sizeof(err));
	if (!sv->enroll) {
		log_error("enroll", "%s", err);
		return -1;
	}
	return enroll_service_route(sv->enroll, sv->router);
}

struct http_services *http_services_new(uv_loop_t *loop, struct dns_worker *dns,
					const struct anchord_config *c,
					struct daemon_workers *ws,
					struct device_directory *devices)
{
	struct http_services *sv = calloc(1, sizeof(*sv));
	if (!sv)
		return NULL;
	sv->dns = dns;
	sv->conf = c;
	sv->workers = ws;
	sv->devices = devices;
	sv->started = time(NULL);
	sv->router = net_http_router_new();
	if (!sv->router ||
	    net_http_router_add(sv->router, c->doh_path, doh_handle, sv) != 0 ||
	    (c->http.metrics &&
	     net_http_router_add(sv->router, "/metrics", metrics_handle,
				 sv) != 0) ||
	    (c->est.enabled && add_est(sv, loop, c) != 0) ||
	    (c->est.enabled && c->enroll.enabled &&
	     add_enroll(sv, loop, c) != 0)) {
		http_services_free(sv);
		return NULL;
	}
	return sv;
}

struct net_http_router *http_services_router(struct http_services *sv)
{
	return sv->router;
}

void http_services_close(struct http_services *sv)
{
	if (sv)
		est_service_close(sv->est);
}

void http_services_free(struct http_services *sv)
{
	if (!sv)
		return;
	net_http_router_free(sv->router);
	est_service_free(sv->est);
	enroll_service_free(sv->enroll);
	free(sv);
}
