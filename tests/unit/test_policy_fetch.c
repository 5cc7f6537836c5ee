/*  anchord - unit tests of the HTTPS fetcher against a real HTTPS server
 *  on loopback: tests/unit/fetch_server.py, run by python3 as a child,
 *  with a test CA and a server certificate (IP SAN 127.0.0.1) that openssl
 *  makes in a temporary directory. Nothing but 127.0.0.1 is contacted. */
#include "test.h"

#include "policy/policy.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3"
/* No test waits longer for anything; valgrind makes the first TLS
 * handshake take seconds. */
#define LIMIT_MS 30000

/* ------------------------------------------------------------------ the server */

static struct {
	char dir[64];
	char ca[128], other_ca[128], cert[128], key[128];
	pid_t pid;
	unsigned https_port, silent_port;
} server = { .pid = -1 };

static void make_certificates(void)
{
	static const char *const steps[] = {
		"openssl req -x509 -new -newkey ec -pkeyopt "
		"ec_paramgen_curve:P-256 -nodes -days 2 -keyout ca.key "
		"-out ca.pem -subj '/CN=anchord fetch test CA' "
		"-addext basicConstraints=critical,CA:TRUE "
		"-addext keyUsage=critical,keyCertSign",
		"openssl req -x509 -new -newkey ec -pkeyopt "
		"ec_paramgen_curve:P-256 -nodes -days 2 -keyout other-ca.key "
		"-out other-ca.pem -subj '/CN=anchord fetch unrelated CA' "
		"-addext basicConstraints=critical,CA:TRUE "
		"-addext keyUsage=critical,keyCertSign",
		"openssl req -x509 -new -newkey ec -pkeyopt "
		"ec_paramgen_curve:P-256 -nodes -days 2 -keyout server.key "
		"-out server.pem -subj /CN=127.0.0.1 -CA ca.pem -CAkey ca.key "
		"-addext subjectAltName=IP:127.0.0.1 "
		"-addext basicConstraints=critical,CA:FALSE "
		"-addext extendedKeyUsage=serverAuth",
	};
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "cd '%s' && %s 2>/dev/null",
			 server.dir, steps[i]);
		if (system(cmd) != 0)
			fail_msg("openssl failed: %s", steps[i]);
	}
	snprintf(server.ca, sizeof(server.ca), "%s/ca.pem", server.dir);
	snprintf(server.other_ca, sizeof(server.other_ca), "%s/other-ca.pem",
		 server.dir);
	snprintf(server.cert, sizeof(server.cert), "%s/server.pem", server.dir);
	snprintf(server.key, sizeof(server.key), "%s/server.key", server.dir);
}

/* The child dies with this process, whatever ends it. */
static void exec_server(int out)
{
	const char *top = getenv("ANCHORD_SRCDIR");
	char script[512];
	snprintf(script, sizeof(script), "%s/tests/unit/fetch_server.py",
		 top ? top : ".");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	dup2(out, STDOUT_FILENO);
	execl(PYTHON, PYTHON, script, server.cert, server.key, (char *)NULL);
	_exit(127);
}

static void read_ports(int in)
{
	char line[64] = "";
	size_t got = 0;
	struct pollfd p = { .fd = in, .events = POLLIN };
	while (!strchr(line, '\n') && got < sizeof(line) - 1 &&
	       poll(&p, 1, LIMIT_MS) == 1) {
		ssize_t n = read(in, line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		line[got] = '\0';
	}
	if (sscanf(line, "%u %u", &server.https_port, &server.silent_port) != 2)
		fail_msg("the test server did not say its ports: '%s'", line);
}

static void start_server(void)
{
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	server.pid = fork();
	assert_true(server.pid >= 0);
	if (server.pid == 0) {
		close(pipefd[0]);
		exec_server(pipefd[1]);
	}
	close(pipefd[1]);
	read_ports(pipefd[0]);
	close(pipefd[0]);
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(server.dir, sizeof(server.dir), "%s/anchord-fetch-XXXXXX",
		 tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(server.dir))
		return -1;
	make_certificates();
	start_server();
	return 0;
}

static int teardown(void **state)
{
	if (server.pid > 0) {
		kill(server.pid, SIGTERM);
		waitpid(server.pid, NULL, 0);
	}
	static const char *const files[] = { "ca.pem", "ca.key", "other-ca.pem",
					     "other-ca.key", "server.pem",
					     "server.key" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/%s", server.dir, files[i]);
		unlink(path);
	}
	rmdir(server.dir);
	return 0;
}

static void url(char *out, size_t cap, const char *path)
{
	snprintf(out, cap, "https://127.0.0.1:%u%s", server.https_port, path);
}

/* ------------------------------------------------------------------ the loop */

/* What one done call said, copied: the result dies with the callback. */
struct outcome {
	int calls;
	bool failed;
	char error[256];
	long status;
	char body[256];
	size_t len;
	char content_type[64];
	uint64_t started_ms, after_ms;
	uv_loop_t *loop;
};

/* done calls of the running test, and whether its fetcher is freed;
 * each of them stops the loop, so that run_until looks again */
static int finished;
static int freed;
static uv_loop_t *running;

static void record(void *ctx, const struct policy_fetch_result *r)
{
	struct outcome *o = ctx;
	o->calls++;
	finished++;
	uv_stop(running);
	o->failed = r->error != NULL;
	snprintf(o->error, sizeof(o->error), "%s", r->error ? r->error : "");
	o->status = r->http_status;
	assert_non_null(r->body);
	assert_int_equal(r->body[r->len], '\0');
	o->len = r->len;
	size_t n = MIN(r->len, sizeof(o->body) - 1);
	memcpy(o->body, r->body, n);	/* a body may hold NULs */
	o->body[n] = '\0';
	snprintf(o->content_type, sizeof(o->content_type), "%s",
		 r->content_type ? r->content_type : "");
	o->after_ms = uv_now(o->loop) - o->started_ms;
}

static void on_freed(void *ctx)
{
	freed++;
	uv_stop(running);
}

static void on_guard(uv_timer_t *t)
{
	*(bool *)t->data = true;
	uv_stop(t->loop);
}

/* Run the loop until *count reaches want, failing after LIMIT_MS. */
static void run_until(uv_loop_t *loop, const int *count, int want)
{
	bool expired = false;
	uv_timer_t guard;
	uv_timer_init(loop, &guard);
	guard.data = &expired;
	uv_timer_start(&guard, on_guard, LIMIT_MS, 0);
	while (*count < want && !expired)
		uv_run(loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	if (*count < want)
		fail_msg("waited %d ms in vain", LIMIT_MS);
}

static struct policy_fetcher *start(uv_loop_t *loop, uint64_t timeout_ms,
				    size_t max_size, char *const *ca_files,
				    size_t n_ca_files)
{
	finished = freed = 0;
	running = loop;
	assert_int_equal(uv_loop_init(loop), 0);
	struct policy_fetcher_conf c = { .ca_files = ca_files,
					 .n_ca_files = n_ca_files,
					 .timeout_ms = timeout_ms,
					 .max_size = max_size };
	char err[256];
	struct policy_fetcher *f = policy_fetcher_new(loop, &c, err,
						      sizeof(err));
	if (!f)
		fail_msg("policy_fetcher_new: %s", err);
	return f;
}

/* The usual fetcher: the test CA among others, 20 s, 4 KiB. */
static struct policy_fetcher *start_trusting(uv_loop_t *loop)
{
	char *cas[] = { server.other_ca, server.ca };
	return start(loop, 20000, 4096, cas, ARRAY_SIZE(cas));
}

static void run_for(uv_loop_t *loop, uint64_t ms)
{
	bool expired = false;
	uv_timer_t t;
	uv_timer_init(loop, &t);
	t.data = &expired;
	uv_timer_start(&t, on_guard, ms, 0);
	while (!expired)
		uv_run(loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

/* Close the fetcher and see that it leaves nothing behind on the loop. */
static void stop(uv_loop_t *loop, struct policy_fetcher *f)
{
	int calls = finished;
	policy_fetcher_close(f, on_freed, NULL);
	assert_int_equal(freed, 0);	/* not before the loop has run */
	run_until(loop, &freed, 1);
	assert_int_equal(finished, calls);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void fetch(uv_loop_t *loop, struct policy_fetcher *f,
		  const char *target, const char *accept, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->loop = loop;
	o->started_ms = uv_now(loop);
	assert_int_equal(policy_fetch(f, target, accept, record, o), 0);
	assert_int_equal(o->calls, 0);	/* never from inside policy_fetch */
}

/* One fetch of a path on the test server, run to its end. */
static void fetch_path(uv_loop_t *loop, struct policy_fetcher *f,
		       const char *path, struct outcome *o)
{
	char target[128];
	url(target, sizeof(target), path);
	fetch(loop, f, target, "application/mud+json", o);
	run_until(loop, &o->calls, 1);
	assert_int_equal(o->calls, 1);
}

/* ------------------------------------------------------------------ tests */

/* A POST (a registrar's voucher request to a MASA): type and body arrive,
 * including a NUL, and the caller's copy may go at once. */
static void a_post(void **state)
{
	uv_loop_t loop;
	struct policy_fetcher *f = start_trusting(&loop);
	struct outcome o = { .loop = &loop };
	char target[128];
	uint8_t *body = malloc(5);
	memcpy(body, "ab\0cd", 5);
	url(target, sizeof(target), "/echo-post");
	assert_int_equal(policy_fetch_post(f, target, "application/json",
		"application/voucher-cms+json", body, 5, record, &o), 0);
	free(body);
	run_until(&loop, &o.calls, 1);
	if (o.failed) fail_msg("%s", o.error);
	assert_int_equal(o.status, 200);
	static const char want[] = "application/voucher-cms+json\nab\0cd";
	assert_int_equal(o.len, sizeof(want) - 1);
	assert_memory_equal(o.body, want, sizeof(want) - 1);
	stop(&loop, f);
}

static void a_mud_file(void **state)
{
	uv_loop_t loop;
	struct policy_fetcher *f = start_trusting(&loop);
	struct outcome o;
	fetch_path(&loop, f, "/mud.json", &o);
	if (o.failed) fail_msg("%s", o.error);
	assert_int_equal(o.status, 200);
	assert_string_equal(o.body, "{\"ietf-mud:mud\": {\"mud-version\": 1}}\n");
	assert_int_equal(o.len, strlen(o.body));
	assert_string_equal(o.content_type, "application/mud+json");
	assert_int_equal(policy_fetcher_active(f), 0);
	stop(&loop, f);
}

static void accept_and_user_agent_are_sent(void **state)
{
	uv_loop_t loop;
	struct policy_fetcher *f = start_trusting(&loop);
	struct outcome o;
	fetch_path(&loop, f, "/echo", &o);
	if (o.failed) fail_msg("%s", o.error);
	assert_string_equal(o.body, "application/mud+json\n"
				    "anchord/" ANCHORD_VERSION "\n");
	stop(&loop, f);
}

static void http_errors_and_redirects_fail(void **state)
{
	uv_loop_t loop;
	struct policy_fetcher *f = start_trusting(&loop);
	struct outcome o;
	fetch_path(&loop, f, "/missing", &o);
	assert_string_equal(o.error, "HTTP 404");
	assert_int_equal(o.status, 404);
	assert_string_equal(o.body, "not here\n");
	fetch_path(&loop, f, "/moved", &o);	/* not followed */
	assert_string_equal(o.error, "HTTP 301");
	stop(&loop, f);
}

static void the_size_limit_holds(void **state)
{
	uv_loop_t loop;
	struct policy_fetcher *f = start_trusting(&loop);
	struct outcome o;
	fetch_path(&loop, f, "/bytes/4096", &o);
	if (o.failed) fail_msg("%s", o.error);
	assert_int_equal(o.len, 4096);
	fetch_path(&loop, f, "/bytes-unannounced/4096", &o);
	if (o.failed) fail_msg("%s", o.error);
	assert_int_equal(o.len, 4096);
	/* refused by its Content-Length, and counted while it arrives */
	fetch_path(&loop, f, "/bytes/4097", &o);
	assert_string_equal(o.error, "larger than 4096 bytes");
	fetch_path(&loop, f, "/bytes-unannounced/65536", &o);
	assert_string_equal(o.error, "larger than 4096 bytes");
	assert_true(o.len <= 4096);
	stop(&loop, f);
}

/* Without ca_files the system store decides, and it does not know the
 * test CA; a CA file that is not the server's issuer does not help. */
static void untrusted_servers_fail(void **state)
{
	static const char untrusted[] =
		"TLS: certificate not trusted (issuer unknown)";
	uv_loop_t loop;
	struct policy_fetcher *f = start(&loop, 20000, 4096, NULL, 0);
	struct outcome o;
	fetch_path(&loop, f, "/mud.json", &o);
	assert_true(o.failed);
	assert_string_equal(o.error, untrusted);
	assert_int_equal(o.status, 0);
	stop(&loop, f);

	char *cas[] = { server.other_ca };
	f = start(&loop, 20000, 4096, cas, 1);
	fetch_path(&loop, f, "/mud.json", &o);
	assert_string_equal(o.error, untrusted);
	stop(&loop, f);
}

static void only_https_is_fetched(void **state)
{
	uv_loop_t loop;
	struct policy_fetcher *f = start_trusting(&loop);
	struct outcome o;
	char target[128];
	snprintf(target, sizeof(target), "http://127.0.0.1:%u/mud.json",
		 server.https_port);
	fetch(&loop, f, target, NULL, &o);
	assert_int_equal(policy_fetcher_active(f), 1);
	run_until(&loop, &o.calls, 1);
	assert_string_equal(o.error, "not an https URL");
	fetch(&loop, f, "ftp://127.0.0.1/mud.json", NULL, &o);
	run_until(&loop, &o.calls, 1);
	assert_string_equal(o.error, "not an https URL");
	url(target, sizeof(target), "/echo");
	fetch(&loop, f, target, "text/plain\r\nX-Injected: 1", &o);
	run_until(&loop, &o.calls, 1);
	assert_true(o.failed);
	assert_int_equal(policy_fetcher_active(f), 0);
	stop(&loop, f);
}

/* The silent port takes the connection and never answers the handshake. */
static void a_silent_server_times_out(void **state)
{
	uv_loop_t loop;
	char *cas[] = { server.ca };
	struct policy_fetcher *f = start(&loop, 500, 4096, cas, 1);
	struct outcome o;
	char target[128];
	snprintf(target, sizeof(target), "https://127.0.0.1:%u/mud.json",
		 server.silent_port);
	fetch(&loop, f, target, NULL, &o);
	run_until(&loop, &o.calls, 1);
	assert_string_equal(o.error, "timed out after 500 ms");
	assert_in_range(o.after_ms, 450, 3000);
	stop(&loop, f);
}

static void on_tick(uv_timer_t *t)
{
	(*(int *)t->data)++;
}

/* The server answers /pair only when two are in at once; meanwhile the
 * loop keeps running. */
static void fetches_run_side_by_side(void **state)
{
	uv_loop_t loop;
	struct policy_fetcher *f = start_trusting(&loop);
	int ticks = 0;
	uv_timer_t ticker;
	uv_timer_init(&loop, &ticker);
	ticker.data = &ticks;
	uv_timer_start(&ticker, on_tick, 50, 50);
	struct outcome a, b;
	char target[128];
	url(target, sizeof(target), "/pair");
	fetch(&loop, f, target, NULL, &a);
	fetch(&loop, f, target, NULL, &b);
	assert_int_equal(policy_fetcher_active(f), 2);
	run_until(&loop, &finished, 2);
	uv_close((uv_handle_t *)&ticker, NULL);
	assert_string_equal(a.body, "paired\n");
	assert_string_equal(b.body, "paired\n");
	assert_true(ticks >= 3);	/* the server's 0.3 s */
	stop(&loop, f);
}

/* Closed with transfers in flight: no callback, nothing leaks. */
static void closing_cancels_what_is_in_flight(void **state)
{
	uv_loop_t loop;
	struct policy_fetcher *f = start_trusting(&loop);
	struct outcome hung, refused;
	char target[128];
	url(target, sizeof(target), "/hang");
	fetch(&loop, f, target, NULL, &hung);
	fetch(&loop, f, "http://127.0.0.1/", NULL, &refused);
	run_for(&loop, 200);	/* the first gets as far as its request */
	assert_int_equal(refused.calls, 1);
	assert_int_equal(hung.calls, 0);
	stop(&loop, f);
	assert_int_equal(hung.calls, 0);
}

/* A callback closes the fetcher: what else was in flight is cancelled. */
struct closer {
	struct policy_fetcher *f;
	int calls;
};

static void close_from_callback(void *ctx, const struct policy_fetch_result *r)
{
	struct closer *c = ctx;
	c->calls++;
	finished++;
	uv_stop(running);
	policy_fetcher_close(c->f, on_freed, NULL);
}

/* The fetch at first_url ends first, and its callback closes the fetcher
 * while another fetch hangs. */
static void close_in_callback_of(const char *first_url)
{
	uv_loop_t loop;
	struct policy_fetcher *f = start_trusting(&loop);
	struct closer c = { .f = f };
	struct outcome hung;
	char target[128];
	url(target, sizeof(target), "/hang");
	fetch(&loop, f, target, NULL, &hung);
	assert_int_equal(policy_fetch(f, first_url, NULL, close_from_callback,
				      &c), 0);
	run_until(&loop, &freed, 1);
	assert_int_equal(c.calls, 1);
	assert_int_equal(hung.calls, 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void a_callback_may_close(void **state)
{
	char target[128];
	url(target, sizeof(target), "/mud.json");
	close_in_callback_of(target);		/* a transfer curl finished */
	close_in_callback_of("http://127.0.0.1/");	/* one refused */
}

static void bad_ca_files_are_reported(void **state)
{
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/none.pem", server.dir);
	char *cas[] = { server.ca, missing };
	struct policy_fetcher_conf c = { .ca_files = cas, .n_ca_files = 2,
					 .timeout_ms = 1000, .max_size = 1 };
	char err[256];
	assert_null(policy_fetcher_new(&loop, &c, err, sizeof(err)));
	assert_non_null(strstr(err, missing));
	cas[1] = server.key;		/* PEM, but no certificate */
	assert_null(policy_fetcher_new(&loop, &c, err, sizeof(err)));
	assert_non_null(strstr(err, "no PEM certificate"));
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_mud_file),
		cmocka_unit_test(a_post),
		cmocka_unit_test(accept_and_user_agent_are_sent),
		cmocka_unit_test(http_errors_and_redirects_fail),
		cmocka_unit_test(the_size_limit_holds),
		cmocka_unit_test(untrusted_servers_fail),
		cmocka_unit_test(only_https_is_fetched),
		cmocka_unit_test(a_silent_server_times_out),
		cmocka_unit_test(fetches_run_side_by_side),
		cmocka_unit_test(closing_cancels_what_is_in_flight),
		cmocka_unit_test(a_callback_may_close),
		cmocka_unit_test(bad_ca_files_are_reported),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
