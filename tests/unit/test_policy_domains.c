/*  anchord - unit tests of policy/domains.c: domain sets and blocklists. */
#include "test.h"

#include "policy/internal.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXACT POLICY_MATCH_EXACT
#define SUBTREE POLICY_MATCH_SUBTREE

/* "www.example.com" to wire format, as written (no case folding): the
 * tests build names the way the DNS layer hands them over. */
static const uint8_t *wire(const char *text, uint8_t out[256])
{
	size_t p = 0;
	while (*text && strcmp(text, ".") != 0) {
		const char *dot = strchr(text, '.');
		size_t n = dot ? (size_t)(dot - text) : strlen(text);
		out[p++] = (uint8_t)n;
		memcpy(out + p, text, n);
		p += n;
		text += n + (dot ? 1 : 0);
	}
	out[p] = 0;
	return out;
}

static bool match(const struct policy_domains *d, const char *text)
{
	uint8_t buf[256];
	return policy_domains_match(d, wire(text, buf));
}

static int add(struct policy_domains *d, const char *text,
	       enum policy_match how)
{
	uint8_t buf[256];
	return policy_domains_add(d, wire(text, buf), how);
}

/* Write text to a file of its own; the caller unlinks it. */
static void write_file(char *path, size_t cap, const char *text, size_t len)
{
	snprintf(path, cap, "/tmp/anchord-domains-%d-XXXXXX", (int)getpid());
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static int load_text(struct policy_domains *d, const char *text,
		     struct policy_load_report *r)
{
	char path[64], err[256];
	write_file(path, sizeof(path), text, strlen(text));
	int ret = policy_domains_load(d, path, r, err, sizeof(err));
	unlink(path);
	return ret;
}

/* ------------------------------------------------------------------ sets */

static void exact_and_subtree(void **state)
{
	struct policy_domains *d = policy_domains_new();
	assert_non_null(d);
	assert_false(match(d, "anything.example"));
	assert_int_equal(add(d, "ads.example.com", EXACT), 0);
	assert_int_equal(add(d, "tracker.net", SUBTREE), 0);
	assert_int_equal(policy_domains_count(d), 2);

	assert_true(match(d, "ads.example.com"));
	assert_false(match(d, "x.ads.example.com"));	/* exact: not below */
	assert_false(match(d, "example.com"));
	assert_false(match(d, "com"));
	assert_true(match(d, "tracker.net"));
	assert_true(match(d, "a.tracker.net"));
	assert_true(match(d, "b.a.tracker.net"));
	assert_false(match(d, "nottracker.net"));	/* labels, not bytes */
	assert_false(match(d, "tracker.net.evil"));
	assert_false(match(d, "net"));
	assert_false(match(d, "."));
	policy_domains_free(d);
	policy_domains_free(NULL);
}

static void ancestors(void **state)
{
	struct policy_domains *d = policy_domains_new();
	assert_int_equal(add(d, "c.d", SUBTREE), 0);
	assert_int_equal(add(d, "a.b.c.d", EXACT), 0);
	assert_int_equal(add(d, "x.y.z", EXACT), 0);
	assert_int_equal(add(d, "zz", SUBTREE), 0);
	/* An exact entry below a subtree changes nothing. */
	assert_true(match(d, "q.a.b.c.d"));
	assert_true(match(d, "b.c.d"));
	/* An exact ancestor does not cover its descendants. */
	assert_false(match(d, "w.x.y.z"));
	assert_false(match(d, "y.z"));
	/* A top-level subtree covers deep names. */
	assert_true(match(d, "1.2.3.4.5.6.7.8.9.10.zz"));
	assert_false(match(d, "zz.yy"));
	policy_domains_free(d);
}

static void exact_then_subtree(void **state)
{
	struct policy_domains *d = policy_domains_new();
	assert_int_equal(add(d, "example.com", EXACT), 0);
	assert_int_equal(add(d, "example.com", EXACT), 0);
	assert_int_equal(policy_domains_count(d), 1);
	assert_false(match(d, "www.example.com"));
	assert_int_equal(add(d, "example.com", SUBTREE), 0);
	assert_int_equal(policy_domains_count(d), 1);
	assert_true(match(d, "www.example.com"));
	/* And a later exact entry does not take the subtree back. */
	assert_int_equal(add(d, "example.com", EXACT), 0);
	assert_true(match(d, "www.example.com"));
	size_t memory = policy_domains_memory(d);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(add(d, "example.com", SUBTREE), 0);
	assert_int_equal(policy_domains_count(d), 1);
	assert_int_equal(policy_domains_memory(d), memory);
	policy_domains_free(d);
}

static void root(void **state)
{
	struct policy_domains *d = policy_domains_new();
	assert_int_equal(add(d, ".", EXACT), 0);
	assert_int_equal(policy_domains_count(d), 1);
	assert_true(match(d, "."));
	assert_false(match(d, "com"));
	assert_int_equal(add(d, ".", SUBTREE), 0);
	assert_int_equal(policy_domains_count(d), 1);
	assert_true(match(d, "com"));
	assert_true(match(d, "www.example.com"));
	policy_domains_free(d);

	d = policy_domains_new();
	assert_int_equal(policy_domains_add_text(d, ".", SUBTREE), 0);
	assert_true(match(d, "a.b"));
	policy_domains_free(d);
}

static void case_insensitive(void **state)
{
	struct policy_domains *d = policy_domains_new();
	assert_int_equal(policy_domains_add_text(d, "Ads.Example.COM",
						 EXACT), 0);
	assert_int_equal(add(d, "TRACK.Example.net", SUBTREE), 0);
	assert_true(match(d, "ads.example.com"));
	assert_true(match(d, "ADS.EXAMPLE.com"));
	assert_true(match(d, "track.example.net"));
	assert_true(match(d, "Www.TRACK.example.NET"));
	assert_int_equal(policy_domains_add_text(d, "ads.example.com.",
						 EXACT), 0);
	assert_int_equal(policy_domains_count(d), 2);
	policy_domains_free(d);
}

static void wildcard_form(void **state)
{
	struct policy_domains *d = policy_domains_new();
	/* "*.name" is the subtree, whatever how says, name included. */
	assert_int_equal(policy_domains_add_text(d, "*.example.org",
						 EXACT), 0);
	assert_true(match(d, "example.org"));
	assert_true(match(d, "www.example.org"));
	assert_false(match(d, "org"));
	assert_int_equal(policy_domains_add_text(d, "plain.example",
						 SUBTREE), 0);
	assert_true(match(d, "a.plain.example"));
	policy_domains_free(d);
}

static void invalid_names(void **state)
{
	static const char *const bad[] = {
		"", "*.", "*", "a..b", ".a", "a b", "x/y", "ex*ample.com",
		"*.*.example.com", "caf\xc3\xa9.fr", "a:b", "..",
		"||ads.example.com^", "example.com/path",
	};
	struct policy_domains *d = policy_domains_new();
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(policy_domains_add_text(d, bad[i],
							 EXACT), -1);

	char label[80];
	memset(label, 'a', 64);
	label[64] = '\0';
	assert_int_equal(policy_domains_add_text(d, label, EXACT), -1);
	label[63] = '\0';
	assert_int_equal(policy_domains_add_text(d, label, EXACT), 0);

	/* 253 characters (255 wire bytes) is the longest name. */
	char longest[300];
	memset(longest, 'a', 253);
	for (int i = 63; i < 253; i += 64)
		longest[i] = '.';
	longest[253] = '\0';
	assert_int_equal(policy_domains_add_text(d, longest, EXACT), 0);
	assert_true(match(d, longest));
	strcat(longest, ".");		/* the trailing dot costs nothing */
	assert_int_equal(policy_domains_add_text(d, longest, EXACT), 0);
	longest[253] = 'a';
	longest[254] = '\0';
	assert_int_equal(policy_domains_add_text(d, longest, EXACT), -1);

	assert_int_equal(policy_domains_add_text(
		d, "_dmarc.under_score-1.example", EXACT), 0);
	assert_int_equal(policy_domains_count(d), 3);

	/* Wire names that break RFC 1035 are refused, and never match. */
	uint8_t long_label[80] = { 64 };
	memset(long_label + 1, 'a', 64);
	long_label[65] = 0;
	assert_int_equal(policy_domains_add(d, long_label, EXACT), -1);
	assert_false(policy_domains_match(d, long_label));
	uint8_t too_long[300];
	for (int i = 0; i < 4; i++) {
		too_long[i * 64] = 63;
		memset(too_long + i * 64 + 1, 'b', 63);
	}
	too_long[256] = 0;		/* 257 bytes */
	assert_int_equal(policy_domains_add(d, too_long, EXACT), -1);
	assert_false(policy_domains_match(d, too_long));
	assert_int_equal(add(d, ".", SUBTREE), 0);	/* not even then */
	assert_false(policy_domains_match(d, too_long));
	assert_false(policy_domains_match(d, long_label));
	assert_true(match(d, "anything.example"));
	policy_domains_free(d);
}

/* ------------------------------------------------------------------ lists */

static void plain_format(void **state)
{
	struct policy_domains *d = policy_domains_new();
	struct policy_load_report r;
	const char *text =
		"# a blocklist\r\n"
		"\r\n"
		"ads.example.com\r\n"
		"   tracker.example.net.   # trailing comment\r\n"
		"*.wild.example\n"
		"\t\n"
		"#only a comment\n"
		"||adblock.syntax^\n"		/* line 8: the first bad one */
		"Mixed.Case.Example\n"
		"two names.example\n"
		"bad..label\n"
		"localhost\n"			/* never blocked */
		".\n"				/* nor everything */
		"last.example";			/* no final newline */
	assert_int_equal(load_text(d, text, &r), 0);
	assert_int_equal(r.lines, 14);
	assert_int_equal(r.added, 5);
	assert_int_equal(r.skipped, 4);
	assert_int_equal(r.first_bad_line, 8);
	assert_string_equal(r.first_bad,
			    "\"||adblock.syntax^\": bad character '|'");
	assert_int_equal(policy_domains_count(d), 5);

	assert_true(match(d, "ads.example.com"));
	assert_true(match(d, "x.ads.example.com"));	/* plain = subtree */
	assert_true(match(d, "deep.tracker.example.net"));
	assert_true(match(d, "wild.example"));
	assert_true(match(d, "a.wild.example"));
	assert_true(match(d, "mixed.case.example"));
	assert_true(match(d, "last.example"));
	assert_false(match(d, "localhost"));
	assert_false(match(d, "example.com"));
	assert_false(match(d, "names.example"));
	policy_domains_free(d);
}

static void hosts_format(void **state)
{
	struct policy_domains *d = policy_domains_new();
	struct policy_load_report r;
	const char *text =
		"# StevenBlack-style hosts file\r\n"
		"127.0.0.1 localhost\r\n"
		"127.0.0.1 localhost.localdomain\r\n"
		"127.0.0.1 local\r\n"
		"255.255.255.255 broadcasthost\r\n"
		"::1 localhost ip6-localhost ip6-loopback\r\n"
		"fe80::1%lo0 localhost\r\n"
		"ff00::0 ip6-localnet\r\n"
		"ff02::1 ip6-allnodes\r\n"
		"0.0.0.0 0.0.0.0\r\n"
		"\r\n"
		"0.0.0.0 ads.example.com\r\n"
		"0.0.0.0\tone.example two.example\tthree.example # three\r\n"
		"0.0.0.0 good.example bad/name.example\r\n"	/* line 14 */
		"0.0.0.0\r\n"
		"127.0.0.1 *.wild.example\r\n"
		":: v6.example\r\n";
	assert_int_equal(load_text(d, text, &r), 0);
	assert_int_equal(r.lines, 17);
	assert_int_equal(r.added, 6);
	assert_int_equal(r.skipped, 2);
	assert_int_equal(r.first_bad_line, 14);
	assert_string_equal(r.first_bad,
			    "\"bad/name.example\": bad character '/'");
	assert_int_equal(policy_domains_count(d), 6);

	assert_true(match(d, "ads.example.com"));
	assert_false(match(d, "www.ads.example.com"));	/* hosts = exact */
	assert_true(match(d, "one.example"));
	assert_true(match(d, "two.example"));
	assert_true(match(d, "three.example"));
	assert_false(match(d, "good.example"));		/* its line was bad */
	assert_true(match(d, "x.wild.example"));
	assert_true(match(d, "v6.example"));
	assert_false(match(d, "localhost"));
	assert_false(match(d, "ip6-allnodes"));
	assert_false(match(d, "0.0.0.0"));
	policy_domains_free(d);
}

static void report_reasons(void **state)
{
	static const struct {
		const char *line, *why;
	} cases[] = {
		{ "0.0.0.0\n", "an address without a name" },
		{ "a.example b.example\n", "\"a.example\": not an address" },
		{ "a..example\n", "\"a..example\": empty label" },
		{ ".\n", "the root: it would match every name" },
		{ "0.0.0.0 .\n", "the root: it would match every name" },
		{ "caf\xc3\xa9.example\n", "\"caf??.example\": bad byte 0xc3" },
		{ "a\x01.example\n", "\"a?.example\": bad byte 0x01" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct policy_domains *d = policy_domains_new();
		struct policy_load_report r;
		assert_int_equal(policy_domains_load_buffer(
			d, cases[i].line, strlen(cases[i].line), &r), 0);
		assert_int_equal(r.skipped, 1);
		assert_int_equal(r.first_bad_line, 1);
		assert_string_equal(r.first_bad, cases[i].why);
		assert_int_equal(policy_domains_count(d), 0);
		policy_domains_free(d);
	}
}

static void long_lines(void **state)
{
	size_t size = 3 * POLICY_LINE_MAX;
	char *text = malloc(size + 64);
	assert_non_null(text);
	size_t p = 0;
	p += (size_t)sprintf(text + p, "first.example\n");
	memset(text + p, ' ', POLICY_LINE_MAX + 1);	/* line 2: too long */
	memcpy(text + p + 10, "hidden.example", 14);
	p += POLICY_LINE_MAX + 1;
	text[p++] = '\n';
	memset(text + p, ' ', POLICY_LINE_MAX - 12);	/* line 3: just fits */
	p += POLICY_LINE_MAX - 12;
	p += (size_t)sprintf(text + p, "edge.example\n");
	text[p] = '\0';

	struct policy_domains *d = policy_domains_new();
	struct policy_load_report r;
	assert_int_equal(policy_domains_load_buffer(d, text, p, &r), 0);
	assert_int_equal(r.lines, 3);
	assert_int_equal(r.skipped, 1);
	assert_int_equal(r.first_bad_line, 2);
	assert_string_equal(r.first_bad, "longer than 4096 bytes");
	assert_true(match(d, "first.example"));
	assert_true(match(d, "edge.example"));
	assert_false(match(d, "hidden.example"));

	/* Through a file too, where the long line spans reads. */
	policy_domains_free(d);
	d = policy_domains_new();
	assert_int_equal(load_text(d, text, &r), 0);
	assert_int_equal(r.skipped, 1);
	assert_int_equal(policy_domains_count(d), 2);
	policy_domains_free(d);
	free(text);
}

static void empty_input(void **state)
{
	struct policy_domains *d = policy_domains_new();
	struct policy_load_report r;
	assert_int_equal(policy_domains_load_buffer(d, "", 0, &r), 0);
	assert_int_equal(r.lines, 0);
	assert_int_equal(r.first_bad_line, 0);
	assert_int_equal(load_text(d, "\n\n# nothing\n", &r), 0);
	assert_int_equal(r.lines, 3);
	assert_int_equal(r.added, 0);
	assert_int_equal(r.skipped, 0);
	assert_int_equal(policy_domains_count(d), 0);
	/* A NUL byte is a bad byte, not the end of the text. */
	static const char with_nul[] = "a\0b.example\nc.example";
	assert_int_equal(policy_domains_load_buffer(d, with_nul,
						    sizeof(with_nul) - 1, &r),
			 0);
	assert_int_equal(r.skipped, 1);
	assert_string_equal(r.first_bad, "\"a?b.example\": bad byte 0x00");
	assert_true(match(d, "c.example"));
	policy_domains_free(d);
}

static void unreadable_file(void **state)
{
	struct policy_domains *d = policy_domains_new();
	struct policy_load_report r;
	char err[256];
	assert_int_equal(policy_domains_load(d, "/nonexistent/anchord/list",
					     &r, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/anchord/list: "
				 "No such file or directory");
	assert_int_equal(policy_domains_load(d, "/tmp", &r, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "/tmp: Is a directory");
	/* The report is optional. */
	char path[64];
	write_file(path, sizeof(path), "x.example\n", 10);
	assert_int_equal(policy_domains_load(d, path, NULL, err, sizeof(err)),
			 0);
	if (geteuid() != 0) {		/* root reads whatever the mode */
		chmod(path, 0);
		assert_int_equal(policy_domains_load(d, path, &r, err,
						     sizeof(err)), -1);
		assert_non_null(strstr(err, ": Permission denied"));
	}
	unlink(path);
	assert_true(match(d, "x.example"));
	policy_domains_free(d);
}

/* ------------------------------------------------------------------ many */

#define MANY 100000

/* A random name of 2 to 4 labels of 3 to 12 letters. Letters only: the
 * near misses below put a digit in. */
static void random_name(char *out)
{
	int labels = 2 + (int)randombytes_uniform(3);
	char *p = out;
	for (int l = 0; l < labels; l++) {
		int len = 3 + (int)randombytes_uniform(10);
		for (int i = 0; i < len; i++)
			*p++ = (char)('a' + randombytes_uniform(26));
		*p++ = '.';
	}
	p[-1] = '\0';
}

static void many_random_names(void **state)
{
	char (*names)[64] = malloc(MANY * sizeof(*names));
	assert_non_null(names);
	struct policy_domains *d = policy_domains_new();
	for (size_t i = 0; i < MANY; i++) {
		random_name(names[i]);
		/* Half exact, half subtrees: even i are subtrees. */
		assert_int_equal(policy_domains_add_text(
			d, names[i], i % 2 ? EXACT
					   : SUBTREE), 0);
	}
	/* Random names of ≥ 3 letters per label: a duplicate is as likely as
	 * a lottery win. */
	assert_int_equal(policy_domains_count(d), MANY);
	size_t memory = policy_domains_memory(d);
	print_message("%d names: %zu bytes, %.1f per name\n", MANY, memory,
		      (double)memory / MANY);
	assert_true(memory < (size_t)MANY * 64);

	char probe[80];
	for (size_t i = 0; i < MANY; i++) {
		assert_true(match(d, names[i]));
		snprintf(probe, sizeof(probe), "www.%s", names[i]);
		assert_true(match(d, probe) == (i % 2 == 0));
		/* Near misses: one letter changed, one added, a label less. */
		strcpy(probe, names[i]);
		probe[0] = '0';
		assert_false(match(d, probe));
		snprintf(probe, sizeof(probe), "%sx", names[i]);
		assert_false(match(d, probe));
		assert_false(match(d, strchr(names[i], '.') + 1));
	}
	policy_domains_free(d);
	free(names);
}

/* A built set is only read: any number of threads may look up at once. */
#define READERS 4
#define SHARED_NAMES 10000

struct reader {
	const struct policy_domains *d;
	char (*names)[64];
	size_t found, wrong;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	char probe[80];
	for (size_t i = 0; i < SHARED_NAMES; i++) {
		r->found += match(r->d, r->names[i]);
		snprintf(probe, sizeof(probe), "%s0", r->names[i]);
		r->wrong += match(r->d, probe);
	}
	return NULL;
}

static void concurrent_readers(void **state)
{
	char (*names)[64] = malloc(SHARED_NAMES * sizeof(*names));
	assert_non_null(names);
	struct policy_domains *d = policy_domains_new();
	for (size_t i = 0; i < SHARED_NAMES; i++) {
		random_name(names[i]);
		assert_int_equal(policy_domains_add_text(d, names[i], EXACT), 0);
	}
	pthread_t threads[READERS];
	struct reader readers[READERS];
	for (int t = 0; t < READERS; t++) {
		readers[t] = (struct reader){ .d = d, .names = names };
		assert_int_equal(pthread_create(&threads[t], NULL, read_all,
						&readers[t]), 0);
	}
	for (int t = 0; t < READERS; t++) {
		assert_int_equal(pthread_join(threads[t], NULL), 0);
		assert_int_equal(readers[t].found, SHARED_NAMES);
		assert_int_equal(readers[t].wrong, 0);
	}
	policy_domains_free(d);
	free(names);
}

static int setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	util_hash_init();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exact_and_subtree),
		cmocka_unit_test(ancestors),
		cmocka_unit_test(exact_then_subtree),
		cmocka_unit_test(root),
		cmocka_unit_test(case_insensitive),
		cmocka_unit_test(wildcard_form),
		cmocka_unit_test(invalid_names),
		cmocka_unit_test(plain_format),
		cmocka_unit_test(hosts_format),
		cmocka_unit_test(report_reasons),
		cmocka_unit_test(long_lines),
		cmocka_unit_test(empty_input),
		cmocka_unit_test(unreadable_file),
		cmocka_unit_test(many_random_names),
		cmocka_unit_test(concurrent_readers),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
