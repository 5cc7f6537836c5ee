/*  anchord - tests/fuzz/fuzz_est.c: the EST server behind HTTP/1.1.
 *
 *  Requests reach the real EST service (routing, CA label segments,
 *  methods, media types, Authorization headers, base64 and CSR decoding,
 *  POP linking, name policy, issuing into a real SQLite store). The
 *  bearer token "fuzz-token" is valid in every run, and the connection's
 *  channel binding is 32 zero bytes (challengePassword
 *  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), so the fuzzer can
 *  reach issuing. HTTP Basic is off: an Argon2id per input would make the
 *  target too slow to be useful, and the password check is libsodium's.
 */
#include "est/est.h"
#include "fake_stream.h"
#include "pki/pki.h"
#include "store/store.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uv_loop_t loop;
static struct est_service *est;
static struct net_http_router *router;
static char store_path[128];
static const char token[] = "fuzz-token";

static void add_token(void)
{
	struct store *s;
	char err[256];
	uint8_t h[32];
	crypto_hash_sha256(h, (const uint8_t *)token, strlen(token));
	struct store_token t = { .purpose = "est", .expires = INT64_MAX };
	if (store_open(store_path, &s, err, sizeof(err)) != 0 ||
	    store_token_add(s, h, &t) != 0)
		abort();
	store_close(s);
}

/* Issuing used the token up; the next input gets it back. */
static void renew_token(void)
{
	sqlite3 *db;
	if (sqlite3_open(store_path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "UPDATE tokens SET used_at = 0", NULL, NULL,
			 NULL) != SQLITE_OK)
		abort();
	sqlite3_close(db);
}

static char dir[64];

static void remove_state(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0 || uv_loop_init(&loop) != 0)
		abort();
	log_threshold = LOG_LEVEL_ERROR;	/* issuing logs at info */
	static char cert[128];
	snprintf(dir, sizeof(dir), "/tmp/anchord-fuzz-est-%d", (int)getpid());
	atexit(remove_state);
	snprintf(store_path, sizeof(store_path), "%s/%s", dir, STORE_FILE);
	char err[256];
	struct pki_files files;
	bool issued;
	struct pki_auto_request r = { .state_dir = dir, .name = "dns.fuzz.test" };
	if (util_mkdir_p(dir, 0700) != 0 ||
	    pki_ensure_server_cert(&r, &files, &issued, err, sizeof(err)) != 0)
		abort();
	snprintf(cert, sizeof(cert), "%s", files.cert);
	static char allowed[] = "devices.fuzz.test";
	static char *domains[] = { allowed };
	struct est_conf c = { .state_dir = dir, .server_cert = cert,
			      .validity_days = 30, .retry_after_s = 60,
			      .allowed_domains = domains,
			      .n_allowed_domains = 1 };
	est = est_service_new(&loop, &c, err, sizeof(err));
	router = net_http_router_new();
	if (!est || !router || est_service_route(est, router) != 0)
		abort();
	add_token();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_http_budget budget = { .limit = 1 << 20 };
	struct net_http_limits lim = { .max_streams = 16, .max_body = 65535,
				       .max_header_bytes = 16384,
				       .max_path = 8192, .budget = &budget };
	struct net_conn conn = { 0 };
	struct http_conn *h = http_conn_new(&conn, false, &lim, router,
					    &conn.stats);
	if (!h)
		return 0;
	feed_chunks(h, data, size);
	/* until the thread pool's work and its answers are all done */
	uv_run(&loop, UV_RUN_DEFAULT);
	http_conn_free(h);
	uv_run(&loop, UV_RUN_NOWAIT);
	if (budget.used != 0)
		abort();
	if (memmem(data, size, token, sizeof(token) - 1))
		renew_token();
	return 0;
}
