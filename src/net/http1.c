/*  anchord - net/http1.c: a small, strict HTTP/1.1 server (RFC 9112).
 *
 *  Debian packages no maintained HTTP/1.1 parser, and EST clients speak
 *  HTTP/1.1, so this is one: origin-form targets only, CRLF line ends, no
 *  obsolete line folding, Host required, bodies by Content-Length (a
 *  Transfer-Encoding gets 501). One request at a time: bytes a client
 *  pipelines wait until the response has gone. Anything malformed is
 *  answered 400 and the connection closed, since after a framing error
 *  nothing that follows can be trusted. A fuzz target feeds it.
 */
#include "net/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct h1_state {
	uint8_t *buf;			/* received, not yet parsed */
	size_t len, cap;
	size_t searched;		/* of buf, holds no end of head */
	struct net_http_exchange *cur;	/* its body is arriving */
	size_t body_need;
	bool busy;			/* a request waits for its response */
	bool close_after;		/* close once the response is out */
	bool in_feed;
	bool done;			/* no further request on this connection */
};

int h1_init(struct http_conn *h)
{
	h->h1 = calloc(1, sizeof(*h->h1));
	return h->h1 ? 0 : -1;
}

void h1_free(struct http_conn *h)
{
	if (!h->h1)
		return;
	http_exchange_free(h->h1->cur);
	free(h->h1->buf);
	free(h->h1);
	h->h1 = NULL;
}

/* ------------------------------------------------------------------ parsing */

static bool is_tchar(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The end of a request head, searched for from where the last search
 * stopped: a head trickled in small reads is scanned once, not once per
 * read. */
static size_t find_crlfcrlf(const uint8_t *b, size_t len, size_t from)
{
	for (size_t i = MAX(from, (size_t)3); i < len; i++)
		if (b[i] == '\n' && b[i - 1] == '\r' && b[i - 2] == '\n' &&
		    b[i - 3] == '\r')
			return i + 1;
	return 0;
}

struct h1_head {
	const char *p, *end;
	int64_t content_length;		/* -1 when absent */
	bool host, chunked, close, expect_continue, version_10;
};

/* "METHOD SP target SP HTTP/1.x CRLF" */
static int parse_request_line(struct net_http_exchange *ex, struct h1_head *hd)
{
	const char *p = hd->p, *end = hd->end;
	const char *m = p;
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	if (p == m || p >= end || *p != ' ')
		return 400;
	size_t mlen = (size_t)(p - m);
	const char *t = ++p;
	while (p < end && *p != ' ' && (unsigned char)*p > ' ' && *p != 0x7f)
		p++;
	if (p == t || p >= end || *p != ' ')
		return 400;
	size_t tlen = (size_t)(p - t);
	p++;
	/* "HTTP/" DIGIT "." DIGIT CRLF; only 1.0 and 1.1 are spoken */
	if (end - p < 10 || memcmp(p, "HTTP/", 5) != 0 ||
	    !isdigit((unsigned char)p[5]) || p[6] != '.' ||
	    !isdigit((unsigned char)p[7]) || p[8] != '\r' || p[9] != '\n')
		return 400;
	if (p[5] != '1' || (p[7] != '1' && p[7] != '0'))
		return 505;
	hd->version_10 = p[7] == '0';
	hd->p = p + 10;
	if (t[0] != '/')	/* origin-form only: not a proxy */
		return 400;
	return http_exchange_set_target(ex, m, mlen, t, tlen) == 0 ? 0 : 503;
}

static bool token_eq(const char *v, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(v, word, len) == 0;
}

static int note_field(struct h1_head *hd, const char *name, size_t nlen,
		      const char *v, size_t vlen)
{
	if (token_eq(name, nlen, "host"))
		hd->host = true;
	else if (token_eq(name, nlen, "transfer-encoding"))
		hd->chunked = true;
	else if (token_eq(name, nlen, "connection") &&
		 (vlen >= 5 && strncasecmp(v, "close", 5) == 0))
		hd->close = true;
	else if (token_eq(name, nlen, "expect") &&
		 token_eq(v, vlen, "100-continue"))
		hd->expect_continue = true;
	else if (token_eq(name, nlen, "content-length")) {
		int64_t n = 0;
		if (vlen == 0 || vlen > 12)
			return 400;
		for (size_t i = 0; i < vlen; i++) {
			if (!isdigit((unsigned char)v[i]))
				return 400;
			n = n * 10 + (v[i] - '0');
		}
		if (hd->content_length >= 0 && hd->content_length != n)
			return 400;	/* request smuggling otherwise */
		hd->content_length = n;
	}
	return 0;
}

/* "name: OWS value OWS CRLF" until the empty line. */
static int parse_fields(struct net_http_exchange *ex, struct h1_head *hd)
{
	const char *p = hd->p, *end = hd->end;
	while (p + 1 < end && !(p[0] == '\r' && p[1] == '\n')) {
		const char *n = p;
		while (p < end && is_tchar((unsigned char)*p))
			p++;
		if (p == n || p >= end || *p != ':')
			return 400;	/* also obs-fold: a line starting SP */
		size_t nlen = (size_t)(p - n);
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		const char *v = p;
		while (p < end && *p != '\r') {
			unsigned char c = (unsigned char)*p;
			if ((c < ' ' && c != '\t') || c == 0x7f)
				return 400;
			p++;
		}
		if (end - p < 2 || p[1] != '\n')
			return 400;
		const char *vend = p;
		while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		int err = note_field(hd, n, nlen, v, (size_t)(vend - v));
		if (err)
			return err;
		http_exchange_add_field(ex, n, nlen, v, (size_t)(vend - v));
		p += 2;
	}
	return 0;
}

static void consume(struct h1_state *s, size_t n)
{
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
	s->searched = 0;
	if (s->len == 0) {	/* an idle connection keeps no buffer */
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
}

static void send_continue(struct http_conn *h)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	stream_conn_write(h->conn, (const uint8_t *)cont, sizeof(cont) - 1);
}

/* A whole header section is at the start of the buffer: build the
 * exchange and decide how the body comes. */
static void start_request(struct http_conn *h, size_t head_len)
{
	struct h1_state *s = h->h1;
	struct net_http_exchange *ex = http_exchange_new(h);
	if (!ex) {
		s->done = true;
		stream_conn_close(h->conn);
		return;
	}
	struct h1_head hd = { .p = (const char *)s->buf,
			      .end = (const char *)s->buf + head_len,
			      .content_length = -1 };
	int err = parse_request_line(ex, &hd);
	if (!err)
		err = parse_fields(ex, &hd);
	if (!err && !hd.host && !hd.version_10)
		err = 400;	/* RFC 9112 3.2 */
	if (!err && hd.chunked)
		err = 501;
	if (!err && hd.content_length > (int64_t)h->limits->max_body)
		err = 413;
	consume(s, head_len);
	if (err && !ex->error)
		ex->error = (unsigned)err;
	if (ex->error || hd.close || hd.version_10)
		s->close_after = true;
	if (ex->error) {	/* the framing cannot be trusted: stop here */
		s->done = true;
		s->busy = true;
		http_exchange_dispatch(ex);
		return;
	}
	s->busy = true;
	if (hd.content_length > 0) {
		s->cur = ex;
		s->body_need = (size_t)hd.content_length;
		if (hd.expect_continue && s->len == 0)
			send_continue(h);
		return;
	}
	http_exchange_dispatch(ex);
}

static void read_body(struct http_conn *h)
{
	struct h1_state *s = h->h1;
	size_t n = MIN(s->body_need, s->len);
	http_exchange_add_body(s->cur, s->buf, n);
	consume(s, n);
	s->body_need -= n;
	if (s->body_need == 0) {
		struct net_http_exchange *ex = s->cur;
		s->cur = NULL;
		if (ex->error)
			s->close_after = true;
		http_exchange_dispatch(ex);
	}
}

/* Parse as far as the buffer and the one-at-a-time rule allow. */
static void process(struct http_conn *h)
{
	struct h1_state *s = h->h1;
	while (!s->done && !stream_conn_closing(h->conn)) {
		if (s->cur) {
			if (s->len == 0)
				return;
			read_body(h);
			continue;
		}
		if (s->busy || s->len == 0)
			return;
		size_t head = find_crlfcrlf(s->buf, s->len, s->searched);
		s->searched = s->len;
		if (!head) {
			size_t cap = h->limits->max_header_bytes +
				     h->limits->max_path + 64;
			if (s->len > cap) {	/* never ends: refuse */
				struct net_http_exchange *ex =
					http_exchange_new(h);
				s->done = s->busy = s->close_after = true;
				if (ex) {
					ex->error = 431;
					http_exchange_dispatch(ex);
				}
			}
			return;
		}
		start_request(h, head);
	}
}

int h1_feed(struct http_conn *h, const uint8_t *data, size_t len)
{
	struct h1_state *s = h->h1;
	if (s->done)
		return 0;	/* the response to the last request is coming */
	size_t limit = h->limits->max_header_bytes + h->limits->max_path +
		       h->limits->max_body + 64;
	if (s->len + len > limit)
		return -1;	/* a client pipelining without reading */
	if (s->len + len > s->cap) {
		size_t cap = MAX(s->len + len, s->cap * 2);
		uint8_t *b = realloc(s->buf, cap);
		if (!b)
			return -1;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->in_feed = true;
	process(h);
	s->in_feed = false;
	return 0;
}

/* ------------------------------------------------------------------ responses */

void h1_respond(struct http_conn *h, struct net_http_exchange *ex,
		unsigned status, const char *content_type,
		const struct net_http_header *extra, size_t n_extra,
		const uint8_t *body, size_t len)
{
	struct h1_state *s = h->h1;
	size_t head_cap = 256 + (content_type ? strlen(content_type) : 0);
	for (size_t i = 0; i < n_extra; i++)
		head_cap += strlen(extra[i].name) + strlen(extra[i].value) + 4;
	char *out = malloc(head_cap + (body ? len : 0));
	if (!out) {
		stream_conn_close(h->conn);
		return;
	}
	int n = snprintf(out, head_cap, "HTTP/1.1 %u %s\r\n", status,
			 http_status_text(status));
	if (content_type)
		n += snprintf(out + n, head_cap - (size_t)n,
			      "Content-Type: %s\r\n", content_type);
	n += snprintf(out + n, head_cap - (size_t)n, "Content-Length: %zu\r\n",
		      len);
	for (size_t i = 0; i < n_extra; i++)
		n += snprintf(out + n, head_cap - (size_t)n, "%s: %s\r\n",
			      extra[i].name, extra[i].value);
	n += snprintf(out + n, head_cap - (size_t)n, "%s\r\n",
		      s->close_after ? "Connection: close\r\n" : "");
	if (body && len)
		memcpy(out + n, body, len);
	int ret = stream_conn_write(h->conn, (const uint8_t *)out,
				    (size_t)n + (body ? len : 0));
	free(out);
	s->busy = false;
	if (ret != 0 || s->close_after) {
		s->done = true;
		stream_conn_close(h->conn);	/* after what is queued */
	}
}

/* After a response and its exchange are gone: a pipelined request may be
 * waiting. Not from inside h1_respond, where it would re-enter a handler
 * that is still answering. */
void h1_resume(struct http_conn *h)
{
	if (!h->h1->in_feed)
		process(h);
}
