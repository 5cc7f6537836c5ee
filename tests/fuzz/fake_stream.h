/*  anchord - tests/fuzz/fake_stream.h: the stream below the HTTP layer.
 *
 *  http.c, http1.c and http2.c reach the connection only through the
 *  stream_conn_* functions and net_conn_done; a fuzz target defines them
 *  here, so the linker never pulls the socket code from libanchord.a.
 *  Every response must start like one.
 */
#pragma once

#include "net/internal.h"

#include <stdlib.h>
#include <string.h>

struct net_conn {
	bool closing;
	unsigned busy;
	size_t written;
	bool h2;
	struct net_stream_stats stats;
};

int stream_conn_write(struct net_conn *c, const uint8_t *data, size_t len)
{
	if (c->closing)
		return -1;
	/* HTTP/1.1 writes whole responses (or 100 Continue); HTTP/2 frames */
	if (!c->h2 && (len < 12 || memcmp(data, "HTTP/1.1 ", 9) != 0))
		abort();
	c->written += len;
	return 0;
}

void stream_conn_cork(struct net_conn *c)
{
}

int stream_conn_uncork(struct net_conn *c)
{
	return 0;
}

void stream_conn_close(struct net_conn *c)
{
	c->closing = true;
}

bool stream_conn_closing(const struct net_conn *c)
{
	return c->closing;
}

void stream_conn_begin(struct net_conn *c)
{
	c->busy++;
}

void net_conn_done(struct net_conn *c)
{
	if (c->busy == 0)
		abort();	/* more answers than requests */
	c->busy--;
}

struct net_stream_stats *stream_conn_stats(struct net_conn *c)
{
	return &c->stats;
}

const struct net_peer_cert *net_conn_peer_cert(const struct net_conn *c)
{
	static const struct net_peer_cert none;
	return &none;
}

/* No client certificate, so no chain (EST asks for an IDevID's). */
unsigned net_conn_peer_chain(const struct net_conn *c, struct net_der *chain,
			     unsigned cap)
{
	return 0;
}

bool net_conn_encrypted(const struct net_conn *c)
{
	return true;
}

/* A TLS 1.3 connection whose channel binding is 32 zero bytes, so that a
 * challengePassword of "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
 * passes POP linking. */
int net_conn_channel_binding(const struct net_conn *c, uint8_t *out,
			     size_t cap, bool *tls13)
{
	if (cap < 32)
		return -1;
	memset(out, 0, 32);
	*tls13 = true;
	return 32;
}

const struct util_addr *net_conn_remote(const struct net_conn *c)
{
	static struct util_addr a;
	if (!a.len)
		util_addr_parse("127.0.0.1", 4242, &a);
	return &a;
}

const struct util_addr *net_conn_local(const struct net_conn *c)
{
	return net_conn_remote(c);
}

/* Feed input in chunks whose sizes the first byte picks. */
static inline void feed_chunks(struct http_conn *h, const uint8_t *data,
			       size_t size)
{
	size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;
	for (size_t off = 1; off < size && !h->conn->closing; off += chunk)
		if (http_conn_feed(h, data + off, MIN(chunk, size - off)) != 0)
			break;
}
