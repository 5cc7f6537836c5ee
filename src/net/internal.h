/*  anchord - net/internal.h: shared inside src/net/ only. */
#pragma once

#include "net/net.h"

/** Reassembles length-prefixed messages from a byte stream. Keeps no
 *  buffer while no message is partly received (idle connections cost
 *  nothing here). */
struct net_framer {
	uint8_t *buf;
	size_t len, cap;
};

/** Called per complete message; return false to stop feeding. */
typedef bool (*net_deliver_fn)(void *ctx, const uint8_t *msg, size_t len);

/** Feed received bytes. Returns 0, or -1 on a protocol error (a zero
 *  length) or when out of memory. */
int net_framer_feed(struct net_framer *f, const uint8_t *data, size_t n,
		    net_deliver_fn deliver, void *ctx);
void net_framer_reset(struct net_framer *f);
bool net_framer_partial(const struct net_framer *f);

/** Write bytes to a stream: directly when possible, else a queued copy.
 *  *queued tracks the bytes waiting; done() runs when a queued write ends
 *  (status < 0 on error). Returns 0 or a libuv error. */
int net_stream_write(uv_stream_t *s, const uint8_t *data, size_t len,
		     size_t *queued, void (*done)(uv_stream_t *s, int status));

/* ------------------------------------------------------------------ TLS sessions */

/** What a TLS session needs from the stream below and the layer above. */
struct tls_io {
	/** Ciphertext to the socket; returns 0 or a libuv error. */
	int (*push)(void *ctx, const uint8_t *data, size_t len);
	/** Plaintext from the peer; return false to stop reading. */
	bool (*plaintext)(void *ctx, const uint8_t *data, size_t len);
	/** The handshake finished and the peer is authenticated. */
	void (*ready)(void *ctx);
};

struct tls_conn;

struct tls_conn *tls_conn_server(struct net_tls_server *srv,
				 const struct tls_io *io, void *ctx);
struct tls_conn *tls_conn_client(struct net_tls_client *cli,
				 const struct tls_io *io, void *ctx);
/** Feed ciphertext (n may be 0 to start a client handshake). Returns 0,
 *  1 when the peer closed the session, -1 on an error. */
int tls_conn_feed(struct tls_conn *t, const uint8_t *data, size_t n);
/** Send plaintext; only once ready. Returns 0 or -1. */
int tls_conn_send(struct tls_conn *t, const uint8_t *data, size_t len);
bool tls_conn_ready(const struct tls_conn *t);
const struct net_peer_cert *tls_conn_peer(const struct tls_conn *t);
uint64_t tls_conn_handshake_timeout(const struct tls_conn *t);
/** Send close_notify when the session is healthy (before the stream
 *  closes). */
void tls_conn_goodbye(struct tls_conn *t);
/** Free, once no callback of this session can run any more. */
void tls_conn_free(struct tls_conn *t);
