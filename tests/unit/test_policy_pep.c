/*  anchord - unit tests of the PEP export: facts end up in nftables sets
 *  with the right timeouts, and as JSON events.
 *
 *  The tests write to nftables for real, so they move the whole process
 *  into a network namespace of its own first (unshare(CLONE_NEWNET), which
 *  needs root): the host's ruleset is never touched, and what they find
 *  there with `nft -j list set` is theirs alone. Without root, or without
 *  the nft command, they fail instead of skipping: CI runs them as root.
 */
#include "test.h"

#include "policy/policy.h"

#include <errno.h>
#include <jansson.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TABLE "anchord_test"

/* ------------------------------------------------------------------ helpers */

static struct policy_pep_fact fact(const char *device, const char *address,
				   uint32_t ttl, const char *name)
{
	struct policy_pep_fact f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(util_addr_parse(device, 0, &f.device), 0);
	assert_int_equal(util_addr_parse(address, 0, &f.address), 0);
	f.ttl = ttl;
	snprintf(f.name, sizeof(f.name), "%s", name);
	return f;
}

static struct policy_pep *start(bool nftables, uint32_t min, uint32_t max,
				uint32_t queue_size)
{
	struct policy_pep_conf conf = { .nftables = nftables,
					.family = "inet",
					.table = TABLE,
					.min_timeout = min,
					.max_timeout = max,
					.queue_size = queue_size };
	char err[256] = "";
	struct policy_pep *p = policy_pep_new(&conf, err, sizeof(err));
	if (!p)
		fail_msg("policy_pep_new: %s", err);
	return p;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&t, NULL);
}

/* Wait until every fact offered is accounted for. */
static struct policy_pep_stats drained(struct policy_pep *p)
{
	struct policy_pep_stats s;
	for (int i = 0; i < 3000; i++) {
		policy_pep_stats(p, &s);
		if (s.facts == s.written + s.dropped + s.failed)
			return s;
		sleep_ms(10);
	}
	fail_msg("not drained: facts %llu written %llu dropped %llu failed "
		 "%llu", (unsigned long long)s.facts,
		 (unsigned long long)s.written, (unsigned long long)s.dropped,
		 (unsigned long long)s.failed);
	return s;
}

static void run(const char *command)
{
	int rc = system(command);
	if (rc != 0)
		fail_msg("%s: exit status %d", command, rc);
}

/* The set as `nft -j list set` shows it, or NULL when it does not exist. */
static json_t *nft_set(const char *set)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "nft -j list set inet " TABLE " %s "
		 "2>/dev/null", set);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	json_error_t err;
	json_t *out = json_loadf(f, 0, &err);
	int status = pclose(f);
	if (status != 0) {
		json_decref(out);
		return NULL;
	}
	if (!out)
		fail_msg("nft -j: not JSON: %s", err.text);
	json_t *item;
	size_t i;
	json_array_foreach(json_object_get(out, "nftables"), i, item) {
		json_t *s = json_object_get(item, "set");
		if (s) {
			json_incref(s);
			json_decref(out);
			return s;
		}
	}
	json_decref(out);
	return NULL;
}

struct element {
	bool found;
	json_int_t timeout, expires;
};

/* An element of the set; elements with a timeout are objects
 * {"elem": {"val": ..., "timeout": ..., "expires": ...}}. */
static struct element nft_element(const char *set, const char *address)
{
	struct element e = { 0 };
	json_t *s = nft_set(set);
	if (!s)
		fail_msg("set %s does not exist", set);
	json_t *item;
	size_t i;
	json_array_foreach(json_object_get(s, "elem"), i, item) {
		json_t *elem = json_object_get(item, "elem");
		const char *val = json_string_value(json_object_get(elem, "val"));
		if (val && strcmp(val, address) == 0) {
			e.found = true;
			e.timeout = json_integer_value(json_object_get(elem,
								       "timeout"));
			e.expires = json_integer_value(json_object_get(elem,
								       "expires"));
		}
	}
	json_decref(s);
	return e;
}

static size_t nft_element_count(const char *set)
{
	json_t *s = nft_set(set);
	assert_non_null(s);
	size_t n = json_array_size(json_object_get(s, "elem"));
	json_decref(s);
	return n;
}

static void assert_element(const char *set, const char *address,
			   json_int_t timeout)
{
	struct element e = nft_element(set, address);
	if (!e.found)
		fail_msg("%s not in set %s", address, set);
	assert_int_equal(e.timeout, timeout);
	assert_true(e.expires <= timeout && e.expires >= timeout - 5);
}

static int fresh_table(void **state)
{
	(void)state;
	/* Ours alone: the process has a network namespace of its own. */
	int rc = system("nft delete table inet " TABLE " 2>/dev/null");
	(void)rc;
	return 0;
}

/* ------------------------------------------------------------------ set names */

static const char *set_name(const char *device, int family)
{
	static char out[POLICY_PEP_SET_NAME_MAX];
	struct util_addr a;
	assert_int_equal(util_addr_parse(device, 53, &a), 0);
	policy_pep_set_name(&a, family, out, sizeof(out));
	return out;
}

static void set_names(void **state)
{
	assert_string_equal(set_name("10.20.0.5", 4), "mud4_10_20_0_5");
	assert_string_equal(set_name("10.20.0.5", 6), "mud6_10_20_0_5");
	assert_string_equal(set_name("fd00::5", 6), "mud6_fd00__5");
	assert_string_equal(set_name("fd00:ab8:1:2:3:4:5:6", 4),
			    "mud4_fd00_ab8_1_2_3_4_5_6");
	/* A dual-stack socket's view of an IPv4 device. */
	assert_string_equal(set_name("::ffff:10.20.0.7", 4), "mud4_10_20_0_7");
	assert_string_equal(set_name("10.20.0.5", 5), "");

	struct util_addr a;
	char small[8] = "x";
	assert_int_equal(util_addr_parse("10.20.0.5", 0, &a), 0);
	policy_pep_set_name(&a, 4, small, sizeof(small));
	assert_string_equal(small, "");
}

/* ------------------------------------------------------------------ configuration */

static void bad_configuration(void **state)
{
	char err[256];
	struct policy_pep_conf conf = { .nftables = true, .family = "ipx" };
	assert_null(policy_pep_new(&conf, err, sizeof(err)));
	assert_non_null(strstr(err, "ipx"));

	conf = (struct policy_pep_conf){ .nftables = true,
					 .table = "t; flush ruleset" };
	assert_null(policy_pep_new(&conf, err, sizeof(err)));
	assert_non_null(strstr(err, "table"));

	conf = (struct policy_pep_conf){ .min_timeout = 600,
					 .max_timeout = 60 };
	assert_null(policy_pep_new(&conf, err, sizeof(err)));
	assert_non_null(strstr(err, "max-timeout"));
}

/* Without CAP_NET_ADMIN nftables says no, and policy_pep_new says so at
 * once, with nftables' reason. In a child, which drops the capability. */
static void drop_net_admin(void)
{
	struct __user_cap_header_struct head = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &head, data) != 0)
		_exit(2);
	data[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
	if (syscall(SYS_capset, &head, data) != 0)
		_exit(2);
}

static void nftables_unreachable(void **state)
{
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		drop_net_admin();
		struct policy_pep_conf conf = { .nftables = true,
						.table = TABLE "_denied" };
		char err[256] = "";
		struct policy_pep *p = policy_pep_new(&conf, err, sizeof(err));
		ssize_t n = write(pipefd[1], err, strlen(err));
		(void)n;
		_exit(p ? 1 : 0);
	}
	close(pipefd[1]);
	char err[256] = "";
	ssize_t n = read(pipefd[0], err, sizeof(err) - 1);
	close(pipefd[0]);
	err[n > 0 ? n : 0] = '\0';
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("policy_pep_new without CAP_NET_ADMIN: exit %d (%s)",
			 WEXITSTATUS(status), err);
	if (!strstr(err, "nftables: ") || !strstr(err, "not permitted"))
		fail_msg("unexpected reason: %s", err);
}

/* ------------------------------------------------------------------ sets */

static void facts_reach_the_sets(void **state)
{
	struct policy_pep *p = start(true, 60, 86400, 0);
	struct policy_pep_fact f[] = {
		fact("10.20.0.5", "127.0.0.9", 300, "telemetry.example."),
		fact("10.20.0.5", "fd00:ab8::9", 600, "telemetry.example."),
		fact("fd00::5", "127.0.9.1", 900, "update.example."),
		fact("::ffff:10.20.0.7", "127.0.9.2", 1200, "a.example."),
		fact("10.20.0.5", "::ffff:127.0.9.3", 1500, "b.example."),
	};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		assert_true(policy_pep_add(p, &f[i]));
	struct policy_pep_stats s = drained(p);
	assert_int_equal(s.facts, ARRAY_SIZE(f));
	assert_int_equal(s.written, ARRAY_SIZE(f));
	assert_int_equal(s.errors, 0);

	assert_element("mud4_10_20_0_5", "127.0.0.9", 300);
	assert_element("mud6_10_20_0_5", "fd00:ab8::9", 600);
	assert_element("mud4_fd00__5", "127.0.9.1", 900);
	assert_element("mud4_10_20_0_7", "127.0.9.2", 1200);
	assert_element("mud4_10_20_0_5", "127.0.9.3", 1500);
	/* Sets come only when a device needs them. */
	assert_null(nft_set("mud6_fd00__5"));
	json_t *v6 = nft_set("mud6_10_20_0_5");
	assert_string_equal(json_string_value(json_object_get(v6, "type")),
			    "ipv6_addr");
	json_decref(v6);
	policy_pep_free(p);
}

static void ttls_are_clamped(void **state)
{
	struct policy_pep *p = start(true, 120, 3600, 0);
	struct policy_pep_fact f[] = {
		fact("10.20.0.6", "127.0.0.1", 5, "short.example."),
		fact("10.20.0.6", "127.0.0.2", 0, "zero.example."),
		fact("10.20.0.6", "127.0.0.3", 1000000, "long.example."),
		fact("10.20.0.6", "127.0.0.4", 700, "fine.example."),
	};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		assert_true(policy_pep_add(p, &f[i]));
	drained(p);
	assert_element("mud4_10_20_0_6", "127.0.0.1", 120);
	assert_element("mud4_10_20_0_6", "127.0.0.2", 120);
	assert_element("mud4_10_20_0_6", "127.0.0.3", 3600);
	assert_element("mud4_10_20_0_6", "127.0.0.4", 700);
	policy_pep_free(p);
}

static void add_and_wait(struct policy_pep *p, struct policy_pep_fact f)
{
	assert_true(policy_pep_add(p, &f));
	drained(p);
}

/* A later answer restarts the clock; a shorter one does not cut it. */
static void repeated_facts_extend(void **state)
{
	struct policy_pep *p = start(true, 60, 86400, 0);
	add_and_wait(p, fact("10.20.0.8", "127.0.0.9", 100, "a.example."));
	assert_element("mud4_10_20_0_8", "127.0.0.9", 100);
	sleep_ms(3000);
	struct element before = nft_element("mud4_10_20_0_8", "127.0.0.9");
	assert_true(before.expires <= 97);

	add_and_wait(p, fact("10.20.0.8", "127.0.0.9", 100, "a.example."));
	struct element after = nft_element("mud4_10_20_0_8", "127.0.0.9");
	assert_true(after.expires >= 98);

	add_and_wait(p, fact("10.20.0.8", "127.0.0.9", 1000, "b.example."));
	assert_element("mud4_10_20_0_8", "127.0.0.9", 1000);
	add_and_wait(p, fact("10.20.0.8", "127.0.0.9", 100, "a.example."));
	assert_element("mud4_10_20_0_8", "127.0.0.9", 1000);

	struct policy_pep_stats s = drained(p);
	assert_int_equal(s.written, 4);
	assert_int_equal(s.errors, 0);
	policy_pep_free(p);
}

/* Someone deletes the table under the exporter: the next write fails, the
 * exporter makes table and set again and writes once more. */
static void vanished_table_is_recreated(void **state)
{
	struct policy_pep *p = start(true, 60, 86400, 0);
	add_and_wait(p, fact("10.20.0.9", "127.0.0.1", 300, "a.example."));
	run("nft delete table inet " TABLE);
	add_and_wait(p, fact("10.20.0.9", "127.0.0.2", 300, "b.example."));
	struct policy_pep_stats s = drained(p);
	assert_int_equal(s.written, 2);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.errors, 1);
	assert_element("mud4_10_20_0_9", "127.0.0.2", 300);

	run("nft delete set inet " TABLE " mud4_10_20_0_9");
	add_and_wait(p, fact("10.20.0.9", "127.0.0.3", 300, "c.example."));
	/* What the set held went with it: a shorter answer writes it again,
	 * for as long as the device was first told. */
	add_and_wait(p, fact("10.20.0.9", "127.0.0.2", 60, "b.example."));
	s = drained(p);
	assert_int_equal(s.written, 4);
	assert_int_equal(s.errors, 2);
	assert_element("mud4_10_20_0_9", "127.0.0.3", 300);
	struct element e = nft_element("mud4_10_20_0_9", "127.0.0.2");
	assert_true(e.found);
	assert_in_range(e.timeout, 290, 300);
	policy_pep_free(p);
}

/* Freeing writes out what is still queued. */
static void free_drains_the_queue(void **state)
{
	struct policy_pep *p = start(true, 60, 86400, 0);
	for (int i = 0; i < 500; i++) {
		char address[32];
		snprintf(address, sizeof(address), "127.0.%d.%d", i / 250,
			 i % 250 + 1);
		struct policy_pep_fact f = fact("10.20.0.10", address, 300,
						"many.example.");
		assert_true(policy_pep_add(p, &f));
	}
	policy_pep_free(p);
	assert_int_equal(nft_element_count("mud4_10_20_0_10"), 500);
}

/* ------------------------------------------------------------------ listener */

struct heard {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	json_t *lines;			/* array of parsed lines */
	bool hold;			/* block in the listener until false */
	bool holding;
};

static void hear(void *ctx, const char *line)
{
	struct heard *h = ctx;
	json_error_t err;
	json_t *j = json_loads(line, 0, &err);
	pthread_mutex_lock(&h->lock);
	json_array_append_new(h->lines, j ? j : json_string(line));
	h->holding = h->hold;
	pthread_cond_broadcast(&h->changed);
	while (h->hold)
		pthread_cond_wait(&h->changed, &h->lock);
	h->holding = false;
	pthread_mutex_unlock(&h->lock);
}

static void heard_init(struct heard *h)
{
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->changed, NULL);
	h->lines = json_array();
	h->hold = h->holding = false;
}

static void heard_free(struct heard *h)
{
	json_decref(h->lines);
	pthread_cond_destroy(&h->changed);
	pthread_mutex_destroy(&h->lock);
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void listener_gets_json_lines(void **state)
{
	struct heard h;
	heard_init(&h);
	struct policy_pep *p = start(true, 60, 86400, 0);
	policy_pep_set_listener(p, hear, &h);

	struct policy_pep_fact f = fact("10.20.0.5", "127.0.0.9", 30,
					"telemetry.example.");
	snprintf(f.device_name, sizeof(f.device_name), "thermostat \"7\"");
	add_and_wait(p, f);
	f = fact("10.20.0.5", "fd00:ab8::9", 600, "bad\xff" "byte.example.");
	add_and_wait(p, f);

	assert_int_equal(json_array_size(h.lines), 2);
	json_t *a = json_array_get(h.lines, 0);
	assert_true(json_is_object(a));
	assert_string_equal(str(a, "event"), "pep");
	assert_string_equal(str(a, "device"), "10.20.0.5");
	assert_string_equal(str(a, "device_name"), "thermostat \"7\"");
	assert_string_equal(str(a, "address"), "127.0.0.9");
	assert_int_equal(num(a, "family"), 4);
	assert_int_equal(num(a, "ttl"), 30);
	assert_int_equal(num(a, "timeout"), 60);
	assert_string_equal(str(a, "name"), "telemetry.example.");
	assert_string_equal(str(a, "set"), "mud4_10_20_0_5");

	json_t *b = json_array_get(h.lines, 1);
	assert_true(json_is_object(b));
	assert_string_equal(str(b, "device_name"), "");
	assert_int_equal(num(b, "family"), 6);
	assert_string_equal(str(b, "set"), "mud6_10_20_0_5");
	/* Not UTF-8: the line is still JSON, the byte a '?'. */
	assert_string_equal(str(b, "name"), "bad?byte.example.");

	/* Cleared means cleared. */
	policy_pep_set_listener(p, NULL, NULL);
	add_and_wait(p, fact("10.20.0.5", "127.0.0.10", 30, "c.example."));
	assert_int_equal(json_array_size(h.lines), 2);
	policy_pep_free(p);
	heard_free(&h);
}

/* Without nftables the events still flow, without a set. */
static void events_without_nftables(void **state)
{
	struct heard h;
	heard_init(&h);
	struct policy_pep *p = start(false, 0, 0, 0);
	policy_pep_set_listener(p, hear, &h);
	add_and_wait(p, fact("10.20.0.11", "127.0.0.9", 5, "a.example."));
	assert_int_equal(json_array_size(h.lines), 1);
	json_t *a = json_array_get(h.lines, 0);
	assert_null(json_object_get(a, "set"));
	assert_int_equal(num(a, "timeout"), 60);	/* the default floor */
	policy_pep_free(p);
	heard_free(&h);
	assert_null(nft_set("mud4_10_20_0_11"));
}

/* ------------------------------------------------------------------ queue */

/* A listener that blocks holds the thread, so the queue fills for sure:
 * the facts beyond its size are dropped, counted, and the rest written. */
static void full_queue_drops_and_counts(void **state)
{
	struct heard h;
	heard_init(&h);
	h.hold = true;
	struct policy_pep *p = start(false, 0, 0, 8);
	policy_pep_set_listener(p, hear, &h);
	struct policy_pep_fact f = fact("10.20.0.12", "127.0.0.9", 60, "x.");
	assert_true(policy_pep_add(p, &f));

	pthread_mutex_lock(&h.lock);
	while (!h.holding)
		pthread_cond_wait(&h.changed, &h.lock);
	pthread_mutex_unlock(&h.lock);
	/* The thread is stuck in the listener and the queue is empty. */
	for (int i = 0; i < 8; i++)
		assert_true(policy_pep_add(p, &f));
	for (int i = 0; i < 5; i++)
		assert_false(policy_pep_add(p, &f));

	pthread_mutex_lock(&h.lock);
	h.hold = false;
	pthread_cond_broadcast(&h.changed);
	pthread_mutex_unlock(&h.lock);
	struct policy_pep_stats s = drained(p);
	assert_int_equal(s.facts, 14);
	assert_int_equal(s.dropped, 5);
	assert_int_equal(s.written, 9);
	assert_int_equal(s.failed, 0);
	assert_int_equal(json_array_size(h.lines), 9);
	policy_pep_free(p);
	heard_free(&h);
}

struct producer {
	struct policy_pep *p;
	int base, n;
	int queued;
};

static void *produce(void *arg)
{
	struct producer *pr = arg;
	for (int i = 0; i < pr->n; i++) {
		struct policy_pep_fact f;
		memset(&f, 0, sizeof(f));
		util_addr_parse("10.20.0.13", 0, &f.device);
		char address[32];
		int k = pr->base + i;
		snprintf(address, sizeof(address), "10.%d.%d.%d", k >> 16,
			 (k >> 8) & 255, k & 255);
		util_addr_parse(address, 0, &f.address);
		f.ttl = 60;
		pr->queued += policy_pep_add(pr->p, &f);
	}
	return NULL;
}

/* Two threads offer 100 000 facts as fast as they can; each one is either
 * written or dropped, none lost. */
static void many_producers_lose_nothing(void **state)
{
	struct policy_pep *p = start(false, 0, 0, 0);
	struct producer pr[2] = { { p, 0, 50000, 0 }, { p, 50000, 50000, 0 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, produce, &pr[i]),
				 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	struct policy_pep_stats s = drained(p);
	assert_int_equal(s.facts, 100000);
	assert_int_equal(s.written + s.dropped, 100000);
	assert_int_equal(s.written, pr[0].queued + pr[1].queued);
	assert_int_equal(s.failed, 0);
	policy_pep_free(p);
}

/* ------------------------------------------------------------------ main */

/* Fail loudly rather than skip: a skipped test looks like a passed one. */
static void enter_own_network_namespace(void)
{
	if (unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "test_policy_pep: unshare(CLONE_NEWNET): %s; "
			"these tests write nftables sets and need root (to "
			"get a network namespace of their own)\n",
			strerror(errno));
		exit(1);
	}
	if (system("nft --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_policy_pep: the nft command is missing "
			"(Debian: nftables)\n");
		exit(1);
	}
}

int main(void)
{
	enter_own_network_namespace();
	if (sodium_init() < 0)
		return 1;
	util_hash_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_names),
		cmocka_unit_test(bad_configuration),
		cmocka_unit_test_setup(nftables_unreachable, fresh_table),
		cmocka_unit_test_setup(facts_reach_the_sets, fresh_table),
		cmocka_unit_test_setup(ttls_are_clamped, fresh_table),
		cmocka_unit_test_setup(repeated_facts_extend, fresh_table),
		cmocka_unit_test_setup(vanished_table_is_recreated,
				       fresh_table),
		cmocka_unit_test_setup(free_drains_the_queue, fresh_table),
		cmocka_unit_test_setup(listener_gets_json_lines, fresh_table),
		cmocka_unit_test_setup(events_without_nftables, fresh_table),
		cmocka_unit_test(full_queue_drops_and_counts),
		cmocka_unit_test(many_producers_lose_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
