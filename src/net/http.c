/*  anchord - net/http.c: HTTP requests, whatever the version, and routing.
 *
 *  HTTP/1.1 (http1.c) and HTTP/2 (http2.c) both build a net_http_exchange:
 *  method, target, header fields in one arena, and the body, under limits a
 *  hostile client cannot stretch (field count and size, path length, body
 *  size, and a per-worker budget of buffered body bytes). A complete
 *  request goes to the handler of the longest matching path prefix; the
 *  handler answers now or later, or hears that the client went away.
 */
#include "net/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROUTES_MAX 32

struct route {
	char *prefix;
	size_t len;
	net_http_handler_fn fn;
	void *ctx;
};

struct net_http_router {
	struct route routes[ROUTES_MAX];
	size_t n;
};

/* ------------------------------------------------------------------ router */

struct net_http_router *net_http_router_new(void)
{
	return calloc(1, sizeof(struct net_http_router));
}

int net_http_router_add(struct net_http_router *r, const char *prefix,
			net_http_handler_fn fn, void *ctx)
{
	if (r->n == ROUTES_MAX || prefix[0] != '/')
		return -1;
	size_t len = strlen(prefix);
	while (len > 1 && prefix[len - 1] == '/')
		len--;		/* "/a/" routes like "/a" */
	char *copy = strndup(prefix, len);
	if (!copy)
		return -1;
	r->routes[r->n++] = (struct route){ copy, len, fn, ctx };
	return 0;
}

void net_http_router_free(struct net_http_router *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->routes[i].prefix);
	free(r);
}

static const struct route *route_match(const struct net_http_router *r,
				       const char *path)
{
	const struct route *best = NULL;
	for (size_t i = 0; i < r->n; i++) {
		const struct route *rt = &r->routes[i];
		bool root = rt->len == 1;	/* "/" matches everything */
		if (strncmp(path, rt->prefix, rt->len) == 0 &&
		    (root || path[rt->len] == '\0' || path[rt->len] == '/') &&
		    (!best || rt->len > best->len))
			best = rt;
	}
	return best;
}

/* ------------------------------------------------------------------ exchanges */

struct net_http_exchange *http_exchange_new(struct http_conn *h)
{
	struct net_http_exchange *ex = calloc(1, sizeof(*ex));
	if (!ex)
		return NULL;
	ex->hc = h;
	util_list_init(&ex->node);
	return ex;
}

static void budget_release(struct net_http_exchange *ex)
{
	struct net_http_budget *b = ex->hc ? ex->hc->limits->budget : NULL;
	if (b && ex->budgeted)
		b->used -= MIN(ex->budgeted, b->used);
	ex->budgeted = 0;
}

void http_exchange_free(struct net_http_exchange *ex)
{
	if (!ex)
		return;
	budget_release(ex);
	util_list_remove(&ex->node);
	free(ex->arena);
	free(ex->body);
	free(ex);
}

/* Append bytes and a NUL to the arena; returns the offset or -1. */
static long arena_put(struct net_http_exchange *ex, const char *s, size_t len)
{
	size_t need = ex->arena_len + len + 1;
	if (need > ex->arena_cap) {
		size_t cap = MAX(need, ex->arena_cap * 2);
		cap = MAX(cap, (size_t)256);
		char *a = realloc(ex->arena, cap);
		if (!a)
			return -1;
		ex->arena = a;
		ex->arena_cap = cap;
	}
	long off = (long)ex->arena_len;
	memcpy(ex->arena + ex->arena_len, s, len);
	ex->arena[ex->arena_len + len] = '\0';
	ex->arena_len = need;
	return off;
}

static bool header_room(struct net_http_exchange *ex, size_t more)
{
	ex->header_bytes += more;
	if (ex->header_bytes > ex->hc->limits->max_header_bytes) {
		if (!ex->error)
			ex->error = 431;
		return false;
	}
	return true;
}

int http_exchange_set_target(struct net_http_exchange *ex, const char *method,
			     size_t mlen, const char *target, size_t tlen)
{
	if (tlen > ex->hc->limits->max_path) {
		ex->error = 414;
		tlen = 0;	/* keep nothing of it */
	}
	if (!header_room(ex, mlen + tlen))
		return 0;
	long m = arena_put(ex, method, mlen);
	long t = arena_put(ex, target, tlen);
	if (m < 0 || t < 0)
		return -1;
	ex->method = (uint32_t)m;
	ex->target = (uint32_t)t;
	return 0;
}

void http_exchange_add_field(struct net_http_exchange *ex, const char *name,
			     size_t nlen, const char *value, size_t vlen)
{
	if (!header_room(ex, nlen + vlen + 32))	/* RFC 9113 6.5.2 overhead */
		return;
	if (ex->n_fields == HTTP_MAX_FIELDS) {
		if (!ex->error)
			ex->error = 431;
		return;
	}
	long n = arena_put(ex, name, nlen);
	long v = arena_put(ex, value, vlen);
	if (n < 0 || v < 0) {
		ex->error = 503;
		return;
	}
	for (size_t i = 0; i < nlen; i++)
		ex->arena[n + (long)i] = (char)tolower((unsigned char)name[i]);
	ex->fields[ex->n_fields].name = (uint32_t)n;
	ex->fields[ex->n_fields].value = (uint32_t)v;
	ex->n_fields++;
}

void http_exchange_add_body(struct net_http_exchange *ex, const uint8_t *data,
			    size_t len)
{
	struct net_http_budget *b = ex->hc->limits->budget;
	if (ex->error)
		return;
	if (ex->body_len + len > ex->hc->limits->max_body) {
		ex->error = 413;
		return;
	}
	if (b && b->used + len > b->limit) {
		ex->error = 503;	/* the worker's budget is spent */
		return;
	}
	if (ex->body_len + len > ex->body_cap) {
		size_t cap = MAX(ex->body_len + len, ex->body_cap * 2);
		uint8_t *nb = realloc(ex->body, cap);
		if (!nb) {
			ex->error = 503;
			return;
		}
		ex->body = nb;
		ex->body_cap = cap;
	}
	memcpy(ex->body + ex->body_len, data, len);
	ex->body_len += len;
	if (b) {
		b->used += len;
		ex->budgeted += len;
	}
}

const char *net_http_exchange_header(const struct net_http_exchange *ex,
				     const char *name)
{
	for (unsigned i = 0; i < ex->n_fields; i++)
		if (strcasecmp(ex->arena + ex->fields[i].name, name) == 0)
			return ex->arena + ex->fields[i].value;
	return NULL;
}

static enum net_http_method method_of(const char *m)
{
	static const char *const names[] = {
		[NET_HTTP_GET] = "GET", [NET_HTTP_HEAD] = "HEAD",
		[NET_HTTP_POST] = "POST", [NET_HTTP_PUT] = "PUT",
		[NET_HTTP_DELETE] = "DELETE",
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(m, names[i]) == 0)
			return (enum net_http_method)i;
	return NET_HTTP_OTHER;
}

/* Fill req from the arena (its pointers are stable from now on). */
static void finish_request(struct net_http_exchange *ex)
{
	struct net_http_request *r = &ex->req;
	char *target = ex->arena + ex->target;
	char *q = strchr(target, '?');
	r->query = "";
	if (q) {
		*q = '\0';
		r->query = q + 1;
	}
	r->path = target;
	r->method_name = ex->arena + ex->method;
	r->method = method_of(r->method_name);
	r->content_type = net_http_exchange_header(ex, "content-type");
	r->accept = net_http_exchange_header(ex, "accept");
	r->authorization = net_http_exchange_header(ex, "authorization");
	r->body = ex->body;
	r->body_len = ex->body_len;
	r->version = ex->hc->h2 ? 2 : 1;
	ex->head_only = r->method == NET_HTTP_HEAD;
}

static bool path_ok(const char *p)
{
	if (p[0] != '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

void http_exchange_dispatch(struct net_http_exchange *ex)
{
	struct http_conn *h = ex->hc;
	h->stats->http_requests++;
	util_list_push(&h->pending, &ex->node);
	stream_conn_begin(h->conn);
	if (!ex->error && ex->arena)
		finish_request(ex);
	else if (!ex->error)
		ex->error = 400;
	if (!ex->error && !path_ok(ex->req.path))
		ex->error = 400;
	if (ex->error) {
		net_http_respond_error(ex, ex->error, NULL);
		return;
	}
	const struct route *rt = route_match(h->router, ex->req.path);
	if (!rt) {
		net_http_respond_error(ex, 404, NULL);
		return;
	}
	ex->subpath = ex->req.path + (rt->len == 1 ? 0 : rt->len);
	rt->fn(rt->ctx, ex);
}

/* ------------------------------------------------------------------ handler side */

const struct net_http_request *
net_http_exchange_request(const struct net_http_exchange *ex)
{
	return &ex->req;
}

struct net_conn *net_http_exchange_conn(const struct net_http_exchange *ex)
{
	return ex->hc ? ex->hc->conn : NULL;
}

const char *net_http_exchange_subpath(const struct net_http_exchange *ex)
{
	return ex->subpath ? ex->subpath : "";
}

void net_http_on_cancel(struct net_http_exchange *ex, void (*fn)(void *arg),
			void *arg)
{
	ex->cancel = fn;
	ex->cancel_arg = arg;
}

void net_http_respond(struct net_http_exchange *ex, unsigned status,
		      const char *content_type,
		      const struct net_http_header *extra, size_t n_extra,
		      const uint8_t *body, size_t len)
{
	struct http_conn *h = ex->hc;
	/* Off the pending list first: responding may close the connection,
	 * which cancels what is pending. */
	util_list_remove(&ex->node);
	if (h) {
		if (status >= 400)
			h->stats->http_errors++;
		if (ex->head_only)
			body = NULL;	/* the protocols send the length only */
		if (h->h2)
			h2_respond(h, ex, status, content_type, extra, n_extra,
				   body, len);
		else
			h1_respond(h, ex, status, content_type, extra, n_extra,
				   body, len);
		net_conn_done(h->conn);
	}
	http_exchange_free(ex);
	if (h && !h->h2)
		h1_resume(h);
}

void net_http_respond_error(struct net_http_exchange *ex, unsigned status,
			    const char *text)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "%u %s%s%s\n", status,
			 http_status_text(status), text ? ": " : "",
			 text ? text : "");
	net_http_respond(ex, status, "text/plain; charset=utf-8", NULL, 0,
			 (const uint8_t *)body, n > 0 ? (size_t)n : 0);
}

const char *http_status_text(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
	}
}

/* ------------------------------------------------------------------ connections */

struct http_conn *http_conn_new(struct net_conn *c, bool h2,
				const struct net_http_limits *limits,
				struct net_http_router *router,
				struct net_stream_stats *stats)
{
	struct http_conn *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->conn = c;
	h->limits = limits;
	h->router = router;
	h->stats = stats;
	h->h2 = h2;
	util_list_init(&h->pending);
	if ((h2 ? h2_init(h) : h1_init(h)) != 0) {
		http_conn_free(h);
		return NULL;
	}
	return h;
}

int http_conn_feed(struct http_conn *h, const uint8_t *data, size_t len)
{
	return h->h2 ? h2_feed(h, data, len) : h1_feed(h, data, len);
}

void http_conn_cancel_all(struct http_conn *h)
{
	while (!util_list_empty(&h->pending)) {
		struct net_http_exchange *ex = container_of(h->pending.next,
			struct net_http_exchange, node);
		void (*cancel)(void *) = ex->cancel;
		void *arg = ex->cancel_arg;
		/* The handler hears of it, then the exchange is gone: it must
		 * not be answered or touched after its cancel callback. */
		if (cancel)
			cancel(arg);
		http_exchange_free(ex);
	}
}

void http_conn_free(struct http_conn *h)
{
	if (!h)
		return;
	http_conn_cancel_all(h);
	if (h->h2)
		h2_free(h);
	else
		h1_free(h);
	free(h);
}
