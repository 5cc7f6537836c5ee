/*  anchord - net/client.c: outgoing DNS-over-TCP and DNS-over-TLS.
 *
 *  Used by the forwarder to talk to upstreams: messages sent before the
 *  connection (and its TLS handshake) is up wait in a small queue; answers
 *  come back whole.
 */
#include "net/internal.h"

#include <stdlib.h>
#include <string.h>

#define CLIENT_READ_BUF (64 * 1024 + 2)
#define CLIENT_MAX_PENDING (256 * 1024)

struct net_client {
	uv_tcp_t tcp;
	uv_connect_t connect;
	const struct net_client_ops *ops;
	void *ctx;
	bool connected, closing;
	struct net_tls_client *tls_profile;
	struct tls_conn *tls;
	struct net_framer framer;
	uint8_t *pending;
	size_t pending_len;
	size_t queued;
	uint8_t *read_buf;
};

static void client_closed(uv_handle_t *h)
{
	struct net_client *c = h->data;
	net_framer_reset(&c->framer);
	tls_conn_free(c->tls);
	free(c->pending);
	free(c->read_buf);
	free(c);
}

void net_client_close(struct net_client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->tls)
		tls_conn_goodbye(c->tls);
	uv_close((uv_handle_t *)&c->tcp, client_closed);
}

/* The connection failed or ended: tell the owner once, then go. */
static void client_fail(struct net_client *c, int error)
{
	if (c->closing)
		return;
	const struct net_client_ops *ops = c->ops;
	void *ctx = c->ctx;
	net_client_close(c);
	ops->on_close(ctx, error);
}

static void write_finished(uv_stream_t *s, int status)
{
	if (status < 0)
		client_fail(s->data, status);
}

/* Bytes to the peer: through TLS when there is TLS. */
static int write_out(struct net_client *c, const uint8_t *data, size_t len)
{
	if (c->tls)
		return tls_conn_send(c->tls, data, len) == 0 ? 0 : UV_EPROTO;
	return net_stream_write((uv_stream_t *)&c->tcp, data, len, &c->queued,
				write_finished);
}

static int write_framed(struct net_client *c, const uint8_t *msg, size_t len)
{
	uint8_t *buf = malloc(len + 2);
	if (!buf)
		return UV_ENOMEM;
	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	memcpy(buf + 2, msg, len);
	int ret = write_out(c, buf, len + 2);
	free(buf);
	return ret;
}

static int flush_pending(struct net_client *c)
{
	int ret = c->pending_len ? write_out(c, c->pending, c->pending_len) : 0;
	free(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
	return ret;
}

static void read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct net_client *c = h->data;
	*buf = uv_buf_init((char *)c->read_buf, CLIENT_READ_BUF);
}

static bool deliver(void *ctx, const uint8_t *msg, size_t len)
{
	struct net_client *c = ctx;
	if (c->closing)
		return false;
	c->ops->on_message(c->ctx, msg, len);
	return !c->closing;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct net_client *c = s->data;
	if (c->closing || nread == 0)
		return;
	if (nread < 0) {
		client_fail(c, nread == UV_EOF ? 0 : (int)nread);
		return;
	}
	int ret = c->tls ? tls_conn_feed(c->tls, (const uint8_t *)buf->base,
					 (size_t)nread)
			 : net_framer_feed(&c->framer, (const uint8_t *)buf->base,
					   (size_t)nread, deliver, c);
	if (ret != 0)
		client_fail(c, ret < 0 ? UV_EPROTO : 0);
}

/* ------------------------------------------------------------------ TLS glue */

static int tls_push(void *ctx, const uint8_t *data, size_t len)
{
	struct net_client *c = ctx;
	return net_stream_write((uv_stream_t *)&c->tcp, data, len, &c->queued,
				write_finished);
}

static bool tls_plaintext(void *ctx, const uint8_t *data, size_t len)
{
	struct net_client *c = ctx;
	if (!c->closing &&
	    net_framer_feed(&c->framer, data, len, deliver, c) != 0)
		client_fail(c, UV_EPROTO);
	return !c->closing;
}

/* Authenticated: what waited can go now. */
static void tls_ready(void *ctx)
{
	struct net_client *c = ctx;
	if (flush_pending(c) != 0)
		client_fail(c, UV_EPROTO);
}

static const struct tls_io client_tls_io = {
	.push = tls_push,
	.plaintext = tls_plaintext,
	.ready = tls_ready,
};

static void on_connect(uv_connect_t *req, int status)
{
	struct net_client *c = req->data;
	if (c->closing)
		return;
	if (status < 0) {
		client_fail(c, status);
		return;
	}
	c->connected = true;
	int ret = uv_read_start((uv_stream_t *)&c->tcp, read_alloc, on_read);
	if (ret == 0 && c->tls_profile) {
		/* pending waits for the handshake (tls_ready) */
		c->tls = tls_conn_client(c->tls_profile, &client_tls_io, c);
		ret = c->tls && tls_conn_feed(c->tls, NULL, 0) == 0 ? 0
								  : UV_EPROTO;
	} else if (ret == 0) {
		ret = flush_pending(c);	/* holds framed messages already */
	}
	if (ret != 0)
		client_fail(c, ret);
}

struct net_client *net_client_connect(uv_loop_t *loop,
				      const struct util_addr *addr,
				      struct net_tls_client *tls,
				      const struct net_client_ops *ops,
				      void *ctx)
{
	struct net_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->tls_profile = tls;
	c->ops = ops;
	c->ctx = ctx;
	c->read_buf = malloc(CLIENT_READ_BUF);
	if (!c->read_buf || uv_tcp_init(loop, &c->tcp) != 0) {
		free(c->read_buf);
		free(c);
		return NULL;
	}
	c->tcp.data = c;
	c->connect.data = c;
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_tcp_connect(&c->connect, &c->tcp,
			   (const struct sockaddr *)&addr->ss, on_connect) != 0) {
		net_client_close(c);
		return NULL;
	}
	return c;
}

int net_client_send(struct net_client *c, const uint8_t *msg, size_t len)
{
	if (c->closing || len > 65535)
		return UV_EINVAL;
	if (c->connected && (!c->tls_profile || (c->tls && tls_conn_ready(c->tls))))
		return write_framed(c, msg, len);
	if (c->pending_len + len + 2 > CLIENT_MAX_PENDING)
		return UV_ENOBUFS;
	uint8_t *p = realloc(c->pending, c->pending_len + len + 2);
	if (!p)
		return UV_ENOMEM;
	c->pending = p;
	p += c->pending_len;
	p[0] = (uint8_t)(len >> 8);
	p[1] = (uint8_t)len;
	memcpy(p + 2, msg, len);
	c->pending_len += len + 2;
	return 0;
}
