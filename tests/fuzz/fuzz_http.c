/*  anchord - tests/fuzz/fuzz_http.c: the HTTP/1.1 parser and the HTTP/2
 *  glue (the second byte picks which), with handlers that answer at once,
 *  answer later, or never (cancelled when the connection goes). */
#include "fake_stream.h"

#include <stdio.h>

static struct net_http_exchange *parked;

static void answer_now(void *ctx, struct net_http_exchange *ex)
{
	const struct net_http_request *r = net_http_exchange_request(ex);
	struct net_http_header h[] = { { "Cache-Control", "max-age=1" } };
	net_http_respond(ex, 200, "text/plain", h, 1, r->body, r->body_len);
}

static void forget(void *arg)
{
	parked = NULL;
}

static void answer_later(void *ctx, struct net_http_exchange *ex)
{
	struct net_http_exchange *old = parked;
	parked = ex;
	if (old)
		net_http_respond_error(old, 503, NULL);	/* one at most */
	net_http_on_cancel(ex, forget, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct net_http_router *router;
	if (!router) {
		router = net_http_router_new();
		net_http_router_add(router, "/now", answer_now, NULL);
		net_http_router_add(router, "/later", answer_later, NULL);
	}
	if (size < 2)
		return 0;
	struct net_http_budget budget = { .limit = 1 << 20 };
	struct net_http_limits lim = { .max_streams = 16, .max_body = 4096,
				       .max_header_bytes = 2048,
				       .max_path = 512, .budget = &budget };
	struct net_conn conn = { .h2 = data[1] & 1 };
	struct http_conn *h = http_conn_new(&conn, conn.h2, &lim, router,
					    &conn.stats);
	if (!h)
		return 0;
	feed_chunks(h, data + 1, size - 1);
	while (parked && !conn.closing) {	/* answering may dispatch more */
		struct net_http_exchange *ex = parked;
		parked = NULL;
		net_http_respond_error(ex, 504, NULL);
	}
	http_conn_free(h);
	if (parked || budget.used != 0) {
		fprintf(stderr, "leak: parked=%p budget.used=%zu\n",
			(void *)parked, budget.used);
		abort();	/* a leak of an exchange or of budget */
	}
	return 0;
}
