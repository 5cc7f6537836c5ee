/*  anchord - unit tests of dns/wire.c: query parsing, names, responses. */
#include "test.h"

#include "dns/dns.h"

static void query_valid(void **state)
{
	uint8_t buf[512];
	struct dns_query q;
	size_t len = test_query(buf, "WwW.Example.TEST", DNS_TYPE_AAAA, 0x0100,
				1400);
	assert_int_equal(dns_query_parse(buf, len, &q), DNS_PARSE_OK);
	assert_int_equal(q.id, 0x1234);
	assert_true(q.rd);
	assert_int_equal(q.qtype, DNS_TYPE_AAAA);
	assert_int_equal(q.qclass, DNS_CLASS_IN);
	assert_memory_equal(q.qname, "\3www\7example\4test", 18);
	assert_int_equal(q.qname_len, 18);
	assert_int_equal(q.question_end, 12 + 18 + 4);
	assert_true(q.edns);
	assert_int_equal(q.edns_udp, 1400);
}

static void query_edns_options(void **state)
{
	uint8_t buf[512];
	struct dns_query q;
	size_t len = test_query(buf, "a.test", DNS_TYPE_A, 0x0100, 512);
	/* DO bit, then padding (12) of 3 bytes and keepalive (11) empty. */
	buf[len - 11 + 7] = 0x80;
	uint8_t opts[] = { 0, 12, 0, 3, 0, 0, 0, 0, 11, 0, 0 };
	buf[len - 2] = 0;
	buf[len - 1] = sizeof(opts);
	memcpy(buf + len, opts, sizeof(opts));
	len += sizeof(opts);
	assert_int_equal(dns_query_parse(buf, len, &q), DNS_PARSE_OK);
	assert_true(q.edns_do);
	assert_true(q.edns_padding);
	assert_true(q.edns_keepalive);
	/* A keepalive option with a value is malformed in a query. */
	buf[len - 1] = 2;
	buf[len - 3] = sizeof(opts) + 2;
	uint8_t two[2] = { 0, 5 };
	memcpy(buf + len, two, 2);
	buf[len - 11 - 2 + 9] = sizeof(opts) + 2;
	assert_int_equal(dns_query_parse(buf, len + 2, &q), DNS_PARSE_FORMERR);
}

static void query_malformed(void **state)
{
	uint8_t buf[600];
	struct dns_query q;
	size_t len = test_query(buf, "a.test", DNS_TYPE_A, 0x0100, 0);
	/* too short for a header: dropped */
	assert_int_equal(dns_query_parse(buf, 11, &q), DNS_PARSE_DROP);
	/* a response is never answered */
	buf[2] |= 0x80;
	assert_int_equal(dns_query_parse(buf, len, &q), DNS_PARSE_DROP);
	buf[2] &= 0x7f;
	/* truncated question */
	assert_int_equal(dns_query_parse(buf, len - 1, &q), DNS_PARSE_FORMERR);
	assert_int_equal(q.id, 0x1234);
	/* two questions */
	buf[5] = 2;
	assert_int_equal(dns_query_parse(buf, len, &q), DNS_PARSE_FORMERR);
	buf[5] = 0;
	assert_int_equal(dns_query_parse(buf, len, &q), DNS_PARSE_FORMERR);
	buf[5] = 1;
	/* trailing garbage */
	buf[len] = 0xff;
	assert_int_equal(dns_query_parse(buf, len + 1, &q), DNS_PARSE_FORMERR);
	/* an answer record count in a query */
	buf[7] = 1;
	assert_int_equal(dns_query_parse(buf, len, &q), DNS_PARSE_FORMERR);
	buf[7] = 0;
	/* a compression pointer in the question (a loop to itself) */
	buf[12] = 0xC0;
	buf[13] = 12;
	assert_int_equal(dns_query_parse(buf, len, &q), DNS_PARSE_FORMERR);
	/* a label longer than 63 */
	buf[12] = 64;
	assert_int_equal(dns_query_parse(buf, len, &q), DNS_PARSE_FORMERR);
}

static void query_name_too_long(void **state)
{
	uint8_t buf[600];
	struct dns_query q;
	size_t p = 12;
	memset(buf, 0, sizeof(buf));
	buf[5] = 1;
	for (int i = 0; i < 5; i++) {	/* 5 x 51 = 255 bytes + root = 256 */
		buf[p++] = 50;
		memset(buf + p, 'a', 50);
		p += 50;
	}
	buf[p++] = 0;
	p += 4;
	assert_int_equal(dns_query_parse(buf, p, &q), DNS_PARSE_FORMERR);
}

static void query_two_opts(void **state)
{
	uint8_t buf[512];
	struct dns_query q;
	size_t len = test_query(buf, "a.test", DNS_TYPE_A, 0x0100, 1232);
	memcpy(buf + len, buf + len - 11, 11);
	buf[11] = 2;
	assert_int_equal(dns_query_parse(buf, len + 11, &q), DNS_PARSE_FORMERR);
}

static void names(void **state)
{
	uint8_t wire[DNS_MAX_NAME];
	char text[256];
	assert_int_equal(dns_name_from_str("Example.TEST.", wire), 14);
	assert_memory_equal(wire, "\7example\4test", 14);
	assert_string_equal(dns_name_str(wire, text, sizeof(text)),
			    "example.test.");
	assert_int_equal(dns_name_labels(wire), 2);
	assert_int_equal(dns_name_from_str(".", wire), 1);
	assert_string_equal(dns_name_str(wire, text, sizeof(text)), ".");
	assert_int_equal(dns_name_from_str("a..b", wire), -1);
}

/* A response: question www.t A, answer with a pointer to the question,
 * authority SOA (for min TTL), additional OPT. */
static size_t make_response(uint8_t *b)
{
	static const uint8_t msg[] = {
		0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 1, 0, 1, 0, 1,
		3, 'w', 'w', 'w', 1, 't', 0, 0, 1, 0, 1,
		/* answer: www.t A 300 127.0.0.1 */
		0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 127, 0, 0, 1,
		/* authority: t SOA 600, mname/rname compressed, minimum 60 */
		0xC0, 16, 0, 6, 0, 1, 0, 0, 2, 88, 0, 24,
		0xC0, 16, 0xC0, 16, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
		0, 0, 0, 4, 0, 0, 0, 60,
		/* OPT */
		0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0,
	};
	memcpy(b, msg, sizeof(msg));
	return sizeof(msg);
}

static void response_scan(void **state)
{
	uint8_t b[512];
	struct dns_scan s;
	size_t len = make_response(b);
	assert_int_equal(dns_response_scan(b, len, &s), 0);
	assert_int_equal(s.id, 0xabcd);
	assert_int_equal(s.an, 1);
	assert_int_equal(s.ns, 1);
	assert_int_equal(s.ar, 0);
	assert_true(s.has_opt);
	assert_true(s.opt_last);
	assert_int_equal(s.records_end, len - 11);
	assert_int_equal(s.n_ttl, 2);
	assert_int_equal(s.ttl[0].ttl, 300);
	assert_int_equal(s.ttl[0].offset, 23 + 2 + 4);
	assert_int_equal(s.min_ttl, 300);
	assert_true(s.has_soa);
	assert_int_equal(s.negative_ttl, 60);
	assert_memory_equal(s.qname, "\3www\1t", 7);
}

static void response_malformed(void **state)
{
	uint8_t b[512];
	struct dns_scan s;
	size_t len = make_response(b);
	for (size_t cut = 0; cut < len - 11; cut++)
		assert_int_equal(dns_response_scan(b, cut, &s), -1);
	/* a forward compression pointer */
	b[23] = 0xC0;
	b[24] = 40;
	assert_int_equal(dns_response_scan(b, len, &s), -1);
	/* a pointer to itself */
	len = make_response(b);
	b[24] = 23;
	assert_int_equal(dns_response_scan(b, len, &s), -1);
	/* rdlength past the end */
	len = make_response(b);
	b[34] = 200;
	assert_int_equal(dns_response_scan(b, len, &s), -1);
}

static void name_unpack_pointer_chain(void **state)
{
	uint8_t msg[64] = { 0 };
	uint8_t out[DNS_MAX_NAME];
	/* "a" + pointer to "b" + pointer to root */
	msg[20] = 0;
	msg[21] = 1; msg[22] = 'B'; msg[23] = 0xC0; msg[24] = 20;
	msg[25] = 1; msg[26] = 'a'; msg[27] = 0xC0; msg[28] = 21;
	size_t pos = 25;
	assert_int_equal(dns_name_unpack(msg, sizeof(msg), &pos, out), 5);
	assert_memory_equal(out, "\1a\1b", 5);
	assert_int_equal(pos, 29);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(query_valid),
		cmocka_unit_test(query_edns_options),
		cmocka_unit_test(query_malformed),
		cmocka_unit_test(query_name_too_long),
		cmocka_unit_test(query_two_opts),
		cmocka_unit_test(names),
		cmocka_unit_test(response_scan),
		cmocka_unit_test(response_malformed),
		cmocka_unit_test(name_unpack_pointer_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
