/*  anchord - tests/fuzz/fuzz_query.c: the query entry point.
 *
 *  Every input goes through the whole synchronous pipeline of a real worker
 *  (parse, checks, local data, cache, forwarder without upstreams), and
 *  every answer must itself be a well-formed DNS message.
 */
#include "dns/dns.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static uv_loop_t loop;
static struct dns_worker *worker;
static const uint8_t *current;
static size_t current_len;

static void check_answer(struct dns_request *req, void *ctx, uint8_t *wire,
			 size_t len)
{
	struct dns_query q;
	struct dns_scan s;
	if (len < DNS_HEADER_SIZE || len > DNS_MAX_MSG ||
	    memcmp(wire, current, 2) != 0 || !(wire[2] & DNS_FLAG1_QR))
		abort();
	/* An answer to a query with a question must parse as a response. */
	if (dns_query_parse(current, current_len, &q) == DNS_PARSE_OK &&
	    dns_response_scan(wire, len, &s) != 0)
		abort();
}

static const struct dns_reply_ops ops = { .send = check_answer };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	util_hash_init();
	log_threshold = LOG_LEVEL_ERROR;
	static struct dns_local_data_conf data[] = {
		{ "local.test. 60 IN A 127.0.0.1", { "fuzz", 1 } },
		{ "alias.local.test. 60 IN CNAME local.test.", { "fuzz", 2 } },
		{ "txt.local.test. 60 IN TXT \"a\" \"b\"", { "fuzz", 3 } },
	};
	struct dns_conf conf = {
		.data = data, .n_data = 3,
		.cache_size = 1 << 20, .max_ttl = 86400,
		.max_negative_ttl = 3600, .edns_udp_size = 1232,
		.tcp_keepalive_100ms = 100,
	};
	char err[256];
	struct dns_env *env = dns_env_build(&conf, err, sizeof(err));
	if (!env || uv_loop_init(&loop) != 0)
		abort();
	worker = dns_worker_new(&loop, dns_cache_new(1 << 20), env);
	dns_env_unref(env);
	return worker ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dns_transport transports[] = {
		DNS_TRANSPORT_UDP, DNS_TRANSPORT_TCP, DNS_TRANSPORT_DOT };
	current = data;
	current_len = size;
	for (size_t i = 0; i < 3; i++) {
		struct dns_client client = {
			.transport = transports[i],
			.encrypted = i == 2,
			.stream = i > 0,
		};
		util_addr_parse("127.0.0.1", 5353, &client.addr);
		dns_request_start(worker, data, size, &client, 0, &ops, NULL,
				  NULL);
	}
	uv_run(&loop, UV_RUN_NOWAIT);	/* let closed handles go */
	return 0;
}
