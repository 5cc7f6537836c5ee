/*  anchord - unit tests of the query log's line format: every line is
 *  one valid JSON object, whatever bytes clients put in names, certificate
 *  names or DoH client ids. */
#include "test.h"

#include "daemon/daemon.h"

#include <jansson.h>
#include <stdlib.h>

static const struct timespec when = { .tv_sec = 1767225600,	/* 2026-01-01 */
				      .tv_nsec = 42000000 };

struct fixture {
	struct dns_client client;
	struct dns_query q;
	struct dns_answered a;
};

static void set_up(struct fixture *f, const uint8_t *qname, size_t qlen)
{
	memset(f, 0, sizeof(*f));
	util_addr_parse("127.0.53.7", 5353, &f->client.addr);
	f->client.transport = DNS_TRANSPORT_UDP;
	memcpy(f->q.qname, qname, qlen);
	f->q.qname_len = (uint16_t)qlen;
	f->q.question_end = (uint16_t)(DNS_HEADER_SIZE + qlen + 4);
	f->q.qtype = DNS_TYPE_AAAA;
	f->a = (struct dns_answered){ .client = &f->client, .q = &f->q,
				      .rcode = DNS_RCODE_NOERROR,
				      .ede = DNS_EDE_NONE,
				      .latency_ns = 1234567 };
}

/* The line, parsed; fails the test when it is not one JSON object. */
static json_t *format_and_parse(const struct dns_answered *a)
{
	char line[4096];
	size_t n = querylog_format(line, sizeof(line), a, &when);
	assert_true(n > 0);
	assert_int_equal(line[n - 1], '\n');
	assert_null(memchr(line, '\n', n - 1));
	json_error_t err;
	json_t *j = json_loadb(line, n, 0, &err);
	if (!j)
		fail_msg("not JSON (%s): %.*s", err.text, (int)n, line);
	assert_true(json_is_object(j));
	return j;
}

static const char *str(json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static const uint8_t www[] = "\3www\7example\3com";

static void a_plain_line(void **state)
{
	struct fixture f;
	set_up(&f, www, sizeof(www));
	char line[4096];
	/* the line is not NUL-terminated: its length is what counts */
	static const char want[] =
		"{\"time\":\"2026-01-01T00:00:00.042Z\",\"client\":\"127.0.53.7\","
		"\"transport\":\"udp\",\"name\":\"www.example.com.\","
		"\"type\":\"AAAA\",\"rcode\":\"NOERROR\",\"ede\":[],"
		"\"cached\":false,\"latency_ms\":1.234}\n";
	size_t n = querylog_format(line, sizeof(line), &f.a, &when);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(line, want, n);
}

static void every_field(void **state)
{
	struct fixture f;
	set_up(&f, www, sizeof(www));
	f.client.transport = DNS_TRANSPORT_DOH;
	f.client.cert_present = f.client.cert_verified = true;
	strcpy(f.client.cert_cn, "laptop-1");
	strcpy(f.client.client_id, "kitchen");
	f.a.rcode = DNS_RCODE_SERVFAIL;
	f.a.ede = DNS_EDE_DNSSEC_BOGUS;
	f.a.cached = f.a.stale = true;
	f.a.dnssec = "bogus";
	json_t *j = format_and_parse(&f.a);
	assert_string_equal(str(j, "identity"), "laptop-1");
	assert_string_equal(str(j, "client_id"), "kitchen");
	assert_string_equal(str(j, "transport"), "doh");
	assert_string_equal(str(j, "rcode"), "SERVFAIL");
	assert_string_equal(str(j, "dnssec"), "bogus");
	json_t *ede = json_object_get(j, "ede");
	assert_int_equal(json_array_size(ede), 1);
	assert_int_equal(json_integer_value(json_array_get(ede, 0)), 6);
	assert_true(json_is_true(json_object_get(j, "cached")));
	assert_true(json_is_true(json_object_get(j, "stale")));
	json_decref(j);
}

/* An unverified certificate is no identity. */
static void unverified_certificate_is_not_logged(void **state)
{
	struct fixture f;
	set_up(&f, www, sizeof(www));
	f.client.cert_present = true;
	strcpy(f.client.cert_cn, "someone");
	json_t *j = format_and_parse(&f.a);
	assert_null(json_object_get(j, "identity"));
	json_decref(j);
}

static void odd_bytes_in_the_name(void **state)
{
	static const uint8_t odd[] = "\3a\"b\3c\\d\3\0\xff\n\2up\4test";
	struct fixture f;
	set_up(&f, odd, sizeof(odd));
	json_t *j = format_and_parse(&f.a);
	assert_string_equal(str(j, "name"), "a\"b.c\\\\d.\\000\\255\\010.up.test.");
	json_decref(j);
}

static void hostile_identities(void **state)
{
	struct fixture f;
	set_up(&f, www, sizeof(www));
	f.client.cert_present = f.client.cert_verified = true;
	/* quote, backslash, control bytes, DEL, valid UTF-8, then a lone
	 * continuation byte, a truncated sequence, an overlong '/' */
	strcpy(f.client.cert_cn, "\"\\\x01\x1f\x7f\xc3\xa9\x80\xe2\x82\xc0\xaf");
	strcpy(f.client.client_id, "id\"}\n{");
	json_t *j = format_and_parse(&f.a);
	assert_string_equal(str(j, "identity"),
			    "\"\\\x01\x1f\x7f\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd"
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(str(j, "client_id"), "id\"}\n{");
	json_decref(j);
}

static void no_question(void **state)
{
	struct fixture f;
	set_up(&f, www, sizeof(www));
	f.q.question_end = 0;
	f.a.rcode = DNS_RCODE_FORMERR;
	json_t *j = format_and_parse(&f.a);
	assert_true(json_is_null(json_object_get(j, "name")));
	assert_true(json_is_null(json_object_get(j, "type")));
	assert_string_equal(str(j, "rcode"), "FORMERR");
	json_decref(j);
}

static void numbers_without_mnemonics(void **state)
{
	struct fixture f;
	set_up(&f, www, sizeof(www));
	f.q.qtype = 65280;
	f.a.rcode = 23;
	json_t *j = format_and_parse(&f.a);
	assert_string_equal(str(j, "type"), "TYPE65280");
	assert_string_equal(str(j, "rcode"), "RCODE23");
	json_decref(j);
	f.q.qtype = DNS_TYPE_AXFR;
	f.a.rcode = DNS_RCODE_BADVERS;
	j = format_and_parse(&f.a);
	assert_string_equal(str(j, "type"), "AXFR");
	assert_string_equal(str(j, "rcode"), "BADVERS");
	json_decref(j);
}

/* A line that does not fit is not cut: it is not written at all. */
static void too_small_a_buffer(void **state)
{
	struct fixture f;
	set_up(&f, www, sizeof(www));
	char line[64];
	assert_int_equal(querylog_format(line, sizeof(line), &f.a, &when), 0);
}

/* The longest name, every byte escaped, and the longest identities fit
 * the writer's line buffer. */
static void the_longest_line_fits(void **state)
{
	uint8_t name[DNS_MAX_NAME];
	size_t p = 0;
	while (p + 64 < sizeof(name)) {
		name[p++] = 63;
		memset(name + p, 0x01, 63);
		p += 63;
	}
	name[p++] = 0;
	struct fixture f;
	set_up(&f, name, p);
	f.client.cert_present = f.client.cert_verified = true;
	memset(f.client.cert_cn, 0x01, sizeof(f.client.cert_cn) - 1);
	memset(f.client.client_id, '"', sizeof(f.client.client_id) - 1);
	json_decref(format_and_parse(&f.a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_plain_line),
		cmocka_unit_test(every_field),
		cmocka_unit_test(unverified_certificate_is_not_logged),
		cmocka_unit_test(odd_bytes_in_the_name),
		cmocka_unit_test(hostile_identities),
		cmocka_unit_test(no_question),
		cmocka_unit_test(numbers_without_mnemonics),
		cmocka_unit_test(too_small_a_buffer),
		cmocka_unit_test(the_longest_line_fits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
