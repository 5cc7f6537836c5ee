/*  anchord - unit tests of dns/localdata.c. */
#include "signzone.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uint8_t out[DNS_MAX_MSG];
static char zone_path[64];

struct answer {
	enum dns_local_result result;
	unsigned rcode, an, ns;
	bool aa;
	int ede;
	struct dns_scan scan;
};

static struct answer ask(const struct dns_local *l, const char *name,
			 uint16_t type)
{
	uint8_t q[512];
	struct dns_query dq;
	struct dns_builder b;
	struct answer a = { .ede = DNS_EDE_NONE };
	size_t len = test_query(q, name, type, 0x0100, 0);
	assert_int_equal(dns_query_parse(q, len, &dq), DNS_PARSE_OK);
	dns_builder_begin(&b, out, sizeof(out), 65535, &dq, q);
	a.result = dns_local_answer(l, &dq, &b, &a.ede);
	size_t olen = dns_builder_finish(&b, NULL);
	assert_int_equal(dns_response_scan(out, olen, &a.scan), 0);
	a.rcode = out[3] & 0x0F;
	a.an = test_rd16(out + 6);
	a.ns = test_rd16(out + 8);
	a.aa = out[2] & DNS_FLAG1_AA;
	return a;
}

static const struct val_key *signed_entry(void *ctx, const ldns_rdf *name)
{
	return ctx;
}

static struct dns_local *build(const char **data, size_t n_data,
			       struct dns_local_zone_conf *zones, size_t n_zones,
			       char *err, size_t errlen)
{
	struct dns_local_data_conf d[16];
	for (size_t i = 0; i < n_data; i++)
		d[i] = (struct dns_local_data_conf){
			.text = (char *)data[i],
			.origin = { "test.conf", (unsigned)(i + 1) } };
	struct dns_conf conf = { .data = d, .n_data = n_data, .zones = zones,
				 .n_zones = n_zones };
	return dns_local_build(&conf, err, errlen);
}

static int setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	util_hash_init();
	snprintf(zone_path, sizeof(zone_path), "/tmp/anchord-zone-%d",
		 (int)getpid());
	FILE *f = fopen(zone_path, "w");
	if (!f)
		return -1;
	fputs("$ORIGIN corp.test.\n$TTL 300\n"
	      "@ IN SOA ns hostmaster 1 3600 600 604800 60\n"
	      "@ IN NS ns\nns IN A 127.0.0.53\n"
	      "www IN A 127.0.0.80\nalias IN CNAME www\n"
	      "deep.a.b IN TXT \"x\"\n*.wild IN A 127.0.0.99\n", f);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	unlink(zone_path);
	return 0;
}

static void transparent_local_data(void **state)
{
	const char *data[] = { "Intra.Corp.TEST. 60 IN A 127.0.0.5" };
	char err[256];
	struct dns_local *l = build(data, 1, NULL, 0, err, sizeof(err));
	assert_non_null(l);
	struct answer a = ask(l, "intra.corp.test", DNS_TYPE_A);
	assert_int_equal(a.result, DNS_LOCAL_ANSWERED);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.an, 1);
	assert_true(a.aa);
	a = ask(l, "intra.corp.test", DNS_TYPE_AAAA);	/* NODATA */
	assert_int_equal(a.result, DNS_LOCAL_ANSWERED);
	assert_int_equal(a.an, 0);
	assert_int_equal(a.rcode, 0);
	a = ask(l, "x.intra.corp.test", DNS_TYPE_A);	/* not local */
	assert_int_equal(a.result, DNS_LOCAL_NONE);
	a = ask(l, "corp.test", DNS_TYPE_A);
	assert_int_equal(a.result, DNS_LOCAL_NONE);
	dns_local_free(l);
}

static void static_zone_file(void **state)
{
	struct dns_local_zone_conf z = { .name = "corp.test", .file = zone_path,
					 .type = DNS_ZONE_STATIC,
					 .origin = { "test.conf", 3 } };
	char err[256];
	struct dns_local *l = build(NULL, 0, &z, 1, err, sizeof(err));
	assert_non_null(l);
	struct answer a = ask(l, "www.corp.test", DNS_TYPE_A);
	assert_int_equal(a.an, 1);
	a = ask(l, "alias.corp.test", DNS_TYPE_A);	/* CNAME chased */
	assert_int_equal(a.an, 2);
	a = ask(l, "nope.corp.test", DNS_TYPE_A);
	assert_int_equal(a.rcode, DNS_RCODE_NXDOMAIN);
	assert_int_equal(a.ns, 1);
	assert_int_equal(a.scan.negative_ttl, 60);
	a = ask(l, "a.b.corp.test", DNS_TYPE_A);	/* empty non-terminal */
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.an, 0);
	assert_int_equal(a.ns, 1);
	a = ask(l, "x.y.wild.corp.test", DNS_TYPE_A);	/* wildcard */
	assert_int_equal(a.an, 1);
	assert_int_equal(a.scan.qname_len, 20);
	a = ask(l, "www.corp.test", DNS_TYPE_ANY);
	assert_int_equal(a.an, 1);
	dns_local_free(l);
}

static void builtin_zones(void **state)
{
	char err[256];
	struct dns_local *l = build(NULL, 0, NULL, 0, err, sizeof(err));
	assert_non_null(l);
	struct answer a = ask(l, "use-application-dns.net", DNS_TYPE_A);
	assert_int_equal(a.rcode, DNS_RCODE_NXDOMAIN);
	a = ask(l, "_dns.resolver.arpa", DNS_TYPE_SVCB);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.an, 0);
	a = ask(l, "foo.localhost", DNS_TYPE_A);
	assert_int_equal(a.an, 1);
	a = ask(l, "something.onion", DNS_TYPE_A);
	assert_int_equal(a.rcode, DNS_RCODE_NXDOMAIN);
	a = ask(l, "1.0.0.127.in-addr.arpa", DNS_TYPE_PTR);
	assert_int_equal(a.an, 1);
	a = ask(l, "www.example.test", DNS_TYPE_A);
	assert_int_equal(a.result, DNS_LOCAL_NONE);
	dns_local_free(l);
}

static void operator_overrides_builtin(void **state)
{
	struct dns_local_zone_conf z = { .name = "onion.",
					 .type = DNS_ZONE_REFUSE,
					 .origin = { "test.conf", 1 } };
	char err[256];
	struct dns_local *l = build(NULL, 0, &z, 1, err, sizeof(err));
	struct answer a = ask(l, "x.onion", DNS_TYPE_A);
	assert_int_equal(a.rcode, DNS_RCODE_REFUSED);
	assert_int_equal(a.ede, DNS_EDE_BLOCKED);
	dns_local_free(l);
}

static void errors_name_their_origin(void **state)
{
	char err[256];
	const char *bad[] = { "ok.test. A 127.0.0.1", "bad.test. A 300.1.2.3" };
	assert_null(build(bad, 2, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "test.conf:2:"));
	const char *cname[] = { "c.test. CNAME x.test.", "c.test. A 127.0.0.1" };
	assert_null(build(cname, 2, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "CNAME and other data"));
	struct dns_local_zone_conf z = { .name = "corp.test",
					 .file = "/nonexistent/zone",
					 .origin = { "test.conf", 7 } };
	assert_null(build(NULL, 0, &z, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "test.conf:7:"));
	const char *outside[] = { "www.other.test. A 127.0.0.1" };
	struct dns_local_zone_conf z2 = { .name = "corp.test", .file = zone_path,
					  .origin = { "test.conf", 1 } };
	struct dns_local *l = build(outside, 1, &z2, 1, err, sizeof(err));
	assert_non_null(l);	/* a separate transparent zone */
	dns_local_free(l);
}

/* ------------------------------------------------------------------ signed zones */

#define SZONE "signed.test."

static const char *const signed_text[] = {
	SZONE " 300 IN SOA ns." SZONE " hostmaster." SZONE " 1 3600 600 604800 60",
	SZONE " 300 IN NS ns." SZONE,
	"ns." SZONE " 300 IN A 127.0.0.53",
	"www." SZONE " 300 IN A 127.0.0.20",
	"*.wild." SZONE " 300 IN A 127.0.0.21",
	"a.b.deep." SZONE " 300 IN TXT \"x\"",
	"alias." SZONE " 300 IN CNAME www." SZONE,
};

/* Ask with DO; the answer must validate with the zone's own key. */
static enum val_status ask_signed(const struct dns_local *l,
				  const struct signed_zone *z, const char *name,
				  uint16_t type, bool do_bit, unsigned *sigs)
{
	uint8_t q[512];
	struct dns_query dq;
	struct dns_builder b;
	size_t len = test_query(q, name, type, 0x0100, 1232);
	if (do_bit)
		q[len - 4] |= 0x80;	/* the DO bit of the OPT TTL */
	assert_int_equal(dns_query_parse(q, len, &dq), DNS_PARSE_OK);
	assert_int_equal(dq.edns_do, do_bit);
	dns_builder_begin(&b, out, sizeof(out), 65535, &dq, q);
	int ede = DNS_EDE_NONE;
	assert_int_equal(dns_local_answer(l, &dq, &b, &ede), DNS_LOCAL_ANSWERED);
	size_t olen = dns_builder_finish(&b, NULL);
	assert_true(out[2] & DNS_FLAG1_AA);
	assert_false(out[3] & DNS_FLAG2_AD);
	ldns_pkt *p;
	assert_int_equal(ldns_wire2pkt(&p, out, olen), LDNS_STATUS_OK);
	ldns_rr_list *all = ldns_pkt_all_noquestion(p);
	*sigs = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(all); i++)
		*sigs += ldns_rr_get_type(ldns_rr_list_rr(all, i)) ==
			 LDNS_RR_TYPE_RRSIG;
	ldns_rr_list_deep_free(all);
	ldns_pkt_free(p);
	struct val_msg *m = val_msg_parse(out, olen);
	assert_non_null(m);
	val_msg_judge(m, signed_entry, (void *)&z->entry, time(NULL));
	enum val_status st = val_msg_status(m, NULL, NULL);
	val_msg_free(m);
	return st;
}

static void signed_zone_answers_validate(void **state)
{
	for (int nsec3 = 0; nsec3 < 2; nsec3++) {
		struct signed_zone z;
		time_t now = time(NULL);
		sign_zone(&z, SZONE, signed_text, ARRAY_SIZE(signed_text),
			  nsec3, 0, false, now - 3600, now + 86400);
		char path[64];
		snprintf(path, sizeof(path), "/tmp/anchord-signed-%d", (int)getpid());
		write_zone(&z, path);
		struct dns_local_zone_conf zc = { .name = SZONE, .file = path,
						  .type = DNS_ZONE_STATIC,
						  .origin = { "test.conf", 1 } };
		char err[256];
		struct dns_local *l = build(NULL, 0, &zc, 1, err, sizeof(err));
		unlink(path);
		assert_non_null(l);
		static const struct { const char *name; uint16_t type; } qs[] = {
			{ "www." SZONE, DNS_TYPE_A },
			{ "alias." SZONE, DNS_TYPE_A },
			{ "x.wild." SZONE, DNS_TYPE_A },
			{ SZONE, DNS_TYPE_DNSKEY },
			{ "nothere." SZONE, DNS_TYPE_A },	/* NXDOMAIN */
			{ "x.nothere." SZONE, DNS_TYPE_A },
			{ "www." SZONE, DNS_TYPE_TXT },		/* NODATA */
			{ "b.deep." SZONE, DNS_TYPE_A },	/* empty non-terminal */
			{ "y.wild." SZONE, DNS_TYPE_TXT },	/* wildcard NODATA */
		};
		for (size_t i = 0; i < ARRAY_SIZE(qs); i++) {
			unsigned sigs;
			enum val_status st = ask_signed(l, &z, qs[i].name,
							qs[i].type, true, &sigs);
			if (st != VAL_SECURE)
				fail_msg("%s %s/%u: not secure", nsec3 ? "NSEC3"
					 : "NSEC", qs[i].name, qs[i].type);
			assert_true(sigs > 0);
			ask_signed(l, &z, qs[i].name, qs[i].type, false, &sigs);
			assert_int_equal(sigs, 0);	/* not without DO */
		}
		dns_local_free(l);
		free_zone(&z);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transparent_local_data),
		cmocka_unit_test(static_zone_file),
		cmocka_unit_test(builtin_zones),
		cmocka_unit_test(operator_overrides_builtin),
		cmocka_unit_test(errors_name_their_origin),
		cmocka_unit_test(signed_zone_answers_validate),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
