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
