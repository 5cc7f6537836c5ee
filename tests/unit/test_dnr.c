/*  anchord - unit tests of daemon/dnr.c: RFC 9463 option bytes. */
#include "test.h"

#include "daemon/daemon.h"

#include <stdio.h>
#include <stdlib.h>

/* dns.example in wire format: 13 octets */
#define ADN_WIRE 3, 'd', 'n', 's', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0
/* alpn=dot port=853: 14 octets */
#define DOT_PARAMS 0, 1, 0, 4, 3, 'd', 'o', 't', 0, 3, 0, 2, 0x03, 0x55
#define V6_ADDR 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1

static struct util_addr addrs[2];

static struct dnr_instance dot_instance(void)
{
	util_addr_parse("127.0.53.1", 0, &addrs[0]);
	util_addr_parse("2001:db8::1", 0, &addrs[1]);
	return (struct dnr_instance){ .priority = 2, .adn = "dns.example",
				      .alpn = "dot", .port = 853,
				      .addrs = addrs, .n_addrs = 2 };
}

static void dhcpv4_layout(void **state)
{
	struct dnr_instance d = dot_instance();
	static const uint8_t want[] = {
		0, 35,			/* DNR-Instance-Data-Length */
		0, 2,			/* Service Priority */
		13, ADN_WIRE,		/* ADN Length (1 octet), ADN */
		4, 127, 0, 53, 1,	/* Addr Length (1 octet), IPv4 */
		DOT_PARAMS,
	};
	uint8_t out[256];
	assert_int_equal(dnr_dhcpv4(&d, 1, out, sizeof(out)), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	/* two instances follow one another in the same option */
	struct dnr_instance two[2] = { d, d };
	assert_int_equal(dnr_dhcpv4(two, 2, out, sizeof(out)),
			 2 * sizeof(want));
	assert_memory_equal(out + sizeof(want), want, sizeof(want));
}

static void dhcpv6_layout(void **state)
{
	struct dnr_instance d = dot_instance();
	static const uint8_t want[] = {
		0, 2,			/* Service Priority */
		0, 13, ADN_WIRE,	/* ADN Length (2 octets), ADN */
		0, 16, V6_ADDR,		/* Addr Length (2 octets), IPv6 */
		DOT_PARAMS,
	};
	uint8_t out[256];
	assert_int_equal(dnr_dhcpv6(&d, out, sizeof(out)), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static void ra_layout(void **state)
{
	struct dnr_instance d = dot_instance();
	static const uint8_t want[64] = {
		144, 8,			/* Type, Length: 8 x 8 octets */
		0, 2,			/* Service Priority */
		0, 0, 0x07, 0x08,	/* Lifetime 1800 s */
		0, 13, ADN_WIRE,
		0, 16, V6_ADDR,
		0, 14, DOT_PARAMS,	/* SvcParams Length, SvcParams */
		/* 57 octets so far; zeros pad to 64 */
	};
	uint8_t out[256];
	assert_int_equal(dnr_ra(&d, 1800, out, sizeof(out)), 64);
	assert_memory_equal(out, want, sizeof(want));
}

static void doh_params(void **state)
{
	struct dnr_instance d = dot_instance();
	d.alpn = "h2,http/1.1";
	d.port = 443;
	d.dohpath = "/dns-query{?dns}";
	static const uint8_t want[] = {
		0, 1, 0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.',
		'1',
		0, 3, 0, 2, 0x01, 0xbb,
		0, 7, 0, 16, '/', 'd', 'n', 's', '-', 'q', 'u', 'e', 'r', 'y',
		'{', '?', 'd', 'n', 's', '}',
	};
	uint8_t out[256];
	assert_int_equal(dnr_svcparams(&d, out, sizeof(out)), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static void missing_family_and_overflow(void **state)
{
	struct dnr_instance d = dot_instance();
	uint8_t out[256];
	d.n_addrs = 1;				/* IPv4 only */
	assert_int_equal(dnr_dhcpv6(&d, out, sizeof(out)), 0);
	assert_int_equal(dnr_ra(&d, 1800, out, sizeof(out)), 0);
	d.n_addrs = 2;
	assert_int_equal(dnr_dhcpv4(&d, 1, out, 20), -1);
	assert_int_equal(dnr_dhcpv6(&d, out, 40), -1);
	assert_int_equal(dnr_ra(&d, 1800, out, 60), -1);
	d.alpn = "dot,";			/* an empty id */
	assert_int_equal(dnr_svcparams(&d, out, sizeof(out)), -1);
}

static void instances_of_a_configuration(void **state)
{
	const char *text =
		"server: { name: dns.corp.test }\n"
		"listen:\n"
		"  - { address: 127.0.0.1, port: 53, kind: dns }\n"
		"  - { address: 127.0.0.1, port: 853, kind: dot }\n"
		"  - { address: \"::1\", port: 853, kind: dot }\n"
		"  - { address: 127.0.0.1, port: 443, kind: https }\n"
		"tls: { addresses: [ 127.0.53.1, \"2001:db8::53\" ] }\n"
		"doh: { path: /q }\n"
		"upstream: [ { address: 127.0.0.1, port: 5300 } ]\n";
	struct anchord_config c;
	char err[512], path[64];
	assert_int_equal(config_load_buffer(text, strlen(text), "t.conf", &c,
					    err, sizeof(err)), 0);
	struct dnr_instance d[DNR_MAX_INSTANCES];
	size_t n = dnr_instances(&c, d, DNR_MAX_INSTANCES, path, sizeof(path));
	assert_int_equal(n, 2);		/* the second DoT listener is the same */
	assert_string_equal(d[0].alpn, "dot");
	assert_int_equal(d[0].port, 853);
	assert_int_equal(d[0].priority, 2);
	assert_null(d[0].dohpath);
	assert_string_equal(d[1].alpn, "h2,http/1.1");
	assert_int_equal(d[1].port, 443);
	assert_int_equal(d[1].priority, 1);
	assert_string_equal(d[1].dohpath, "/q{?dns}");
	assert_string_equal(d[1].adn, "dns.corp.test");
	assert_int_equal(d[1].n_addrs, 2);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dhcpv4_layout),
		cmocka_unit_test(dhcpv6_layout),
		cmocka_unit_test(ra_layout),
		cmocka_unit_test(doh_params),
		cmocka_unit_test(missing_family_and_overflow),
		cmocka_unit_test(instances_of_a_configuration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
