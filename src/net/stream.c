/*  anchord - net/stream.c: DNS over TCP, the server side (RFC 7766).
 *
 *  Messages are delivered as soon as they are complete, several may be in
 *  flight per connection and answers leave in whatever order they finish
 *  (pipelining, out-of-order). Limits: connections per listener (when full,
 *  the longest-quiet idle connection makes room) and per client address,
 *  messages in flight per connection (reading pauses beyond), bytes queued
 *  to a slow reader (the connection is closed), and an idle timeout that
 *  only a complete query resets, so that a client trickling a partial
 *  message does not keep its slot.
 *
 *  An idle connection holds no buffers: reads land in a buffer of the
 *  listener and only an incomplete message is copied aside.
 */
#include "net/internal.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define READ_BUF_SIZE (64 * 1024)
#define GATHER_SIZE (16 * 1024)	/* answers of one read, in one write */

struct client_count {
	struct client_count *next;
	struct util_addr addr;
	unsigned count;
};

#define CLIENT_BUCKETS 256
/* Partial DNS messages a listener of a worker holds for all its TCP and
 * DoT connections: 512 connections halfway through the largest message.
 * A connection that would pass it is closed; whole messages and the
 * connections that send them never come near it. */
#define FRAME_BUDGET ((size_t)32 << 20)

enum stream_proto {
	PROTO_DNS,		/* two-byte length framing (RFC 7766, 7858) */
	PROTO_HTTP,		/* HTTP/2 or HTTP/1.1 */
};

struct net_stream_listener {
	uv_tcp_t tcp;
	uv_loop_t *loop;
	struct net_stream_limits limits;
	struct net_tls_server *tls;	/* NULL: plain TCP */
	int client_certs;		/* -1: what tls says */
	enum stream_proto proto;
	struct net_http_limits http_limits;
	struct net_http_router *router;
	struct net_stream_stats stats;
	const struct net_stream_ops *ops;
	void *ctx;
	struct util_list conns;
	unsigned n_conns;
	size_t framer_used;		/* partial DNS messages, all conns */
	unsigned handles;		/* open uv handles, listener included */
	bool accepting, closing;
	struct client_count *clients[CLIENT_BUCKETS];
	uint8_t read_buf[READ_BUF_SIZE];
	struct net_conn *gathering;	/* whose read is being processed */
	size_t gather_len;
	uint8_t gather_buf[GATHER_SIZE];	/* its answers, not yet written */
};

struct net_conn {
	uv_tcp_t tcp;
	uv_timer_t idle;
	struct net_stream_listener *lst;
	struct util_list node;
	struct util_addr remote, local;
	struct tls_conn *tls;
	struct http_conn *http;
	struct net_framer framer;
	unsigned inflight;
	size_t queued;			/* bytes in pending writes */
	unsigned handles;
	bool reading, paused, eof, closing, close_when_flushed;
	bool corked;			/* TLS records gathered, not sent */
	unsigned long writes;		/* to the socket, for ack_if_silent */
	void *user;
};

/* ------------------------------------------------------------------ per-client counts */

static struct client_count **client_slot(struct net_stream_listener *l,
					 const struct util_addr *a)
{
	const void *host;
	size_t len;
	if (a->ss.ss_family == AF_INET) {
		host = &((const struct sockaddr_in *)&a->ss)->sin_addr;
		len = 4;
	} else {
		host = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
		len = 16;
	}
	struct client_count **pp =
		&l->clients[util_hash(host, len) & (CLIENT_BUCKETS - 1)];
	while (*pp && !util_addr_same_host((struct sockaddr *)&(*pp)->addr.ss,
					   (const struct sockaddr *)&a->ss))
		pp = &(*pp)->next;
	return pp;
}

static bool client_admit(struct net_stream_listener *l,
			 const struct util_addr *a)
{
	struct client_count **pp = client_slot(l, a);
	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp)
			return false;
		(*pp)->addr = *a;
	}
	if ((*pp)->count >= l->limits.max_per_client)
		return false;
	(*pp)->count++;
	return true;
}

static void client_leave(struct net_stream_listener *l,
			 const struct util_addr *a)
{
	struct client_count **pp = client_slot(l, a);
	struct client_count *c = *pp;
	if (c && --c->count == 0) {
		*pp = c->next;
		free(c);
	}
}

/* ------------------------------------------------------------------ closing */

static void listener_maybe_free(struct net_stream_listener *l)
{
	if (l->closing && l->handles == 0) {
		net_tls_server_unref(l->tls);
		free(l);
	}
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct net_conn *c = h->data;
	if (--c->handles > 0)
		return;
	struct net_stream_listener *l = c->lst;
	net_framer_reset(&c->framer);
	http_conn_free(c->http);
	tls_conn_free(c->tls);	/* no callback of it can run any more */
	free(c);
	l->handles--;
	listener_maybe_free(l);
}

static void conn_close(struct net_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	struct net_stream_listener *l = c->lst;
	if (c->http)
		http_conn_cancel_all(c->http);
	else
		l->ops->on_close(l->ctx, c);
	util_list_remove(&c->node);
	l->n_conns--;
	client_leave(l, &c->remote);
	if (c->tls)
		tls_conn_goodbye(c->tls);
	uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

/* ------------------------------------------------------------------ reading */

static void on_idle(uv_timer_t *t)
{
	conn_close(t->data);
}

/* Only a complete query resets the idle timer, and during the TLS
 * handshake its own deadline runs: trickling bytes keeps nothing open. */
static void arm_idle(struct net_conn *c)
{
	if (c->inflight == 0 && !c->closing &&
	    (!c->tls || tls_conn_ready(c->tls)))
		uv_timer_start(&c->idle, on_idle, c->lst->limits.idle_timeout_ms,
			       0);
}

static void read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct net_conn *c = h->data;
	*buf = uv_buf_init((char *)c->lst->read_buf, READ_BUF_SIZE);
}

static bool deliver(void *ctx, const uint8_t *msg, size_t len)
{
	struct net_conn *c = ctx;
	if (c->closing)
		return false;
	/* Most recently active last: eviction takes from the front. */
	util_list_remove(&c->node);
	util_list_push(&c->lst->conns, &c->node);
	c->inflight++;
	uv_timer_stop(&c->idle);
	c->lst->ops->on_message(c->lst->ctx, c, msg, len);
	return !c->closing;
}

static void finish_if_done(struct net_conn *c)
{
	if (c->eof && c->inflight == 0 && c->queued == 0 && !c->corked)
		conn_close(c);
}

/* DoT answers made while one read is processed (cache hits, mostly) are
 * gathered into as few TLS records and one write: a client that
 * pipelines gets them with one system call instead of one each (writes
 * per answer 1.0 -> 0.4 in make bench). Answers that come later, from
 * upstream, go out at once as before. HTTP/2 gathers per flush only
 * (http2.c): gathering a whole read's flushes stalls dnsperf 2.10's DoH. */
static int feed_tls(struct net_conn *c, const uint8_t *data, size_t n)
{
	if (c->lst->proto != PROTO_HTTP && tls_conn_ready(c->tls))
		stream_conn_cork(c);
	int ret = tls_conn_feed(c->tls, data, n);
	stream_conn_uncork(c);	/* closes the connection if the write fails */
	return ret;
}

static void write_finished(uv_stream_t *s, int status);

/* Every write to the client's socket goes through here. */
static int conn_write(struct net_conn *c, const uint8_t *data, size_t len)
{
	c->writes++;
	return net_stream_write((uv_stream_t *)&c->tcp, data, len, &c->queued,
				write_finished);
}

/* The TCP counterpart of feed_tls: answers made while one read is
 * processed wait in the listener's gather buffer (one read is processed at
 * a time per loop) and leave in one write. */
static void gather_flush(struct net_conn *c)
{
	struct net_stream_listener *l = c->lst;
	size_t len = l->gather_len;
	l->gather_len = 0;
	if (len == 0 || c->closing)
		return;
	int ret = conn_write(c, l->gather_buf, len);
	if (ret != 0 || c->queued > l->limits.max_write_queue)
		conn_close(c);	/* broken, or a client that does not read */
}

static bool gather(struct net_conn *c, const uint8_t *data, size_t len)
{
	struct net_stream_listener *l = c->lst;
	if (l->gathering != c)
		return false;
	if (l->gather_len + len > sizeof(l->gather_buf))
		gather_flush(c);
	if (c->closing)
		return true;	/* the flush failed: nothing more to send */
	if (len > sizeof(l->gather_buf))
		return false;	/* too big to gather: written on its own */
	memcpy(l->gather_buf + l->gather_len, data, len);
	l->gather_len += len;
	return true;
}

static int feed_tcp(struct net_conn *c, const uint8_t *data, size_t n)
{
	struct net_stream_listener *l = c->lst;
	l->gathering = c;
	int ret = net_framer_feed(&c->framer, data, n, deliver, c);
	l->gathering = NULL;
	gather_flush(c);
	return ret;
}

/* A read that the server answers carries the TCP ACK back on the answer.
 * A read it does not answer (part of a message, or a query that goes
 * upstream) has its ACK delayed by up to 40 ms, and a client with Nagle's
 * algorithm on cannot send the rest of its request, or its next query,
 * until that ACK. dnsperf's DoH client is one: with 10 connections at
 * 10,000 qps, 4% of its answers took 5 to 42 ms (p99 15 ms); with this,
 * p99 is 2 to 4 ms. TCP_QUICKACK sends the ACK now. */
static void ack_if_silent(struct net_conn *c, unsigned long writes_before)
{
	uv_os_fd_t fd;
	int one = 1;
	if (c->closing || c->writes != writes_before ||
	    uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
		return;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct net_conn *c = s->data;
	if (nread == 0 || c->closing)
		return;
	if (nread < 0) {
		/* EOF: the client may have queries in flight; answer them
		 * and then close (RFC 7766 6.2.3). */
		uv_read_stop(s);
		c->reading = false;
		c->eof = true;
		if (nread != UV_EOF)
			conn_close(c);
		else
			finish_if_done(c);
		return;
	}
	unsigned long writes_before = c->writes;
	int ret;
	if (c->tls)
		ret = feed_tls(c, (const uint8_t *)buf->base, (size_t)nread);
	else if (c->http)
		ret = http_conn_feed(c->http, (const uint8_t *)buf->base,
				     (size_t)nread);
	else
		ret = feed_tcp(c, (const uint8_t *)buf->base, (size_t)nread);
	if (ret < 0) {
		if (c->tls && !tls_conn_ready(c->tls))
			c->lst->stats.tls_failed++;
		conn_close(c);
		return;
	}
	if (ret == 1) {		/* TLS close_notify: like EOF */
		on_read(s, UV_EOF, buf);
		return;
	}
	ack_if_silent(c, writes_before);
	if (!c->closing && c->inflight >= c->lst->limits.max_inflight) {
		uv_read_stop(s);	/* resumes in net_conn_done */
		c->reading = false;
		c->paused = true;
	}
}

/* ------------------------------------------------------------------ TLS glue */

static int tls_push(void *ctx, const uint8_t *data, size_t len);

static bool tls_plaintext(void *ctx, const uint8_t *data, size_t len)
{
	struct net_conn *c = ctx;
	if (c->closing)
		return false;
	int ret = c->http ? http_conn_feed(c->http, data, len)
			  : net_framer_feed(&c->framer, data, len, deliver, c);
	if (ret != 0) {
		conn_close(c);
		return false;
	}
	return !c->closing;
}

static void tls_ready(void *ctx)
{
	struct net_conn *c = ctx;
	struct net_stream_listener *l = c->lst;
	l->stats.tls_handshakes++;
	l->stats.tls_resumed += tls_conn_resumed(c->tls);
	if (l->proto == PROTO_HTTP) {
		c->http = http_conn_new(c, tls_conn_alpn_is(c->tls, "h2"),
					&l->http_limits, l->router, &l->stats);
		if (!c->http) {
			conn_close(c);
			return;
		}
	}
	uv_timer_stop(&c->idle);
	arm_idle(c);
}

static const struct tls_io server_tls_io = {
	.push = tls_push,
	.plaintext = tls_plaintext,
	.ready = tls_ready,
};

static void start_reading(struct net_conn *c)
{
	if (!c->reading && !c->eof && !c->closing && c->lst->accepting &&
	    uv_read_start((uv_stream_t *)&c->tcp, read_alloc, on_read) == 0)
		c->reading = true;
}

/* ------------------------------------------------------------------ accepting */

static void fill_addrs(struct net_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
		util_addr_set(&c->remote, (struct sockaddr *)&ss,
			      (socklen_t)len);
	len = sizeof(ss);
	if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
		util_addr_set(&c->local, (struct sockaddr *)&ss, (socklen_t)len);
}

static void reject_closed(uv_handle_t *h)
{
	struct net_stream_listener *l = h->data;
	free(h);
	l->handles--;
	listener_maybe_free(l);
}

/* Over a limit: accept and reset at once, so the backlog does not fill. */
static void reject(struct net_stream_listener *l)
{
	l->stats.rejected++;
	uv_tcp_t *t = malloc(sizeof(*t));
	if (!t || uv_tcp_init(l->loop, t) != 0) {
		free(t);
		return;
	}
	t->data = l;
	l->handles++;
	if (uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)t) == 0)
		uv_tcp_close_reset(t, reject_closed);
	else
		uv_close((uv_handle_t *)t, reject_closed);
}

/* Full: make room by closing the connection that has been quiet longest,
 * if it has nothing in flight. Idle connections cannot lock clients out. */
static bool evict_idle(struct net_stream_listener *l)
{
	if (util_list_empty(&l->conns))
		return false;
	struct net_conn *oldest = container_of(l->conns.next, struct net_conn,
					       node);
	if (oldest->inflight > 0)
		return false;
	conn_close(oldest);
	return true;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct net_stream_listener *l = server->data;
	if (status < 0 || !l->accepting)
		return;
	if (l->n_conns >= l->limits.max_connections && !evict_idle(l)) {
		reject(l);
		return;
	}
	struct net_conn *c = calloc(1, sizeof(*c));
	if (!c || uv_tcp_init(l->loop, &c->tcp) != 0) {
		free(c);
		reject(l);
		return;
	}
	c->lst = l;
	c->tcp.data = c;
	c->handles = 1;
	c->framer.budget_used = &l->framer_used;
	c->framer.budget_limit = FRAME_BUDGET;
	l->handles++;
	util_list_init(&c->node);
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
		return;
	}
	fill_addrs(c);
	if (!client_admit(l, &c->remote)) {
		uv_tcp_close_reset(&c->tcp, conn_handle_closed);
		return;
	}
	uv_timer_init(l->loop, &c->idle);
	c->idle.data = c;
	c->handles = 2;
	util_list_push(&l->conns, &c->node);
	l->n_conns++;
	uv_tcp_nodelay(&c->tcp, 1);
	l->stats.accepted++;
	if (l->tls) {
		static const char *const dot[] = { "dot" };
		static const char *const http[] = { "h2", "http/1.1" };
		bool is_http = l->proto == PROTO_HTTP;
		c->tls = tls_conn_server(l->tls, is_http ? http : dot,
					 is_http ? 2 : 1, l->client_certs,
					 &server_tls_io, c);
		if (!c->tls) {
			conn_close(c);
			return;
		}
		/* A client that stops mid-handshake loses its slot. */
		uv_timer_start(&c->idle, on_idle,
			       tls_conn_handshake_timeout(c->tls), 0);
	} else if (l->proto == PROTO_HTTP) {
		c->http = http_conn_new(c, false, &l->http_limits, l->router,
					&l->stats);
		if (!c->http) {
			conn_close(c);
			return;
		}
	}
	start_reading(c);
	arm_idle(c);
}

/* ------------------------------------------------------------------ API */

static struct net_stream_listener *listener_new(uv_loop_t *loop, int fd,
	const struct net_stream_limits *lim, struct net_tls_server *tls,
	const struct net_stream_ops *ops, void *ctx);

struct net_stream_listener *net_stream_listen(uv_loop_t *loop, int fd,
					      const struct net_stream_limits *lim,
					      struct net_tls_server *tls,
					      const struct net_stream_ops *ops,
					      void *ctx)
{
	return listener_new(loop, fd, lim, tls, ops, ctx);
}

/* HTTP connections report to no DNS layer: their requests go through the
 * router. */
static void http_no_message(void *ctx, struct net_conn *c, const uint8_t *m,
			    size_t len)
{
}

static void http_no_close(void *ctx, struct net_conn *c)
{
}

static const struct net_stream_ops http_ops = {
	.on_message = http_no_message,
	.on_close = http_no_close,
};

struct net_stream_listener *net_http_listen(uv_loop_t *loop, int fd,
					    const struct net_stream_limits *lim,
					    struct net_tls_server *tls,
					    const struct net_http_limits *hl,
					    struct net_http_router *router)
{
	struct net_stream_listener *l = listener_new(loop, fd, lim, tls,
						     &http_ops, NULL);
	if (l) {
		l->proto = PROTO_HTTP;
		l->http_limits = *hl;
		l->router = router;
	}
	return l;
}

static struct net_stream_listener *listener_new(uv_loop_t *loop, int fd,
	const struct net_stream_limits *lim, struct net_tls_server *tls,
	const struct net_stream_ops *ops, void *ctx)
{
	struct net_stream_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	if (tls)
		net_tls_server_ref(tls);
	l->tls = tls;
	l->client_certs = -1;
	l->loop = loop;
	l->limits = *lim;
	l->ops = ops;
	l->ctx = ctx;
	util_list_init(&l->conns);
	if (uv_tcp_init(loop, &l->tcp) != 0 || uv_tcp_open(&l->tcp, fd) != 0) {
		net_tls_server_unref(l->tls);
		free(l);
		return NULL;
	}
	l->tcp.data = l;
	l->handles = 1;
	/* The fd is already bound and listening; uv_listen only hooks it. */
	if (uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection) != 0) {
		l->closing = true;
		uv_close((uv_handle_t *)&l->tcp, NULL);
		return NULL;
	}
	l->accepting = true;
	return l;
}

static void listener_closed(uv_handle_t *h)
{
	struct net_stream_listener *l = h->data;
	l->handles--;
	listener_maybe_free(l);
}

void net_stream_stop_accepting(struct net_stream_listener *l)
{
	if (!l->accepting)
		return;
	l->accepting = false;
	uv_close((uv_handle_t *)&l->tcp, listener_closed);
	/* Existing connections answer what they have, then close. */
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &l->conns) {
		struct net_conn *c = container_of(pos, struct net_conn, node);
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
		c->eof = true;
		finish_if_done(c);
	}
}

void net_stream_close(struct net_stream_listener *l)
{
	net_stream_stop_accepting(l);
	while (!util_list_empty(&l->conns))
		conn_close(container_of(l->conns.next, struct net_conn, node));
	l->closing = true;
	/* Per-client counters went with their connections. */
	listener_maybe_free(l);
}

unsigned net_stream_connections(const struct net_stream_listener *l)
{
	return l->n_conns;
}

static void write_finished(uv_stream_t *s, int status)
{
	struct net_conn *c = s->data;
	if (status < 0 || (c->close_when_flushed && c->queued == 0))
		conn_close(c);
	else
		finish_if_done(c);
}

int stream_conn_write(struct net_conn *c, const uint8_t *data, size_t len)
{
	if (c->closing)
		return UV_ECANCELED;
	int ret = c->tls ? (tls_conn_send(c->tls, data, len) == 0 ? 0
								 : UV_EPROTO)
			 : conn_write(c, data, len);
	if (ret != 0 || c->queued > c->lst->limits.max_write_queue) {
		conn_close(c);
		return ret ? ret : UV_ENOBUFS;
	}
	return 0;
}

void stream_conn_cork(struct net_conn *c)
{
	if (c->tls && !c->closing && !c->corked) {
		tls_conn_cork(c->tls);
		c->corked = true;
	}
}

int stream_conn_uncork(struct net_conn *c)
{
	if (!c->corked)
		return 0;
	c->corked = false;
	if (c->closing)
		return 0;
	if (tls_conn_uncork(c->tls) == 0 &&
	    c->queued <= c->lst->limits.max_write_queue)
		return 0;
	conn_close(c);	/* broken, or a client that does not read */
	return -1;
}

/* Close once what is queued has been written. */
void stream_conn_close(struct net_conn *c)
{
	if (c->closing || stream_conn_uncork(c) != 0)
		return;		/* what was gathered goes out first */
	if (c->queued == 0) {
		conn_close(c);
		return;
	}
	c->close_when_flushed = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = false;
	c->eof = true;
}

bool stream_conn_closing(const struct net_conn *c)
{
	return c->closing || c->close_when_flushed;
}

void stream_conn_begin(struct net_conn *c)
{
	c->inflight++;
	uv_timer_stop(&c->idle);
}

struct net_stream_stats *stream_conn_stats(struct net_conn *c)
{
	return &c->lst->stats;
}

const struct net_stream_stats *
net_stream_get_stats(const struct net_stream_listener *l)
{
	return &l->stats;
}

void net_conn_send(struct net_conn *c, uint8_t *msg, size_t len)
{
	if (c->closing)
		return;
	msg[-2] = (uint8_t)(len >> 8);
	msg[-1] = (uint8_t)len;
	if (!c->tls && gather(c, msg - 2, len + 2))
		return;
	int ret = c->tls ? tls_conn_send(c->tls, msg - 2, len + 2)
			 : conn_write(c, msg - 2, len + 2);
	if (ret != 0 || c->queued > c->lst->limits.max_write_queue)
		conn_close(c);	/* broken, or a client that does not read */
}

static int tls_push(void *ctx, const uint8_t *data, size_t len)
{
	struct net_conn *c = ctx;
	if (c->closing)
		return UV_ECANCELED;
	return conn_write(c, data, len);
}

void net_stream_set_tls(struct net_stream_listener *l,
			struct net_tls_server *tls)
{
	net_tls_server_ref(tls);
	net_tls_server_unref(l->tls);
	l->tls = tls;
}

void net_stream_set_client_certs(struct net_stream_listener *l,
				 enum net_client_cert_mode mode)
{
	l->client_certs = (int)mode;
}

const struct net_peer_cert *net_conn_peer_cert(const struct net_conn *c)
{
	static const struct net_peer_cert none;
	return c->tls ? tls_conn_peer(c->tls) : &none;
}

unsigned net_conn_peer_chain(const struct net_conn *c,
			     struct net_der *chain, unsigned cap)
{
	return c->tls ? tls_conn_peer_chain(c->tls, chain, cap) : 0;
}

bool net_conn_encrypted(const struct net_conn *c)
{
	return c->tls != NULL;
}

int net_conn_channel_binding(const struct net_conn *c, uint8_t *out,
			     size_t cap, bool *tls13)
{
	return c->tls ? tls_conn_channel_binding(c->tls, out, cap, tls13) : -1;
}

void net_conn_done(struct net_conn *c)
{
	if (c->inflight > 0)
		c->inflight--;
	if (c->closing)
		return;
	if (c->paused && c->inflight < c->lst->limits.max_inflight) {
		c->paused = false;
		start_reading(c);
	}
	finish_if_done(c);
	arm_idle(c);
}

void *net_conn_user(struct net_conn *c)
{
	return c->user;
}

void net_conn_set_user(struct net_conn *c, void *user)
{
	c->user = user;
}

const struct util_addr *net_conn_remote(const struct net_conn *c)
{
	return &c->remote;
}

const struct util_addr *net_conn_local(const struct net_conn *c)
{
	return &c->local;
}
