/*  anchord - unit tests of dns/answer.c: the answer builder. */
#include "test.h"

#include "dns/dns.h"

static uint8_t buf[DNS_MAX_MSG];

static size_t start(struct dns_builder *b, struct dns_query *q, uint8_t *query,
		    int edns, size_t limit)
{
	size_t len = test_query(query, "a.test", DNS_TYPE_TXT, 0x0100, edns);
	assert_int_equal(dns_query_parse(query, len, q), DNS_PARSE_OK);
	dns_builder_begin(b, buf, sizeof(buf), limit, q, query);
	return len;
}

static void header_and_question(void **state)
{
	struct dns_builder b;
	struct dns_query q;
	uint8_t query[512];
	start(&b, &q, query, 0, 512);
	uint8_t rdata[] = { 3, 'a', 'b', 'c' };
	dns_builder_put_rr(&b, 0, NULL, DNS_TYPE_TXT, 1, 60, rdata, 4);
	size_t len = dns_builder_finish(&b, NULL);
	assert_int_equal(test_rd16(buf), 0x1234);
	assert_int_equal(buf[2], 0x81);		/* QR, RD */
	assert_int_equal(buf[3], 0x80);		/* RA, NOERROR */
	assert_int_equal(test_rd16(buf + 6), 1);
	assert_int_equal(test_rd16(buf + 10), 0);	/* no OPT without EDNS */
	assert_memory_equal(buf + 12, query + 12, q.question_end - 12);
	assert_int_equal(buf[q.question_end], 0xC0);	/* owner = question */
	assert_int_equal(len, q.question_end + 2 + 10 + 4);
}

static void truncation(void **state)
{
	struct dns_builder b;
	struct dns_query q;
	uint8_t query[512];
	start(&b, &q, query, 0, 512);
	uint8_t rdata[255];
	memset(rdata, 'x', sizeof(rdata));
	rdata[0] = 254;
	for (int i = 0; i < 3; i++)
		dns_builder_put_rr(&b, 0, NULL, DNS_TYPE_TXT, 1, 60, rdata, 255);
	size_t len = dns_builder_finish(&b, NULL);
	assert_true(buf[2] & DNS_FLAG1_TC);
	assert_int_equal(test_rd16(buf + 6), 0);
	assert_int_equal(len, q.question_end);
}

static void opt_with_ede_and_badvers(void **state)
{
	struct dns_builder b;
	struct dns_query q;
	uint8_t query[512];
	start(&b, &q, query, 1232, 1232);
	dns_builder_set_rcode(&b, DNS_RCODE_BADVERS);
	struct dns_answer_edns e = { .ede = DNS_EDE_STALE_ANSWER,
				     .ede_text = "old", .udp_size = 1232 };
	size_t len = dns_builder_finish(&b, &e);
	assert_int_equal(buf[3] & 0x0F, 0);		/* 16 & 15 */
	assert_int_equal(test_rd16(buf + 10), 1);
	const uint8_t *opt = buf + q.question_end;
	assert_int_equal(opt[0], 0);
	assert_int_equal(test_rd16(opt + 1), DNS_TYPE_OPT);
	assert_int_equal(test_rd16(opt + 3), 1232);
	assert_int_equal(opt[5], 1);			/* extended rcode 16 >> 4 */
	assert_int_equal(test_rd16(opt + 9), 4 + 2 + 3);
	assert_int_equal(test_rd16(opt + 11), DNS_OPT_EDE);
	assert_int_equal(test_rd16(opt + 13), 5);
	assert_int_equal(test_rd16(opt + 15), 3);
	assert_memory_equal(opt + 17, "old", 3);
	assert_int_equal(len, q.question_end + 11 + 9);
}

static void padding_to_block(void **state)
{
	struct dns_builder b;
	struct dns_query q;
	uint8_t query[512];
	size_t qlen = test_query(query, "a.test", DNS_TYPE_A, 0x0100, 1232);
	/* add an empty padding option to the query */
	uint8_t pad[] = { 0, 12, 0, 0 };
	memcpy(query + qlen, pad, 4);
	query[qlen - 1] = 4;
	assert_int_equal(dns_query_parse(query, qlen + 4, &q), DNS_PARSE_OK);
	assert_true(q.edns_padding);
	dns_builder_begin(&b, buf, sizeof(buf), 65535, &q, query);
	uint8_t a[4] = { 127, 0, 0, 1 };
	dns_builder_put_rr(&b, 0, NULL, DNS_TYPE_A, 1, 60, a, 4);
	struct dns_answer_edns e = { .ede = DNS_EDE_NONE, .pad = true,
				     .udp_size = 1232 };
	assert_int_equal(dns_builder_finish(&b, &e), 468);
	/* without the transport's consent, no padding */
	dns_builder_begin(&b, buf, sizeof(buf), 65535, &q, query);
	e.pad = false;
	assert_true(dns_builder_finish(&b, &e) < 468);
}

static void keepalive(void **state)
{
	struct dns_builder b;
	struct dns_query q;
	uint8_t query[512];
	start(&b, &q, query, 1232, 65535);
	struct dns_answer_edns e = { .ede = DNS_EDE_NONE, .keepalive = true,
				     .keepalive_100ms = 100, .udp_size = 1232 };
	size_t len = dns_builder_finish(&b, &e);
	const uint8_t *o = buf + q.question_end + 11;
	assert_int_equal(test_rd16(o), DNS_OPT_KEEPALIVE);
	assert_int_equal(test_rd16(o + 2), 2);
	assert_int_equal(test_rd16(o + 4), 100);
	assert_int_equal(len, q.question_end + 11 + 6);
}

static void stored_records_ttl_patch(void **state)
{
	struct dns_builder b;
	struct dns_query q;
	uint8_t query[512];
	start(&b, &q, query, 0, 512);
	uint8_t rr[] = { 0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 1, 2, 3, 4 };
	struct dns_ttl_ref ref = { .offset = 6, .ttl = 300 };
	dns_builder_put_records(&b, rr, sizeof(rr), 1, 0, 0, &ref, 1, 100, -1);
	dns_builder_finish(&b, NULL);
	const uint8_t *p = buf + q.question_end + 6;
	assert_int_equal(test_rd16(p + 2), 200);
	dns_builder_begin(&b, buf, sizeof(buf), 512, &q, query);
	dns_builder_put_records(&b, rr, sizeof(rr), 1, 0, 0, &ref, 1, 1000, -1);
	dns_builder_finish(&b, NULL);
	assert_int_equal(test_rd16(p + 2), 0);		/* never below zero */
	dns_builder_begin(&b, buf, sizeof(buf), 512, &q, query);
	dns_builder_put_records(&b, rr, sizeof(rr), 1, 0, 0, &ref, 1, 1000, 30);
	dns_builder_finish(&b, NULL);
	assert_int_equal(test_rd16(p + 2), 30);		/* stale: forced */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_and_question),
		cmocka_unit_test(truncation),
		cmocka_unit_test(opt_with_ede_and_badvers),
		cmocka_unit_test(padding_to_block),
		cmocka_unit_test(keepalive),
		cmocka_unit_test(stored_records_ttl_patch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
