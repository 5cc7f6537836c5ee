/*  anchord - net/net.h: the interface of the transport layer.
 *
 *  Sockets and byte streams on libuv. Message-oriented transports deliver
 *  whole DNS messages upward and take whole messages back; the layer above
 *  never sees sockets, framing or (later) TLS records. Nothing here knows
 *  DNS beyond the two-byte length prefix of DNS over streams (RFC 1035
 *  4.2.2, RFC 7766).
 */
#pragma once

#include "util/util.h"

#include <uv.h>

/* ------------------------------------------------------------------ sockets */

enum net_sock_kind {
	NET_SOCK_UDP,
	NET_SOCK_TCP,
};

/** Create, configure (SO_REUSEPORT so that every worker has its own
 *  socket, IPV6_V6ONLY, packet info for UDP) and bind a listening socket.
 *  Returns the fd or -errno. Done before privileges are dropped. */
int net_bind_socket(const struct util_addr *addr, enum net_sock_kind kind,
		    int backlog);
/** 0 when nobody holds addr, else -errno (-EADDRINUSE). SO_REUSEPORT would
 *  let a second daemon bind the same port and silently split the traffic;
 *  a bind without it tells. */
int net_check_free(const struct util_addr *addr, enum net_sock_kind kind);

/* ------------------------------------------------------------------ UDP listener */

struct net_udp;

/** A datagram as it came: where from and to which local address. */
struct net_udp_peer {
	struct util_addr remote;
	struct util_addr local;		/**< from IP_PKTINFO / IPV6_PKTINFO */
	int ifindex;
};

struct net_udp_ops {
	/** One datagram; it stays valid only during the call. */
	void (*on_message)(void *ctx, struct net_udp *udp, const uint8_t *msg,
			   size_t len, const struct net_udp_peer *peer);
};

/** Serve datagrams on a bound fd: recvmmsg in batches, answers queued during
 *  a batch leave together with sendmmsg. max_answer bounds answer sizes. */
struct net_udp *net_udp_start(uv_loop_t *loop, int fd,
			      const struct net_udp_ops *ops, void *ctx,
			      size_t max_answer);
/** Send (inside a batch: queued; otherwise at once). Drops under pressure,
 *  as UDP may. */
void net_udp_send(struct net_udp *udp, const struct net_udp_peer *peer,
		  const uint8_t *msg, size_t len);
/** Stop reading (drain); answers can still be sent. */
void net_udp_stop_reading(struct net_udp *udp);
void net_udp_close(struct net_udp *udp);
uint64_t net_udp_drops(const struct net_udp *udp);

/* ------------------------------------------------------------------ TLS */

enum net_client_cert_mode {
	NET_CLIENT_CERT_NONE = 0,
	NET_CLIENT_CERT_REQUEST,	/**< verify when the client sends one */
	NET_CLIENT_CERT_REQUIRE,	/**< no verified certificate, no service */
};

/** What TLS listeners serve with (ALPN comes from each listener's
 *  protocol: dot for DNS, h2 and http/1.1 for HTTPS). */
struct net_tls_server_conf {
	const char *cert_file;		/**< PEM, the leaf first, then the chain */
	const char *key_file;		/**< PEM */
	const char *client_ca_file;	/**< trust anchors for client certificates */
	enum net_client_cert_mode client_certs;
	const uint8_t *ticket_secret;	/**< 64 bytes, or NULL: no tickets */
	uint64_t handshake_timeout_ms;
	const uint8_t *crl;		/**< DER CRL of client_ca_file, or NULL */
	size_t crl_len;
	bool any_client_issuer;		/**< do not name client_ca_file in the
					 *   certificate request: IDevIDs chain
					 *   to manufacturers, and a client
					 *   that filters by the names would
					 *   send none */
};

/** Credentials and settings of TLS listeners: built once, shared by every
 *  worker (GnuTLS credentials are read-only after setup), reference
 *  counted so that a reload never pulls them from under a session. */
struct net_tls_server;

struct net_tls_server *net_tls_server_new(const struct net_tls_server_conf *c,
					  char *err, size_t errlen);
void net_tls_server_ref(struct net_tls_server *t);
void net_tls_server_unref(struct net_tls_server *t);

#define NET_PIN_LEN 32			/**< SHA-256 of a SubjectPublicKeyInfo */
#define NET_MAX_PINS 8

/** How a TLS client authenticates its server (RFC 8310 strict profile):
 *  by SPKI pins when there are any, by DANE when dane is set, else by PKIX
 *  and the name. opportunistic skips authentication altogether: only for
 *  traffic that is authenticated otherwise (DNSSEC-validated lookups). */
struct net_tls_client_conf {
	const char *server_name;	/**< SNI, and the name verified */
	const uint8_t (*pins)[NET_PIN_LEN];
	size_t n_pins;
	const char *ca_file;		/**< NULL: the system trust store */
	const char *alpn;
	bool dane;			/**< records come from net_tls_client_set_dane */
	bool opportunistic;
};

#define NET_MAX_DANE 8
#define NET_DANE_DATA_MAX 2048

/** A TLSA record (RFC 6698 2.1). Supported: usage 3 (DANE-EE: the server
 *  certificate itself, names and dates ignored, RFC 7671 5.1) and usage 2
 *  (DANE-TA: a certificate of the chain the server sends, up to which the
 *  chain must verify and whose end names the server, RFC 7671 5.2), with
 *  selector 0 (certificate) or 1 (SubjectPublicKeyInfo) and matching type
 *  0 (exact), 1 (SHA-256) or 2 (SHA-512). Others never match. */
struct net_dane_record {
	uint8_t usage, selector, mtype;
	uint16_t len;
	uint8_t data[NET_DANE_DATA_MAX];
};

/** A TLS client profile with its session cache (for resumption); one per
 *  upstream and worker, not shared between threads. */
struct net_tls_client;

struct net_tls_client *net_tls_client_new(const struct net_tls_client_conf *c,
					  char *err, size_t errlen);
void net_tls_client_free(struct net_tls_client *t);
/** The TLSA records a DANE client matches servers against from now on
 *  (connections already established keep going). */
void net_tls_client_set_dane(struct net_tls_client *t,
			     const struct net_dane_record *r, size_t n);
/** A DER certificate. */
struct net_der {
	const uint8_t *data;
	size_t len;
};

/** Whether a certificate chain (the server's first) matches one of the
 *  records; hostname is checked for DANE-TA. Returns 0 on a match. */
int net_dane_verify(const struct net_dane_record *r, size_t n,
		    const struct net_der *chain, unsigned chain_len,
		    const char *hostname);

/** The certificate a client presented on a TLS connection. */
#define NET_MUD_SIGNER_MAX 200

struct net_peer_cert {
	bool present;
	bool verified;			/**< chains to the configured CA */
	uint8_t spki_sha256[NET_PIN_LEN];
	char subject_cn[64];
	char serial[41];		/**< hex */
	char device_serial[65];		/**< subject serialNumber (2.5.4.5),
					 *   an 802.1AR device serial, or "" */
	char mud_url[256];		/**< id-pe-mud-url (RFC 8520 10),
					 *   "" when absent */
	uint8_t mud_signer[NET_MUD_SIGNER_MAX];	/**< id-pe-mudsigner: the
					 *   DER Name that must sign its MUD
					 *   file */
	uint8_t mud_signer_len;		/**< 0: absent (or too long) */
};

/* ------------------------------------------------------------------ HTTP */

enum net_http_method {
	NET_HTTP_GET = 0,
	NET_HTTP_HEAD,
	NET_HTTP_POST,
	NET_HTTP_PUT,
	NET_HTTP_DELETE,
	NET_HTTP_OTHER,
};

/** One HTTP request, the same for HTTP/1.1 and HTTP/2. Strings are
 *  NUL-terminated and live as long as the exchange. */
struct net_http_request {
	enum net_http_method method;
	const char *method_name;
	const char *path;		/**< without the query */
	const char *query;		/**< after '?', "" when none */
	const char *content_type;	/**< or NULL */
	const char *accept;
	const char *authorization;
	const uint8_t *body;
	size_t body_len;
	unsigned version;		/**< 1 or 2 */
};

struct net_http_header {
	const char *name;
	const char *value;
};

/** A request waiting for its response. A handler answers it with
 *  net_http_respond, now or later; if the client goes away first, the
 *  cancel callback runs instead and the exchange is gone. */
struct net_http_exchange;

typedef void (*net_http_handler_fn)(void *ctx, struct net_http_exchange *ex);

const struct net_http_request *
net_http_exchange_request(const struct net_http_exchange *ex);
/** Any request header by name (case-insensitive), or NULL. */
const char *net_http_exchange_header(const struct net_http_exchange *ex,
				     const char *name);
/** The connection: addresses, TLS, the client's certificate. */
struct net_conn *net_http_exchange_conn(const struct net_http_exchange *ex);
/** The rest of the path after the route's prefix ("" or "/..."). */
const char *net_http_exchange_subpath(const struct net_http_exchange *ex);
void net_http_on_cancel(struct net_http_exchange *ex, void (*fn)(void *arg),
			void *arg);
/** Respond and release the exchange. A HEAD request gets the headers
 *  only. */
void net_http_respond(struct net_http_exchange *ex, unsigned status,
		      const char *content_type,
		      const struct net_http_header *extra, size_t n_extra,
		      const uint8_t *body, size_t len);
/** A short text/plain error response. */
void net_http_respond_error(struct net_http_exchange *ex, unsigned status,
			    const char *text);

/** Path prefixes to handlers; the longest matching prefix wins, and a
 *  prefix matches itself and everything below it ("/a" matches "/a" and
 *  "/a/b", not "/ab"). One per worker: handlers get the worker's ctx. */
struct net_http_router;

struct net_http_router *net_http_router_new(void);
int net_http_router_add(struct net_http_router *r, const char *prefix,
			net_http_handler_fn fn, void *ctx);
void net_http_router_free(struct net_http_router *r);

/** Bytes buffered for HTTP bodies across a worker's connections: a
 *  hostile client cannot grow it past the limit (new requests get 503). */
struct net_http_budget {
	size_t used, limit;
};

struct net_http_limits {
	unsigned max_streams;		/**< concurrent HTTP/2 streams */
	size_t max_body;		/**< request body */
	size_t max_header_bytes;	/**< all header fields of a request */
	size_t max_path;		/**< longer: 414 */
	struct net_http_budget *budget;
};

/** Counters of one stream listener (read by /metrics). */
struct net_stream_stats {
	uint64_t accepted, rejected;
	uint64_t tls_handshakes, tls_resumed, tls_failed;
	uint64_t http_requests, http_errors;
	uint64_t h2_abuse;		/**< connections ended for floods */
};

/* ------------------------------------------------------------------ stream server */

struct net_stream_listener;
struct net_conn;

/** Limits of one stream listener. */
struct net_stream_limits {
	unsigned max_connections;	/**< per listener and worker */
	unsigned max_per_client;	/**< connections from one address */
	unsigned max_inflight;		/**< pipelined messages per connection */
	uint64_t idle_timeout_ms;	/**< close after this long without a query */
	size_t max_write_queue;		/**< bytes queued to a slow reader */
};

struct net_stream_ops {
	/** A whole message (length prefix removed). */
	void (*on_message)(void *ctx, struct net_conn *conn,
			   const uint8_t *msg, size_t len);
	/** The connection is going away; no more sends are possible. */
	void (*on_close)(void *ctx, struct net_conn *conn);
};

/** Serve DNS over a stream on a bound, listening fd; with tls (may be NULL)
 *  every connection is DNS over TLS. */
struct net_stream_listener *net_stream_listen(uv_loop_t *loop, int fd,
					      const struct net_stream_limits *l,
					      struct net_tls_server *tls,
					      const struct net_stream_ops *ops,
					      void *ctx);
/** Serve HTTP (HTTP/2 or HTTP/1.1 as ALPN says; HTTP/1.1 without TLS)
 *  on a bound, listening fd, dispatching requests through router. */
struct net_stream_listener *net_http_listen(uv_loop_t *loop, int fd,
					    const struct net_stream_limits *l,
					    struct net_tls_server *tls,
					    const struct net_http_limits *hl,
					    struct net_http_router *router);
/** New connections use these credentials; existing ones keep theirs. */
void net_stream_set_tls(struct net_stream_listener *lst,
			struct net_tls_server *tls);
/** This listener asks for client certificates its own way rather than as
 *  the TLS server's client_certs says. */
void net_stream_set_client_certs(struct net_stream_listener *lst,
				 enum net_client_cert_mode mode);
const struct net_stream_stats *
net_stream_get_stats(const struct net_stream_listener *lst);
/** Stop accepting; existing connections finish what they have. */
void net_stream_stop_accepting(struct net_stream_listener *lst);
/** Close every connection now (end of drain). */
void net_stream_close(struct net_stream_listener *lst);
unsigned net_stream_connections(const struct net_stream_listener *lst);

/** Send one message; len + 2 bytes are written, and msg must have two
 *  writable bytes before it for the length. */
void net_conn_send(struct net_conn *conn, uint8_t *msg, size_t len);
/** A message taken by on_message has been answered or dropped. */
void net_conn_done(struct net_conn *conn);
/** Per-connection place for the layer above (e.g. its in-flight list). */
void *net_conn_user(struct net_conn *conn);
void net_conn_set_user(struct net_conn *conn, void *user);
const struct util_addr *net_conn_remote(const struct net_conn *conn);
const struct util_addr *net_conn_local(const struct net_conn *conn);
/** TLS: the client's certificate (present false on plain TCP). */
const struct net_peer_cert *net_conn_peer_cert(const struct net_conn *conn);
/** The certificate chain the client presented, leaf first, at most cap
 *  of it (the DER stays valid while the connection does); returns how
 *  many, 0 without TLS or a certificate. */
unsigned net_conn_peer_chain(const struct net_conn *conn,
			     struct net_der *chain, unsigned cap);
bool net_conn_encrypted(const struct net_conn *conn);
/** The channel binding of the connection's TLS session: tls-exporter
 *  (RFC 9266) under TLS 1.3, tls-unique (RFC 5929) under TLS 1.2. Returns
 *  its length, or -1 (no TLS, or none available). *tls13 tells which. */
int net_conn_channel_binding(const struct net_conn *conn, uint8_t *out,
			     size_t cap, bool *tls13);

/* ------------------------------------------------------------------ stream client */

struct net_client;

struct net_client_ops {
	void (*on_message)(void *ctx, const uint8_t *msg, size_t len);
	/** The connection ended; error is 0 for an orderly close or -errno. */
	void (*on_close)(void *ctx, int error);
};

/** Connect to addr (over TLS when tls is not NULL); messages sent before
 *  the connection, and the TLS handshake, are done wait in a queue. */
struct net_client *net_client_connect(uv_loop_t *loop,
				      const struct util_addr *addr,
				      struct net_tls_client *tls,
				      const struct net_client_ops *ops,
				      void *ctx);
int net_client_send(struct net_client *c, const uint8_t *msg, size_t len);
/** Close; no callback follows. */
void net_client_close(struct net_client *c);
