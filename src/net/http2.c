/*  anchord - net/http2.c: HTTP/2 server sessions (nghttp2).
 *
 *  nghttp2 does the framing, HPACK and flow control; this file turns its
 *  callbacks into exchanges and responses into DATA frames. Abuse ends the
 *  connection, never the daemon: nghttp2's own limits (RST_STREAM rate
 *  against rapid reset, CVE-2023-44487; CONTINUATION count; queued ACKs)
 *  plus a rate limit here on SETTINGS and PING frames, which would
 *  otherwise make anchord answer each with an ACK. Concurrent streams are
 *  capped by SETTINGS_MAX_CONCURRENT_STREAMS, header lists and bodies by
 *  the exchange limits.
 */
#include "net/internal.h"

#include <ctype.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTROL_FRAMES_PER_SECOND 64	/* SETTINGS + PING a client may send */
#define RESET_BURST 200			/* RST_STREAM token bucket */
#define RESET_RATE 33			/* per second */
#define MAX_OUTBOUND_ACKS 64

struct h2_state {
	nghttp2_session *session;
	struct util_list streams;	/* nghttp2 frees its own without telling */
	bool in_feed;
	uint64_t window_ms;
	unsigned control_frames;
	bool abuse_counted;		/* once per connection */
};

struct h2_stream {
	struct util_list node;
	int32_t id;
	struct http_conn *h;
	struct net_http_exchange *ex;	/* until answered */
	bool dispatched;
	char *method, *path;
	uint8_t *resp;
	size_t resp_len, resp_off, budgeted;
};

/* ------------------------------------------------------------------ helpers */

static void stream_free(struct h2_stream *st)
{
	struct net_http_budget *b = st->h->limits->budget;
	util_list_remove(&st->node);
	if (b && st->budgeted)
		b->used -= MIN(st->budgeted, b->used);
	free(st->resp);
	free(st->method);
	free(st->path);
	free(st);
}

/* What one flush sends goes out as one TLS record and one write (as far
 * as 16 KiB go): nghttp2 hands over its frames one at a time, and each
 * answer's HEADERS and DATA cost a record and a write of their own. Only
 * a flush is gathered: gathering a whole turn of the loop (every flush
 * of it in one record) made dnsperf 2.10 lose answers. */
static void flush(struct http_conn *h)
{
	struct h2_state *s = h->h2s;
	ssize_t n = 0;
	stream_conn_cork(h->conn);
	while (!stream_conn_closing(h->conn)) {
		const uint8_t *data;
		n = nghttp2_session_mem_send(s->session, &data);
		if (n <= 0)
			break;
		if (stream_conn_write(h->conn, data, (size_t)n) != 0)
			return;
	}
	if (stream_conn_uncork(h->conn) != 0)
		return;
	if (n < 0) {
		stream_conn_close(h->conn);
		return;
	}
	if (!nghttp2_session_want_read(s->session) &&
	    !nghttp2_session_want_write(s->session))
		stream_conn_close(h->conn);	/* after GOAWAY */
}

/* The h2_abuse counter counts connections, not the frames of a flood. */
static void note_abuse(struct http_conn *h)
{
	if (!h->h2s->abuse_counted) {
		h->h2s->abuse_counted = true;
		h->stats->h2_abuse++;
	}
}

/* SETTINGS and PING each cost an ACK: a client sending floods of them
 * gets GOAWAY (ENHANCE_YOUR_CALM). */
static int count_control_frame(struct http_conn *h)
{
	struct h2_state *s = h->h2s;
	uint64_t now = util_now_ms();
	if (now - s->window_ms >= 1000) {
		s->window_ms = now;
		s->control_frames = 0;
	}
	if (++s->control_frames <= CONTROL_FRAMES_PER_SECOND)
		return 0;
	note_abuse(h);
	log_debug("http", "HTTP/2 control frame flood: ending the connection");
	nghttp2_session_terminate_session(s->session,
					  NGHTTP2_ENHANCE_YOUR_CALM);
	return 0;
}

/* ------------------------------------------------------------------ callbacks */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *f,
			    void *user)
{
	struct http_conn *h = user;
	if (f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct h2_stream *st = calloc(1, sizeof(*st));
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	st->h = h;
	st->id = f->hd.stream_id;
	st->ex = http_exchange_new(h);
	if (!st->ex) {
		free(st);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	util_list_push(&h->h2s->streams, &st->node);
	st->ex->stream_id = f->hd.stream_id;
	nghttp2_session_set_stream_user_data(session, f->hd.stream_id, st);
	return 0;
}

static int keep_pseudo(char **slot, const uint8_t *v, size_t len)
{
	if (*slot)
		return -1;	/* duplicated pseudo-header */
	*slot = strndup((const char *)v, len);
	return *slot ? 0 : -1;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *f,
		     const uint8_t *name, size_t nlen, const uint8_t *value,
		     size_t vlen, uint8_t flags, void *user)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(session,
		f->hd.stream_id);
	if (!st || !st->ex || st->dispatched)
		return 0;
	if (nlen == 7 && memcmp(name, ":method", 7) == 0)
		return keep_pseudo(&st->method, value, vlen) ?
			NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
	if (nlen == 5 && memcmp(name, ":path", 5) == 0)
		return keep_pseudo(&st->path, value, vlen) ?
			NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
	if (nlen == 10 && memcmp(name, ":authority", 10) == 0) {
		name = (const uint8_t *)"host";
		nlen = 4;
	} else if (nlen && name[0] == ':') {
		return 0;	/* :scheme */
	}
	http_exchange_add_field(st->ex, (const char *)name, nlen,
				(const char *)value, vlen);
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags,
			 int32_t stream_id, const uint8_t *data, size_t len,
			 void *user)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(session,
								    stream_id);
	if (st && st->ex && !st->dispatched)
		http_exchange_add_body(st->ex, data, len);
	return 0;
}

static void dispatch(struct h2_stream *st)
{
	struct net_http_exchange *ex = st->ex;
	if (!st->method || !st->path) {
		if (!ex->error)
			ex->error = 400;
	} else if (http_exchange_set_target(ex, st->method, strlen(st->method),
					    st->path, strlen(st->path)) != 0) {
		ex->error = 503;
	}
	st->dispatched = true;
	http_exchange_dispatch(ex);	/* may answer (and clear st->ex) */
}

/* A request whose headers already fail it need not wait for its body. */
static bool doomed(struct h2_stream *st)
{
	const char *cl = net_http_exchange_header(st->ex, "content-length");
	if (cl && strtoull(cl, NULL, 10) > st->h->limits->max_body &&
	    !st->ex->error)
		st->ex->error = 413;
	return st->ex->error != 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *f,
			 void *user)
{
	struct http_conn *h = user;
	switch (f->hd.type) {
	case NGHTTP2_SETTINGS:
	case NGHTTP2_PING:
		if (!(f->hd.flags & NGHTTP2_FLAG_ACK))
			return count_control_frame(h);
		return 0;
	case NGHTTP2_HEADERS:
	case NGHTTP2_DATA: {
		struct h2_stream *st = nghttp2_session_get_stream_user_data(
			session, f->hd.stream_id);
		if (!st || !st->ex || st->dispatched)
			return 0;
		if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
			dispatch(st);
		else if (f->hd.type == NGHTTP2_HEADERS && doomed(st))
			dispatch(st);	/* answer before the body: RFC 9113 8.1 */
		return 0;
	}
	default:
		return 0;
	}
}

/* nghttp2 ends a rapid-reset client (CVE-2023-44487) by itself, with a
 * GOAWAY it sends without telling anyone: INTERNAL_ERROR from its
 * RST_STREAM rate limit, ENHANCE_YOUR_CALM from its other flood checks
 * (and from count_control_frame, counted there already). */
static int on_frame_send(nghttp2_session *session, const nghttp2_frame *f,
			 void *user)
{
	if (f->hd.type == NGHTTP2_GOAWAY &&
	    (f->goaway.error_code == NGHTTP2_INTERNAL_ERROR ||
	     f->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM))
		note_abuse(user);
	return 0;
}

static void exchange_gone(struct h2_stream *st)
{
	struct net_http_exchange *ex = st->ex;
	st->ex = NULL;
	if (!st->dispatched) {
		http_exchange_free(ex);
		return;
	}
	/* Dispatched, not yet answered: the handler hears of the reset. */
	util_list_remove(&ex->node);
	if (ex->cancel)
		ex->cancel(ex->cancel_arg);
	http_exchange_free(ex);
	net_conn_done(st->h->conn);
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id,
			   uint32_t error_code, void *user)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(session,
								    stream_id);
	if (!st)
		return 0;
	nghttp2_session_set_stream_user_data(session, stream_id, NULL);
	if (st->ex)
		exchange_gone(st);
	stream_free(st);
	return 0;
}

static ssize_t read_body(nghttp2_session *session, int32_t stream_id,
			 uint8_t *buf, size_t length, uint32_t *flags,
			 nghttp2_data_source *source, void *user)
{
	struct h2_stream *st = source->ptr;
	size_t n = MIN(length, st->resp_len - st->resp_off);
	memcpy(buf, st->resp + st->resp_off, n);
	st->resp_off += n;
	if (st->resp_off == st->resp_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* ------------------------------------------------------------------ API */

static nghttp2_session_callbacks *make_callbacks(void)
{
	nghttp2_session_callbacks *cb;
	if (nghttp2_session_callbacks_new(&cb) != 0)
		return NULL;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
		on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
		on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
		on_stream_close);
	return cb;
}

static nghttp2_option *make_options(void)
{
	nghttp2_option *opt;
	if (nghttp2_option_new(&opt) != 0)
		return NULL;
	nghttp2_option_set_no_closed_streams(opt, 1);
	nghttp2_option_set_max_outbound_ack(opt, MAX_OUTBOUND_ACKS);
	nghttp2_option_set_stream_reset_rate_limit(opt, RESET_BURST,
						   RESET_RATE);
	return opt;
}

int h2_init(struct http_conn *h)
{
	h->h2s = calloc(1, sizeof(*h->h2s));
	if (!h->h2s)
		return -1;
	h->h2s->window_ms = util_now_ms();
	util_list_init(&h->h2s->streams);
	nghttp2_session_callbacks *cb = make_callbacks();
	nghttp2_option *opt = make_options();
	int ret = cb && opt ? nghttp2_session_server_new2(&h->h2s->session, cb,
							  h, opt) : -1;
	if (cb)
		nghttp2_session_callbacks_del(cb);
	if (opt)
		nghttp2_option_del(opt);
	if (ret != 0) {
		h->h2s->session = NULL;
		return -1;
	}
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
		  h->limits->max_streams },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
		  (uint32_t)h->limits->max_header_bytes },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};
	return nghttp2_submit_settings(h->h2s->session, NGHTTP2_FLAG_NONE, iv,
				       ARRAY_SIZE(iv)) == 0 ? 0 : -1;
}

/* Dispatched exchanges were cancelled before (http_conn_cancel_all); the
 * streams still own the ones being received. */
void h2_free(struct http_conn *h)
{
	struct h2_state *s = h->h2s;
	if (!s)
		return;
	while (!util_list_empty(&s->streams)) {
		struct h2_stream *st = container_of(s->streams.next,
						    struct h2_stream, node);
		if (s->session)
			nghttp2_session_set_stream_user_data(s->session, st->id,
							     NULL);
		if (st->ex && !st->dispatched)
			http_exchange_free(st->ex);
		stream_free(st);
	}
	if (s->session)
		nghttp2_session_del(s->session);
	free(s);
	h->h2s = NULL;
}

int h2_feed(struct http_conn *h, const uint8_t *data, size_t len)
{
	struct h2_state *s = h->h2s;
	s->in_feed = true;
	ssize_t n = nghttp2_session_mem_recv(s->session, data, len);
	s->in_feed = false;
	if (n < 0) {
		if (n == NGHTTP2_ERR_FLOODED)
			note_abuse(h);
		log_debug("http", "HTTP/2: %s", nghttp2_strerror((int)n));
		return -1;
	}
	flush(h);
	return 0;
}

/* HTTP/2 field names are lower case (RFC 9113 8.2.1). */
static void lower_copy(char *dst, const char *src, size_t cap)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), \
		   NGHTTP2_NV_FLAG_NONE }

void h2_respond(struct http_conn *h, struct net_http_exchange *ex,
		unsigned status, const char *content_type,
		const struct net_http_header *extra, size_t n_extra,
		const uint8_t *body, size_t len)
{
	struct h2_state *s = h->h2s;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s->session,
		ex->stream_id);
	if (!st)
		return;
	st->ex = NULL;
	char code[8], length[24], names[8][64];
	snprintf(code, sizeof(code), "%u", status);
	snprintf(length, sizeof(length), "%zu", len);
	nghttp2_nv nva[3 + 8];
	size_t n = 0;
	nva[n++] = (nghttp2_nv)NV(":status", code);
	if (content_type)
		nva[n++] = (nghttp2_nv)NV("content-type", content_type);
	nva[n++] = (nghttp2_nv)NV("content-length", length);
	for (size_t i = 0; i < n_extra && i < ARRAY_SIZE(names); i++) {
		lower_copy(names[i], extra[i].name, sizeof(names[i]));
		nva[n++] = (nghttp2_nv)NV(names[i], extra[i].value);
	}
	nghttp2_data_provider prd = { .source.ptr = st, .read_callback = read_body };
	bool with_body = body && len;
	if (with_body) {
		st->resp = malloc(len);
		if (!st->resp) {
			nghttp2_submit_rst_stream(s->session, NGHTTP2_FLAG_NONE,
						  ex->stream_id,
						  NGHTTP2_INTERNAL_ERROR);
			goto out;
		}
		memcpy(st->resp, body, len);
		st->resp_len = len;
		if (h->limits->budget) {
			h->limits->budget->used += len;
			st->budgeted = len;
		}
	}
	nghttp2_submit_response(s->session, ex->stream_id, nva, n,
				with_body ? &prd : NULL);
out:
	if (!s->in_feed)
		flush(h);
}
