/*  anchord - tests/fuzz/fuzz_doh.c: DoH request decoding.
 *
 *  HTTP/1.1 requests reach the real DoH handler (path, client id, query
 *  string, base64url, media type, POST bodies) and the real DNS pipeline of
 *  a worker without upstreams.
 */
#include "daemon/daemon.h"
#include "fake_stream.h"

#include <sodium.h>

static uv_loop_t loop;
static struct http_services *services;

/* /metrics reads the workers; here there are none (and the socket code
 * they would pull in stays out). */
void workers_collect_metrics(struct daemon_workers *ws,
			     struct daemon_metrics *out)
{
	memset(out, 0, sizeof(*out));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	util_hash_init();
	log_threshold = LOG_LEVEL_ERROR;
	static struct anchord_config conf;
	char err[256];
	const char *text = "upstream: [ { address: 127.0.0.1, port: 9 } ]\n"
			   "local-data: [ \"a.test. 60 IN A 127.0.0.1\" ]\n";
	if (config_load_buffer(text, strlen(text), "fuzz", &conf, err,
			       sizeof(err)) != 0)
		abort();
	conf.dns.n_upstreams = 0;	/* answered locally or SERVFAIL */
	struct dns_env *env = dns_env_build(&conf.dns, err, sizeof(err));
	if (!env || uv_loop_init(&loop) != 0)
		abort();
	struct dns_worker *w = dns_worker_new(&loop, dns_cache_new(1 << 20),
					      env);
	dns_env_unref(env);
	conf.est.enabled = false;	/* EST has its own target */
	services = http_services_new(&loop, w, &conf, NULL, NULL);
	return services ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_http_budget budget = { .limit = 1 << 20 };
	struct net_http_limits lim = { .max_streams = 16, .max_body = 65535,
				       .max_header_bytes = 16384,
				       .max_path = 8192, .budget = &budget };
	struct net_conn conn = { 0 };
	struct http_conn *h = http_conn_new(&conn, false, &lim,
					    http_services_router(services),
					    &conn.stats);
	if (!h)
		return 0;
	feed_chunks(h, data, size);
	uv_run(&loop, UV_RUN_NOWAIT);
	http_conn_free(h);
	uv_run(&loop, UV_RUN_NOWAIT);
	if (budget.used != 0)
		abort();
	return 0;
}
