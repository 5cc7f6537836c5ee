/*  anchord - daemon/worker.c: worker threads and the transport glue.
 *
 *  Each worker is a thread with its own libuv loop, its own sockets for
 *  every listener (SO_REUSEPORT: the kernel spreads clients) and its own
 *  DNS state; the cache is shared. This is the only place that knows both
 *  net/ and dns/: it turns "a message arrived on a connection" into "a DNS
 *  request from this client over this transport" and back.
 */
#include "daemon/daemon.h"
#include "net/net.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DRAIN_CHECK_MS 20

struct worker;

struct listener {
	struct worker *w;
	const struct listen_conf *conf;
	int udp_fd, tcp_fd;
	struct net_udp *udp;
	struct net_stream_listener *tcp;
};

struct worker {
	unsigned id;
	uv_loop_t loop;
	uv_thread_t thread;
	uv_async_t wakeup;
	uv_timer_t drain_timer;
	struct daemon_workers *ws;
	struct dns_worker *dns;
	struct http_services *http;
	struct net_http_budget http_budget;
	struct listener *listeners;
	size_t n_listeners;
	struct dns_cache *cache;
	struct dns_env *start_env;
	struct net_tls_server *start_tls;
	_Atomic(struct dns_env *) next_env;
	_Atomic(struct net_tls_server *) next_tls;
	_Atomic(struct policy *) next_policy;
	atomic_bool stop;
	bool draining;
	uint64_t drain_deadline;
};

struct daemon_workers {
	const struct anchord_config *conf;
	struct device_directory *devices;
	struct querylog *querylog;	/* NULL: log.queries is off */
	struct policy *start_policy;	/* NULL: no policy */
	dns_mud_wanted_fn mud_wanted;
	dns_confined_fn confined;
	void *policy_ctx;
	bool started;
	struct worker *workers;
	unsigned n;
	uint64_t drain_ms;
};

/* ------------------------------------------------------------------ UDP glue */

static void udp_reply(struct dns_request *req, void *ctx, uint8_t *wire,
		      size_t len)
{
	const struct dns_client *c = dns_request_client(req);
	struct net_udp_peer peer = { .remote = c->addr, .local = c->local,
				     .ifindex = c->local_ifindex };
	net_udp_send(ctx, &peer, wire, len);
}

static const struct dns_reply_ops udp_reply_ops = { .send = udp_reply };

static void udp_message(void *ctx, struct net_udp *udp, const uint8_t *msg,
			size_t len, const struct net_udp_peer *peer)
{
	struct listener *l = ctx;
	struct dns_client client = {
		.addr = peer->remote,
		.local = peer->local,
		.local_ifindex = peer->ifindex,
		.transport = DNS_TRANSPORT_UDP,
	};
	dns_request_start(l->w->dns, msg, len, &client, 0, &udp_reply_ops, udp,
			  NULL);
}

static const struct net_udp_ops udp_ops = { .on_message = udp_message };

/* ------------------------------------------------------------------ TCP glue */

/* What a connection keeps for the DNS layer: its requests in flight. */
struct conn_state {
	struct util_list inflight;
	struct dns_client client;	/* resolved once per connection */
};

static void tcp_reply(struct dns_request *req, void *ctx, uint8_t *wire,
		      size_t len)
{
	net_conn_send(ctx, wire, len);
	net_conn_done(ctx);
}

static void tcp_dropped(struct dns_request *req, void *ctx)
{
	net_conn_done(ctx);
}

static const struct dns_reply_ops tcp_reply_ops = {
	.send = tcp_reply,
	.dropped = tcp_dropped,
};

/* Who is asking: addresses, and over TLS the client certificate. */
static void stream_client(const struct listener *l, struct net_conn *conn,
			  struct dns_client *client)
{
	*client = (struct dns_client){
		.addr = *net_conn_remote(conn),
		.local = *net_conn_local(conn),
		.transport = l->conf->kind == LISTEN_DOT ? DNS_TRANSPORT_DOT
							 : DNS_TRANSPORT_TCP,
		.encrypted = net_conn_encrypted(conn),
		.stream = true,
	};
	const struct net_peer_cert *cert = net_conn_peer_cert(conn);
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

/* The first query of a DoT connection: say which enrolled device asks,
 * once per connection rather than per query. */
static void identify(const struct listener *l, const struct dns_client *c)
{
	char addr[64], name[64];
	if (l->conf->kind != LISTEN_DOT)
		return;
	util_addr_str((const struct sockaddr *)&c->addr.ss, addr, sizeof(addr));
	addr[strcspn(addr, "#")] = '\0';
	if (c->cert_present && c->cert_verified)
		log_info("dot", "connection from %s: device %s (client "
			 "certificate)", addr, c->cert_cn);
	else if (devices_by_address(l->w->ws->devices, addr, name,
				    sizeof(name)))
		log_info("dot", "connection from %s: device %s (enrolled from "
			 "this address)", addr, name);
}

static void tcp_message(void *ctx, struct net_conn *conn, const uint8_t *msg,
			size_t len)
{
	struct listener *l = ctx;
	struct conn_state *cs = net_conn_user(conn);
	if (!cs) {
		cs = malloc(sizeof(*cs));
		if (!cs) {
			net_conn_done(conn);
			return;
		}
		util_list_init(&cs->inflight);
		net_conn_set_user(conn, cs);
		stream_client(l, conn, &cs->client);
		identify(l, &cs->client);
	}
	/* Who asks, and so what it may resolve, once per connection. */
	dns_worker_identify(l->w->dns, &cs->client);
	struct dns_client client = cs->client;
	dns_request_start(l->w->dns, msg, len, &client, 0, &tcp_reply_ops, conn,
			  &cs->inflight);
}

static void tcp_close(void *ctx, struct net_conn *conn)
{
	struct conn_state *cs = net_conn_user(conn);
	if (!cs)
		return;
	dns_requests_orphan(&cs->inflight);
	free(cs);
	net_conn_set_user(conn, NULL);
}

static const struct net_stream_ops tcp_ops = {
	.on_message = tcp_message,
	.on_close = tcp_close,
};

/* ------------------------------------------------------------------ binding */

static int listen_error(const struct util_addr *addr, const char *what,
			int error, char *err, size_t errlen)
{
	char a[UTIL_ADDR_STRLEN];
	snprintf(err, errlen, "cannot listen on %s%s: %s",
		 util_addr_str((const struct sockaddr *)&addr->ss, a, sizeof(a)),
		 what, strerror(-error));
	return -1;
}

static int bind_listener(struct listener *l, char *err, size_t errlen)
{
	const struct util_addr *addr = &l->conf->addr;
	int busy = 0;
	bool udp = l->conf->kind == LISTEN_DNS;	/* dot, https: TCP only */
	if (l->w->id == 0 &&
	    ((udp && (busy = net_check_free(addr, NET_SOCK_UDP)) != 0) ||
	     (busy = net_check_free(addr, NET_SOCK_TCP)) != 0))
		return listen_error(addr, "", busy, err, errlen);
	if (udp && (l->udp_fd = net_bind_socket(addr, NET_SOCK_UDP, 0)) < 0)
		return listen_error(addr, " (UDP)", l->udp_fd, err, errlen);
	l->tcp_fd = net_bind_socket(addr, NET_SOCK_TCP, 1024);
	if (l->tcp_fd < 0)
		return listen_error(addr, " (TCP)", l->tcp_fd, err, errlen);
	return 0;
}

static void close_fds(struct daemon_workers *ws)
{
	for (unsigned i = 0; i < ws->n; i++) {
		struct worker *w = &ws->workers[i];
		for (size_t j = 0; w->listeners && j < w->n_listeners; j++) {
			if (w->listeners[j].udp_fd >= 0 && !w->listeners[j].udp)
				close(w->listeners[j].udp_fd);
			if (w->listeners[j].tcp_fd >= 0 && !w->listeners[j].tcp)
				close(w->listeners[j].tcp_fd);
		}
		free(w->listeners);
	}
	free(ws->workers);
	free(ws);
}

void workers_set_devices(struct daemon_workers *ws,
			 struct device_directory *d)
{
	ws->devices = d;
}

void workers_set_querylog(struct daemon_workers *ws, struct querylog *ql)
{
	ws->querylog = ql;
}

struct daemon_workers *workers_bind(const struct anchord_config *c,
				    char *err, size_t errlen)
{
	struct daemon_workers *ws = calloc(1, sizeof(*ws));
	if (!ws || !(ws->workers = calloc(c->workers, sizeof(*ws->workers)))) {
		free(ws);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ws->conf = c;
	ws->n = c->workers;
	for (unsigned i = 0; i < ws->n; i++) {
		struct worker *w = &ws->workers[i];
		w->id = i;
		w->ws = ws;
		w->listeners = calloc(c->n_listen, sizeof(*w->listeners));
		if (!w->listeners) {
			snprintf(err, errlen, "out of memory");
			close_fds(ws);
			return NULL;
		}
		for (size_t j = 0; j < c->n_listen; j++) {
			struct listener *l = &w->listeners[j];
			*l = (struct listener){ .w = w, .conf = &c->listen[j],
						.udp_fd = -1, .tcp_fd = -1 };
			w->n_listeners = j + 1;
			if (bind_listener(l, err, errlen) != 0) {
				close_fds(ws);
				return NULL;
			}
		}
	}
	return ws;
}

/* ------------------------------------------------------------------ running */

/* Limits of HTTP requests: a DoH message is at most 65,535 bytes; the
 * budget caps what all of a worker's HTTP clients may have buffered. */
static struct net_stream_listener *start_https(struct worker *w,
					       struct listener *l,
					       const struct net_stream_limits *lim)
{
	const struct anchord_config *c = w->ws->conf;
	if (!w->http) {
		w->http = http_services_new(&w->loop, w->dns, c, w->ws,
					    w->ws->devices);
		w->http_budget.limit = c->http.buffer_budget;
		if (!w->http)
			return NULL;
	}
	struct net_http_limits hl = {
		.max_streams = c->http.max_streams,
		.max_body = DNS_MAX_MSG,
		.max_header_bytes = 16 * 1024,
		.max_path = 8 * 1024,
		.budget = &w->http_budget,
	};
	return net_http_listen(&w->loop, l->tcp_fd, lim, w->start_tls, &hl,
			       http_services_router(w->http));
}

static int start_listeners(struct worker *w)
{
	const struct anchord_config *c = w->ws->conf;
	struct net_stream_limits lim = {
		.max_per_client = c->max_connections_per_client,
		.max_inflight = c->max_pipelined,
		.idle_timeout_ms = c->tcp_idle_timeout_ms,
		.max_write_queue = 4 * DNS_MAX_MSG,
	};
	for (size_t i = 0; i < w->n_listeners; i++) {
		struct listener *l = &w->listeners[i];
		lim.max_connections = l->conf->max_connections;
		if (l->udp_fd >= 0) {
			l->udp = net_udp_start(&w->loop, l->udp_fd, &udp_ops, l,
					       c->dns.edns_udp_size);
			if (!l->udp)
				return -1;
		}
		if (l->conf->kind == LISTEN_HTTPS)
			l->tcp = start_https(w, l, &lim);
		else
			l->tcp = net_stream_listen(&w->loop, l->tcp_fd, &lim,
				l->conf->kind == LISTEN_DOT ? w->start_tls : NULL,
				&tcp_ops, l);
		if (!l->tcp)
			return -1;
		if (l->conf->client_certs >= 0)
			net_stream_set_client_certs(l->tcp,
				(enum net_client_cert_mode)l->conf->client_certs);
	}
	return 0;
}

static void swap_tls(struct worker *w, struct net_tls_server *tls)
{
	for (size_t i = 0; i < w->n_listeners; i++)
		if (w->listeners[i].tcp && w->listeners[i].conf->kind != LISTEN_DNS)
			net_stream_set_tls(w->listeners[i].tcp, tls);
}

static unsigned open_connections(const struct worker *w)
{
	unsigned n = 0;
	for (size_t i = 0; i < w->n_listeners; i++)
		if (w->listeners[i].tcp)
			n += net_stream_connections(w->listeners[i].tcp);
	return n;
}

/* Everything answered (or the deadline passed): close all handles, and
 * the loop ends by itself. */
static void finish_drain(struct worker *w)
{
	uv_timer_stop(&w->drain_timer);
	dns_worker_shutdown(w->dns);
	for (size_t i = 0; i < w->n_listeners; i++) {
		if (w->listeners[i].udp)
			net_udp_close(w->listeners[i].udp);
		if (w->listeners[i].tcp)
			net_stream_close(w->listeners[i].tcp);
		/* The handles own the descriptors now, and close them. */
		w->listeners[i].udp = NULL;
		w->listeners[i].tcp = NULL;
		w->listeners[i].udp_fd = w->listeners[i].tcp_fd = -1;
	}
	http_services_close(w->http);
	uv_close((uv_handle_t *)&w->wakeup, NULL);
	uv_close((uv_handle_t *)&w->drain_timer, NULL);
}

static void drain_check(uv_timer_t *t)
{
	struct worker *w = t->data;
	if ((dns_worker_inflight(w->dns) == 0 && open_connections(w) == 0) ||
	    uv_now(&w->loop) >= w->drain_deadline)
		finish_drain(w);
}

static void start_drain(struct worker *w)
{
	w->draining = true;
	w->drain_deadline = uv_now(&w->loop) + w->ws->drain_ms;
	for (size_t i = 0; i < w->n_listeners; i++) {
		if (w->listeners[i].udp)
			net_udp_stop_reading(w->listeners[i].udp);
		if (w->listeners[i].tcp)
			net_stream_stop_accepting(w->listeners[i].tcp);
	}
	uv_timer_start(&w->drain_timer, drain_check, 0, DRAIN_CHECK_MS);
}

static void on_wakeup(uv_async_t *a)
{
	struct worker *w = a->data;
	struct dns_env *env = atomic_exchange(&w->next_env, NULL);
	if (env) {
		dns_worker_set_env(w->dns, env);
		dns_env_unref(env);
	}
	struct net_tls_server *tls = atomic_exchange(&w->next_tls, NULL);
	if (tls) {
		swap_tls(w, tls);
		net_tls_server_unref(tls);
	}
	struct policy *policy = atomic_exchange(&w->next_policy, NULL);
	if (policy) {
		dns_worker_set_policy(w->dns, policy);
		policy_unref(policy);
	}
	if (atomic_load(&w->stop) && !w->draining)
		start_drain(w);
}

static void worker_main(void *arg)
{
	struct worker *w = arg;
	uv_run(&w->loop, UV_RUN_DEFAULT);
	http_services_free(w->http);
	w->http = NULL;
	dns_worker_free(w->dns);
	w->dns = NULL;
	uv_loop_close(&w->loop);
}

static int worker_init(struct worker *w)
{
	if (uv_loop_init(&w->loop) != 0)
		return -1;
	w->dns = dns_worker_new(&w->loop, w->cache, w->start_env);
	if (!w->dns)
		return -1;
	querylog_attach(w->ws->querylog, w->id, w->dns);
	dns_worker_set_policy(w->dns, w->ws->start_policy);
	dns_worker_set_policy_hooks(w->dns, w->ws->mud_wanted, w->ws->confined,
				    w->ws->policy_ctx);
	uv_async_init(&w->loop, &w->wakeup, on_wakeup);
	w->wakeup.data = w;
	uv_timer_init(&w->loop, &w->drain_timer);
	w->drain_timer.data = w;
	return start_listeners(w);
}

int workers_start(struct daemon_workers *ws, struct dns_cache *cache,
		  struct dns_env *env, struct net_tls_server *tls)
{
	for (unsigned i = 0; i < ws->n; i++) {
		struct worker *w = &ws->workers[i];
		w->cache = cache;
		w->start_env = env;
		w->start_tls = tls;
		atomic_init(&w->next_env, NULL);
		atomic_init(&w->next_tls, NULL);
		atomic_init(&w->next_policy, NULL);
		atomic_init(&w->stop, false);
		if (worker_init(w) != 0)
			return -1;
		if (uv_thread_create(&w->thread, worker_main, w) != 0)
			return -1;
	}
	ws->started = true;
	return 0;
}

void workers_set_policy_hooks(struct daemon_workers *ws,
			      dns_mud_wanted_fn wanted,
			      dns_confined_fn confined, void *ctx)
{
	ws->mud_wanted = wanted;
	ws->confined = confined;
	ws->policy_ctx = ctx;
}

void workers_set_policy(struct daemon_workers *ws, struct policy *p)
{
	if (!ws->started) {
		policy_ref(p);
		policy_unref(ws->start_policy);
		ws->start_policy = p;
		return;
	}
	for (unsigned i = 0; i < ws->n; i++) {
		struct worker *w = &ws->workers[i];
		policy_ref(p);
		policy_unref(atomic_exchange(&w->next_policy, p));
		uv_async_send(&w->wakeup);
	}
}

void workers_set_env(struct daemon_workers *ws, struct dns_env *env)
{
	for (unsigned i = 0; i < ws->n; i++) {
		struct worker *w = &ws->workers[i];
		dns_env_ref(env);
		struct dns_env *old = atomic_exchange(&w->next_env, env);
		if (old)
			dns_env_unref(old);
		uv_async_send(&w->wakeup);
	}
}

void workers_set_tls(struct daemon_workers *ws, struct net_tls_server *tls)
{
	for (unsigned i = 0; i < ws->n; i++) {
		struct worker *w = &ws->workers[i];
		net_tls_server_ref(tls);
		struct net_tls_server *old = atomic_exchange(&w->next_tls, tls);
		net_tls_server_unref(old);
		uv_async_send(&w->wakeup);
	}
}

void workers_stop(struct daemon_workers *ws, uint64_t drain_ms)
{
	ws->drain_ms = drain_ms;
	for (unsigned i = 0; i < ws->n; i++) {
		atomic_store(&ws->workers[i].stop, true);
		uv_async_send(&ws->workers[i].wakeup);
	}
	for (unsigned i = 0; i < ws->n; i++) {
		uv_thread_join(&ws->workers[i].thread);
		struct dns_env *env = atomic_exchange(&ws->workers[i].next_env,
						      NULL);
		if (env)
			dns_env_unref(env);
		net_tls_server_unref(atomic_exchange(&ws->workers[i].next_tls,
						     NULL));
		policy_unref(atomic_exchange(&ws->workers[i].next_policy,
					     NULL));
	}
	policy_unref(ws->start_policy);
	ws->start_policy = NULL;
	close_fds(ws);
}

/* Both stats structs are plain runs of uint64_t counters. */
_Static_assert(sizeof(struct net_stream_stats) % sizeof(uint64_t) == 0,
	       "net_stream_stats holds only uint64_t");
_Static_assert(sizeof(struct dns_worker_stats) % sizeof(uint64_t) == 0,
	       "dns_worker_stats holds only uint64_t");

static void add_stats(struct net_stream_stats *sum,
		      const struct net_stream_stats *s)
{
	uint64_t *d = (uint64_t *)sum;
	const uint64_t *v = (const uint64_t *)s;
	for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		d[i] += v[i];
}

static void add_dns_stats(struct dns_worker_stats *sum,
			  const struct dns_worker_stats *s)
{
	uint64_t *d = (uint64_t *)sum;
	const uint64_t *v = (const uint64_t *)s;
	for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		d[i] += v[i];
}

/* One upstream as every worker sees it: down if any avoids it, the most
 * failures in a row, the largest round-trip estimate. */
static void merge_health(struct dns_worker_health *sum,
			 const struct dns_worker_health *h)
{
	for (size_t i = 0; i < h->n && i < DNS_HEALTH_MAX; i++) {
		struct dns_upstream_health e = h->up[i];
		size_t j = 0;
		while (j < sum->n && strcmp(sum->up[j].address, e.address) != 0)
			j++;
		if (j == sum->n) {
			if (sum->n == DNS_HEALTH_MAX)
				continue;
			sum->up[sum->n++] = e;
			continue;
		}
		struct dns_upstream_health *s = &sum->up[j];
		s->down = s->down || e.down;
		s->failures = MAX(s->failures, e.failures);
		s->srtt_ms = MAX(s->srtt_ms, e.srtt_ms);
	}
}

void workers_collect_health(struct daemon_workers *ws,
			    struct dns_worker_health *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < ws->n; i++)
		if (ws->workers[i].dns)
			merge_health(out,
				     dns_worker_get_health(ws->workers[i].dns));
}

void workers_collect_metrics(struct daemon_workers *ws,
			     struct daemon_metrics *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < ws->n; i++) {
		struct worker *w = &ws->workers[i];
		if (w->dns)
			add_dns_stats(&out->dns, dns_worker_get_stats(w->dns));
		for (size_t j = 0; j < w->n_listeners; j++) {
			struct listener *l = &w->listeners[j];
			if (!l->tcp)
				continue;
			add_stats(&out->listeners[l->conf->kind],
				  net_stream_get_stats(l->tcp));
			out->connections[l->conf->kind] +=
				net_stream_connections(l->tcp);
		}
	}
	out->querylog_dropped = querylog_dropped(ws->querylog);
	if (ws->n && ws->workers[0].cache)
		dns_cache_stats(ws->workers[0].cache, &out->cache);
}
