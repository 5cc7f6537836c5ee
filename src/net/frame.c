/*  anchord - net/frame.c: DNS over streams, two-byte length framing. */
#include "net/internal.h"

#include <stdlib.h>
#include <string.h>

/* A partial message's first buffer; it doubles up to the message's size,
 * so a client that sends a length and no message costs this much only. */
#define FIRST_CAP 512

static inline size_t rd16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

void net_framer_reset(struct net_framer *f)
{
	if (f->budget_used)
		*f->budget_used -= f->cap;
	free(f->buf);
	f->buf = NULL;
	f->len = f->cap = 0;
}

bool net_framer_partial(const struct net_framer *f)
{
	return f->len > 0;
}

static int grow(struct net_framer *f, size_t cap)
{
	size_t more = cap - f->cap;
	if (f->budget_used && *f->budget_used + more > f->budget_limit)
		return -1;
	uint8_t *b = realloc(f->buf, cap);
	if (!b)
		return -1;
	f->buf = b;
	f->cap = cap;
	if (f->budget_used)
		*f->budget_used += more;
	return 0;
}

static int stash(struct net_framer *f, const uint8_t *data, size_t n)
{
	size_t need = f->len + n;
	if (need > f->cap) {
		size_t total = 2;
		if (need >= 2) {
			/* The length is known: never more than the message. */
			uint8_t hdr[2];
			hdr[0] = f->len > 0 ? f->buf[0] : data[0];
			hdr[1] = f->len > 1 ? f->buf[1] : data[1 - f->len];
			total = 2 + rd16(hdr);
		}
		size_t cap = MAX(need, MIN(MAX(f->cap * 2, (size_t)FIRST_CAP),
					   total));
		if (grow(f, cap) != 0)
			return -1;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return 0;
}

/* Complete the message held in f->buf from data; returns bytes used. */
static size_t fill_partial(struct net_framer *f, const uint8_t *data, size_t n,
			   int *err)
{
	size_t used = 0;
	if (f->len < 2) {
		used = MIN(n, 2 - f->len);
		if (stash(f, data, used) != 0) {
			*err = -1;
			return used;
		}
		if (f->len < 2)
			return used;
	}
	size_t total = 2 + rd16(f->buf);
	size_t take = MIN(total - f->len, n - used);
	if (stash(f, data + used, take) != 0)
		*err = -1;
	return used + take;
}

int net_framer_feed(struct net_framer *f, const uint8_t *data, size_t n,
		    net_deliver_fn deliver, void *ctx)
{
	if (f->len > 0) {
		int err = 0;
		size_t used = fill_partial(f, data, n, &err);
		if (err)
			return -1;
		data += used;
		n -= used;
		if (f->len < 2 || f->len < 2 + rd16(f->buf))
			return 0;	/* still incomplete: n is 0 */
		size_t mlen = rd16(f->buf);
		if (mlen == 0)
			return -1;
		bool go_on = deliver(ctx, f->buf + 2, mlen);
		net_framer_reset(f);
		if (!go_on)
			return 0;
	}
	while (n >= 2) {
		size_t mlen = rd16(data);
		if (mlen == 0)
			return -1;
		if (n < 2 + mlen)
			break;
		if (!deliver(ctx, data + 2, mlen))
			return 0;
		data += 2 + mlen;
		n -= 2 + mlen;
	}
	return n ? stash(f, data, n) : 0;
}

/* ------------------------------------------------------------------ writes */

struct queued_write {
	uv_write_t req;
	size_t len;
	size_t *queued;
	void (*done)(uv_stream_t *s, int status);
	uint8_t data[];
};

static void write_done(uv_write_t *req, int status)
{
	struct queued_write *w = container_of(req, struct queued_write, req);
	*w->queued -= w->len;
	void (*done)(uv_stream_t *, int) = w->done;
	uv_stream_t *s = req->handle;
	free(w);
	if (done)
		done(s, status);
}

int net_stream_write(uv_stream_t *s, const uint8_t *data, size_t len,
		     size_t *queued, void (*done)(uv_stream_t *s, int status))
{
	if (*queued == 0) {
		/* Nothing queued: try the socket first, no copy needed. */
		uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
		int n = uv_try_write(s, &b, 1);
		if (n == (int)len)
			return 0;
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n != UV_EAGAIN) {
			return n;
		}
	}
	struct queued_write *w = malloc(sizeof(*w) + len);
	if (!w)
		return UV_ENOMEM;
	memcpy(w->data, data, len);
	w->len = len;
	w->queued = queued;
	w->done = done;
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
	int ret = uv_write(&w->req, s, &b, 1, write_done);
	if (ret != 0) {
		free(w);
		return ret;
	}
	*queued += len;
	return 0;
}
