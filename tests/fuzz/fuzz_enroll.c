/*  anchord - tests/fuzz/fuzz_enroll.c: the enrollment API behind HTTP/1.1.
 *
 *  Requests reach the real enrollment service (routing, methods, media
 *  types, JSON with duplicate members, base64url fields, code ids, user
 *  names, PAKE messages, sessions, registration tokens) with a real SQLite
 *  store that holds the code "FUZZ" and the user "fuzz". The connection is
 *  TLS 1.3 with a channel binding of 32 zero bytes (fake_stream.h).
 */
#include "enroll/enroll.h"
#include "fake_stream.h"
#include "pki/pki.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uv_loop_t loop;
static struct enroll_service *svc;
static struct net_http_router *router;
static char dir[64];

static void remove_state(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* A code and a user the inputs can name. */
static void seed_store(void)
{
	struct store *s;
	char path[128], err[256];
	uint8_t key[ENROLL_KEY_BYTES];
	struct enroll_code code = { .id = "FUZZ", .secret = "0123456789AB" };
	struct store_code row = { .id = "FUZZ", .purpose = "register",
				  .created_at = 1, .expires = INT64_MAX,
				  .secret_len = ENROLL_SEALED_SECRET_BYTES };
	struct pake_opaque_server_keys keys;
	struct pake_opaque_registration_record rec;
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
	if (enroll_codes_key_load(dir, key, err, sizeof(err)) != 0 ||
	    enroll_server_keys_load(dir, &keys, err, sizeof(err)) != 0 ||
	    store_open(path, &s, err, sizeof(err)) != 0)
		abort();
	enroll_code_seal(row.secret, key, &code);
	pake_opaque_fake_record(&keys, PAKE_STR("fuzz", 4), &rec);
	if (store_code_add(s, &row) != 0 ||
	    store_user_set(s, "fuzz", rec.bytes, true) != 0)
		abort();
	store_close(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0 || uv_loop_init(&loop) != 0)
		abort();
	log_threshold = LOG_LEVEL_ERROR;
	snprintf(dir, sizeof(dir), "/tmp/anchord-fuzz-enroll-%d", (int)getpid());
	atexit(remove_state);
	char err[256];
	static struct pki_files files;
	bool issued;
	struct pki_auto_request r = { .state_dir = dir, .name = "dns.fuzz.test" };
	if (util_mkdir_p(dir, 0700) != 0 ||
	    pki_ensure_server_cert(&r, &files, &issued, err, sizeof(err)) != 0)
		abort();
	seed_store();
	static const char *const addrs[] = { "127.0.0.1" };
	struct enroll_conf c = {
		.state_dir = dir, .adn = "dns.fuzz.test", .addresses = addrs,
		.n_addresses = 1, .dot_port = 853, .https_port = 443,
		.doh_path = "/dns-query", .server_cert = files.cert,
		.ca_cert = files.ca_cert, .max_failures = 3,
		.cert_validity_s = 86400,
	};
	svc = enroll_service_new(&loop, &c, err, sizeof(err));
	router = net_http_router_new();
	if (!svc || !router || enroll_service_route(svc, router) != 0)
		abort();
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
	uv_run(&loop, UV_RUN_NOWAIT);
	http_conn_free(h);
	if (budget.used != 0)
		abort();
	return 0;
}
