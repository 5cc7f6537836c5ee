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

struct net_stream_listener *net_stream_listen(uv_loop_t *loop, int fd,
					      const struct net_stream_limits *l,
					      const struct net_stream_ops *ops,
					      void *ctx);
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

/* ------------------------------------------------------------------ stream client */

struct net_client;

struct net_client_ops {
	void (*on_message)(void *ctx, const uint8_t *msg, size_t len);
	/** The connection ended; error is 0 for an orderly close or -errno. */
	void (*on_close)(void *ctx, int error);
};

/** Connect to addr; messages sent before the connection is up are queued. */
struct net_client *net_client_connect(uv_loop_t *loop,
				      const struct util_addr *addr,
				      const struct net_client_ops *ops,
				      void *ctx);
int net_client_send(struct net_client *c, const uint8_t *msg, size_t len);
/** Close; no callback follows. */
void net_client_close(struct net_client *c);
