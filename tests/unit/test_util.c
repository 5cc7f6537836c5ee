/*  anchord - unit tests of util/ and the stream framing of net/. */
#include "test.h"

#include "net/internal.h"
#include "util/util.h"

#include <stdlib.h>

static void subnets(void **state)
{
	struct util_subnet net;
	struct util_addr a;
	assert_int_equal(util_subnet_parse("10.20.0.0/16", &net), 0);
	util_addr_parse("10.20.3.4", 0, &a);
	assert_true(util_subnet_contains(&net, (struct sockaddr *)&a.ss));
	util_addr_parse("10.21.3.4", 0, &a);
	assert_false(util_subnet_contains(&net, (struct sockaddr *)&a.ss));
	assert_int_equal(util_subnet_parse("fc00::/7", &net), 0);
	util_addr_parse("fdff::1", 0, &a);
	assert_true(util_subnet_contains(&net, (struct sockaddr *)&a.ss));
	util_addr_parse("10.20.3.4", 0, &a);
	assert_false(util_subnet_contains(&net, (struct sockaddr *)&a.ss));
	assert_int_equal(util_subnet_parse("::1", &net), 0);
	assert_int_equal(net.bits, 128);
	assert_int_equal(util_subnet_parse("10.0.0.1/8", &net), -1);
	assert_int_equal(util_subnet_parse("10.0.0.0/33", &net), -1);
	assert_int_equal(util_subnet_parse("nonsense", &net), -1);
}

static void durations(void **state)
{
	uint64_t ms;
	assert_int_equal(util_parse_duration("90", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(util_parse_duration("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(util_parse_duration("1d", &ms), 0);
	assert_int_equal(ms, 86400000);
	assert_int_equal(util_parse_duration("24h", &ms), 0);
	assert_int_equal(ms, 86400000);
	assert_int_equal(util_parse_duration("-1s", &ms), -1);
	assert_int_equal(util_parse_duration("1 d", &ms), -1);
	assert_int_equal(util_parse_duration("1y", &ms), -1);
	assert_int_equal(util_parse_duration("", &ms), -1);
	assert_int_equal(util_parse_duration("99999999999999999999d", &ms), -1);
}

static void sizes(void **state)
{
	uint64_t b;
	assert_int_equal(util_parse_size("64M", &b), 0);
	assert_int_equal(b, 64ULL << 20);
	assert_int_equal(util_parse_size("1GiB", &b), 0);
	assert_int_equal(b, 1ULL << 30);
	assert_int_equal(util_parse_size("512k", &b), 0);
	assert_int_equal(b, 512 << 10);
	assert_int_equal(util_parse_size("12B", &b), 0);
	assert_int_equal(b, 12);
	assert_int_equal(util_parse_size("M", &b), -1);
	assert_int_equal(util_parse_size("1MX", &b), -1);
}

static void addresses(void **state)
{
	struct util_addr a, b;
	char text[UTIL_ADDR_STRLEN];
	assert_int_equal(util_addr_parse("127.0.0.1", 53, &a), 0);
	assert_string_equal(util_addr_str((struct sockaddr *)&a.ss, text,
					  sizeof(text)), "127.0.0.1#53");
	assert_int_equal(util_addr_parse("::1", 853, &b), 0);
	assert_int_equal(util_addr_port((struct sockaddr *)&b.ss), 853);
	assert_false(util_addr_equal((struct sockaddr *)&a.ss,
				     (struct sockaddr *)&b.ss));
	assert_int_equal(util_addr_parse("localhost", 53, &a), -1);
	char *p = util_path_relative_to("/etc/anchord/a.conf", "z/b.zone");
	assert_string_equal(p, "/etc/anchord/z/b.zone");
	free(p);
	p = util_path_relative_to("/etc/anchord/a.conf", "/abs");
	assert_string_equal(p, "/abs");
	free(p);
}

struct got {
	int n;
	size_t lens[8];
	uint8_t first[8];
};

static bool collect(void *ctx, const uint8_t *msg, size_t len)
{
	struct got *g = ctx;
	g->lens[g->n] = len;
	g->first[g->n] = msg[0];
	g->n++;
	return true;
}

static void framing_byte_by_byte(void **state)
{
	uint8_t stream[] = { 0, 3, 'a', 'b', 'c', 0, 1, 'z', 0, 2, 'q', 'r' };
	for (size_t chunk = 1; chunk <= sizeof(stream); chunk++) {
		struct net_framer f = { 0 };
		struct got g = { 0 };
		for (size_t off = 0; off < sizeof(stream); off += chunk) {
			size_t n = MIN(chunk, sizeof(stream) - off);
			assert_int_equal(net_framer_feed(&f, stream + off, n,
							 collect, &g), 0);
		}
		assert_int_equal(g.n, 3);
		assert_int_equal(g.lens[0], 3);
		assert_int_equal(g.first[1], 'z');
		assert_int_equal(g.lens[2], 2);
		assert_false(net_framer_partial(&f));
		assert_null(f.buf);	/* nothing kept between messages */
		net_framer_reset(&f);
	}
}

static void framing_zero_length(void **state)
{
	uint8_t stream[] = { 0, 0 };
	struct net_framer f = { 0 };
	struct got g = { 0 };
	assert_int_equal(net_framer_feed(&f, stream, 2, collect, &g), -1);
	net_framer_reset(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(subnets),
		cmocka_unit_test(durations),
		cmocka_unit_test(sizes),
		cmocka_unit_test(addresses),
		cmocka_unit_test(framing_byte_by_byte),
		cmocka_unit_test(framing_zero_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
