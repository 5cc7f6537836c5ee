/*  anchord - unit tests of dns/trust.c: trust anchor files and lookups. */
#include "test.h"

#include "dns/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char path[64];
static char err[512];

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct dns_trust *build(char **files, size_t n, char **negative,
			       size_t n_negative)
{
	struct dns_dnssec_conf c = { .validation = true,
				     .trust_anchors = files,
				     .n_trust_anchors = n,
				     .negative = negative,
				     .n_negative = n_negative };
	return dns_trust_build(&c, err, sizeof(err));
}

static const struct val_anchor *find(const struct dns_trust *t,
				     const char *name)
{
	ldns_rdf *d = ldns_dname_new_frm_str(name);
	const struct val_anchor *a = dns_trust_find(t, d);
	ldns_rdf_deep_free(d);
	return a;
}

static bool named(const struct val_anchor *a, const char *name)
{
	ldns_rdf *d = ldns_dname_new_frm_str(name);
	bool same = a && ldns_dname_compare(a->name, d) == 0;
	ldns_rdf_deep_free(d);
	return same;
}

static int setup(void **state)
{
	snprintf(path, sizeof(path), "/tmp/anchord-ta-%d", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

static void shipped_root_key(void **state)
{
	const char *top = getenv("ANCHORD_SRCDIR");
	char root[512];
	snprintf(root, sizeof(root), "%s/etc/root.key", top ? top : ".");
	char *files[] = { root };
	struct dns_trust *t = build(files, 1, NULL, 0);
	if (!t)
		fail_msg("%s", err);
	const struct val_anchor *a = find(t, "www.example.com.");
	assert_true(named(a, "."));
	assert_int_equal(ldns_rr_list_rr_count(a->ds), 2);
	const ldns_rr *ds = ldns_rr_list_rr(a->ds, 0);
	assert_int_equal(ldns_rdf2native_int16(ldns_rr_rdf(ds, 0)), 20326);
	assert_int_equal(ldns_rdf2native_int8(ldns_rr_rdf(ds, 1)), 8);
	assert_int_equal(ldns_rdf2native_int8(ldns_rr_rdf(ds, 2)), 2);
	dns_trust_free(t);
}

static void islands_and_negative_anchors(void **state)
{
	write_file("; anchors of the test\n"
		   "$ORIGIN corp.test.\n"
		   "@ 3600 IN DS 12345 13 2 "
		   "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\n"
		   "island.broken 3600 IN DNSKEY 257 3 15 "
		   "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=\n");
	char *files[] = { path };
	char *negative[] = { "broken.corp.test" };
	struct dns_trust *t = build(files, 1, negative, 1);
	if (!t)
		fail_msg("%s", err);
	assert_true(named(find(t, "www.corp.test."), "corp.test."));
	assert_true(named(find(t, "CORP.test."), "corp.test."));
	const struct val_anchor *a = find(t, "x.broken.corp.test.");
	assert_true(a && a->negative);
	/* an anchor below a negative anchor still validates its island */
	a = find(t, "www.island.broken.corp.test.");
	assert_true(named(a, "island.broken.corp.test.") && !a->negative);
	assert_int_equal(ldns_rr_list_rr_count(a->dnskey), 1);
	assert_null(find(t, "www.other.test."));
	assert_null(find(t, "test."));
	dns_trust_free(t);
}

static void expect_error(const char *text, const char *needle)
{
	write_file(text);
	char *files[] = { path };
	assert_null(build(files, 1, NULL, 0));
	if (!strstr(err, needle))
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void errors_name_file_and_line(void **state)
{
	expect_error("; nothing\n", "no DS or DNSKEY records");
	expect_error("a.test. IN DS 1 13 2 00\n\na.test. IN A 127.0.0.1\n",
		     ":3: a trust anchor file holds DS and DNSKEY records only");
	expect_error("a.test. IN DNSKEY 1 3 15 "
		     "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=\n",
		     ":1: DNSKEY without the zone key flag");
	expect_error("\na.test. IN DS 1 13 two 00\n", ":2: ");
	char *missing[] = { "/nonexistent/anchors.key" };
	assert_null(build(missing, 1, NULL, 0));
	assert_non_null(strstr(err, "/nonexistent/anchors.key: "));
	write_file("a.test. IN DS 1 13 2 00\n");
	char *files[] = { path };
	char *negative[] = { "a.test." };
	assert_null(build(files, 1, negative, 1));
	assert_non_null(strstr(err, "also a trust anchor"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shipped_root_key),
		cmocka_unit_test(islands_and_negative_anchors),
		cmocka_unit_test(errors_name_file_and_line),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
