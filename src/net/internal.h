/*  anchord - net/internal.h: shared inside src/net/ only. */
#pragma once

#include "net/net.h"

/** Reassembles length-prefixed messages from a byte stream. Keeps no
 *  buffer while no message is partly received (idle connections cost
 *  nothing here), and grows it with what arrives, not with what the
 *  length prefix promises. With a budget, the buffers of all framers
 *  sharing it stay under its limit: one that would pass it fails. */
struct net_framer {
	uint8_t *buf;
	size_t len, cap;
	size_t *budget_used;		/**< shared, or NULL: no limit */
	size_t budget_limit;
};

/** Called per complete message; return false to stop feeding. */
typedef bool (*net_deliver_fn)(void *ctx, const uint8_t *msg, size_t len);

/** Feed received bytes. Returns 0, or -1 on a protocol error (a zero
 *  length), when out of memory or over the budget. */
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

/** client_certs: the listener's enum net_client_cert_mode, or -1 for the
 *  server's. */
struct tls_conn *tls_conn_server(struct net_tls_server *srv,
				 const char *const *alpn, size_t n_alpn,
				 int client_certs, const struct tls_io *io,
				 void *ctx);
struct tls_conn *tls_conn_client(struct net_tls_client *cli,
				 const struct tls_io *io, void *ctx);
/** Feed ciphertext (n may be 0 to start a client handshake). Returns 0,
 *  1 when the peer closed the session, -1 on an error. */
int tls_conn_feed(struct tls_conn *t, const uint8_t *data, size_t n);
/** Send plaintext; only once ready. Returns 0 or -1. */
int tls_conn_send(struct tls_conn *t, const uint8_t *data, size_t len);
/** Between cork and uncork, sends are gathered into as few records (and
 *  writes) as they fit. Uncork returns 0 or -1. */
void tls_conn_cork(struct tls_conn *t);
int tls_conn_uncork(struct tls_conn *t);
bool tls_conn_ready(const struct tls_conn *t);
bool tls_conn_resumed(const struct tls_conn *t);
bool tls_conn_alpn_is(const struct tls_conn *t, const char *proto);
int tls_conn_channel_binding(const struct tls_conn *t, uint8_t *out,
			     size_t cap, bool *tls13);
const struct net_peer_cert *tls_conn_peer(const struct tls_conn *t);
unsigned tls_conn_peer_chain(const struct tls_conn *t,
			     struct net_der *chain, unsigned cap);
uint64_t tls_conn_handshake_timeout(const struct tls_conn *t);
/** Send close_notify when the session is healthy (before the stream
 *  closes). */
void tls_conn_goodbye(struct tls_conn *t);
/** Free, once no callback of this session can run any more. */
void tls_conn_free(struct tls_conn *t);

/* ------------------------------------------------------------------ streams, for the protocols above them */

/** Bytes to the peer (through TLS when there is TLS). Returns 0, or a
 *  libuv error after which the connection is closing. */
int stream_conn_write(struct net_conn *c, const uint8_t *data, size_t len);
/** Writes between these two leave together (under TLS, in one record as
 *  far as they fit); uncork returns 0, or -1 after closing the
 *  connection. */
void stream_conn_cork(struct net_conn *c);
int stream_conn_uncork(struct net_conn *c);
/** Close because of the protocol above (an error, or a clean end). */
void stream_conn_close(struct net_conn *c);
bool stream_conn_closing(const struct net_conn *c);
/** A request started: the connection counts as busy (no idle timeout)
 *  until net_conn_done. */
void stream_conn_begin(struct net_conn *c);
struct net_stream_stats *stream_conn_stats(struct net_conn *c);

/* ------------------------------------------------------------------ HTTP */

#define HTTP_MAX_FIELDS 64

/** Per-connection HTTP state, HTTP/1.1 or HTTP/2. */
struct http_conn {
	struct net_conn *conn;
	const struct net_http_limits *limits;
	struct net_http_router *router;
	struct net_stream_stats *stats;
	struct util_list pending;	/* dispatched exchanges */
	bool h2;
	struct h1_state *h1;
	struct h2_state *h2s;
};

struct net_http_exchange {
	struct util_list node;		/* in hc->pending once dispatched */
	struct http_conn *hc;		/* NULL once the connection is gone */
	int32_t stream_id;		/* HTTP/2 */
	struct net_http_request req;
	unsigned error;			/* answer this status, do not dispatch */
	bool head_only;
	const char *subpath;
	char *arena;			/* method, target, field names and values */
	size_t arena_len, arena_cap;
	struct { uint32_t name, value; } fields[HTTP_MAX_FIELDS];
	unsigned n_fields;
	size_t header_bytes;
	uint32_t target, method;	/* arena offsets */
	uint8_t *body;
	size_t body_len, body_cap, budgeted;
	void (*cancel)(void *arg);
	void *cancel_arg;
};

struct http_conn *http_conn_new(struct net_conn *c, bool h2,
				const struct net_http_limits *limits,
				struct net_http_router *router,
				struct net_stream_stats *stats);
/** Returns 0, or -1 when the connection must close. */
int http_conn_feed(struct http_conn *h, const uint8_t *data, size_t len);
/** The connection is going: cancel what handlers still hold. */
void http_conn_cancel_all(struct http_conn *h);
void http_conn_free(struct http_conn *h);

/* Building an exchange, for http1.c and http2.c. */
struct net_http_exchange *http_exchange_new(struct http_conn *h);
void http_exchange_free(struct net_http_exchange *ex);
/** Store the method and request target (path?query). */
int http_exchange_set_target(struct net_http_exchange *ex, const char *method,
			     size_t mlen, const char *target, size_t tlen);
/** Add a header field (names are lower-cased); sets ex->error on
 *  overflow. */
void http_exchange_add_field(struct net_http_exchange *ex, const char *name,
			     size_t nlen, const char *value, size_t vlen);
/** Append body bytes within the limits (else ex->error = 413/503). */
void http_exchange_add_body(struct net_http_exchange *ex, const uint8_t *data,
			    size_t len);
/** The request is complete: route it (or answer ex->error). */
void http_exchange_dispatch(struct net_http_exchange *ex);
const char *http_status_text(unsigned status);

/* The two protocols. */
int h1_init(struct http_conn *h);
int h1_feed(struct http_conn *h, const uint8_t *data, size_t len);
void h1_respond(struct http_conn *h, struct net_http_exchange *ex,
		unsigned status, const char *content_type,
		const struct net_http_header *extra, size_t n_extra,
		const uint8_t *body, size_t len);
void h1_resume(struct http_conn *h);
void h1_free(struct http_conn *h);
int h2_init(struct http_conn *h);
int h2_feed(struct http_conn *h, const uint8_t *data, size_t len);
void h2_respond(struct http_conn *h, struct net_http_exchange *ex,
		unsigned status, const char *content_type,
		const struct net_http_header *extra, size_t n_extra,
		const uint8_t *body, size_t len);
void h2_free(struct http_conn *h);
