/*  anchord - unit tests of daemon/config.c. */
#include "test.h"

#include "daemon/daemon.h"

#include <stdio.h>
#include <stdlib.h>

static char err[1024];

static int load(const char *text, struct anchord_config *c)
{
	return config_load_buffer(text, strlen(text), "/etc/anchord/t.conf", c,
				  err, sizeof(err));
}

#define MINIMAL "upstream: [ { address: 127.0.0.1, port: 5300 } ]\n"

static void minimal_and_defaults(void **state)
{
	struct anchord_config c;
	assert_int_equal(load(MINIMAL, &c), 0);
	assert_int_equal(c.workers, 1);
	assert_int_equal(c.n_listen, 2);		/* 127.0.0.1 and ::1, 53 */
	assert_int_equal(util_addr_port((struct sockaddr *)&c.listen[0].addr.ss),
			 53);
	assert_int_equal(c.dns.n_upstreams, 1);
	assert_int_equal(c.dns.upstreams[0].transport, DNS_UPSTREAM_UDP);
	assert_int_equal(c.dns.cache_size, 64 << 20);
	assert_int_equal(c.dns.serve_stale, 86400);
	assert_int_equal(c.dns.edns_udp_size, 1232);
	assert_int_equal(c.tcp_idle_timeout_ms, 10000);
	assert_int_equal(c.dns.tcp_keepalive_100ms, 100);
	assert_true(c.sandbox);				/* auto */
	config_free(&c);
}

static void full(void **state)
{
	struct anchord_config c;
	const char *text =
		"server:\n"
		"  name: dns.corp.test\n"
		"  state-dir: state\n"
		"  workers: 2\n"
		"  tcp-idle-timeout: 2500ms\n"
		"  sandbox: off\n"
		"listen:\n"
		"  - { address: 127.0.0.1, port: 8053, kind: dns }\n"
		"  - address: \"::1\"\n"
		"    port: 8053\n"
		"upstream:\n"
		"  - { address: 127.0.0.1, port: 5300, transport: tcp }\n"
		"  - { address: \"::1\" }\n"
		"cache: { size: 1M, serve-stale: 0, max-ttl: 1h }\n"
		"local-data:\n"
		"  - \"a.test. 60 IN A 127.0.0.1\"\n"
		"local-zones:\n"
		"  - { name: corp.test, file: corp.zone }\n"
		"  - { name: bad.test, type: nxdomain }\n"
		"log: { level: debug }\n";
	assert_int_equal(load(text, &c), 0);
	assert_string_equal(c.name, "dns.corp.test");
	assert_string_equal(c.state_dir, "/etc/anchord/state");
	assert_int_equal(c.workers, 2);
	assert_int_equal(c.tcp_idle_timeout_ms, 2500);
	assert_false(c.sandbox);
	assert_int_equal(c.n_listen, 2);
	assert_int_equal(c.dns.n_upstreams, 2);
	assert_int_equal(c.dns.upstreams[0].transport, DNS_UPSTREAM_TCP);
	assert_int_equal(util_addr_port((struct sockaddr *)&c.dns.upstreams[1].addr.ss),
			 53);
	assert_int_equal(c.dns.cache_size, 1 << 20);
	assert_int_equal(c.dns.serve_stale, 0);
	assert_int_equal(c.dns.max_ttl, 3600);
	assert_int_equal(c.dns.n_data, 1);
	assert_int_equal(c.dns.data[0].origin.line, 16);
	assert_int_equal(c.dns.n_zones, 2);
	assert_string_equal(c.dns.zones[0].file, "/etc/anchord/corp.zone");
	assert_int_equal(c.dns.zones[1].type, DNS_ZONE_NXDOMAIN);
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
	config_free(&c);
}

static void expect_error(const char *text, const char *needle)
{
	struct anchord_config c;
	assert_int_equal(load(text, &c), -1);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void errors(void **state)
{
	expect_error(MINIMAL "cache:\n  sise: 1M\n",
		     "/etc/anchord/t.conf:3: cache.sise: unknown key");
	expect_error(MINIMAL "cache:\n  size: lots\n",
		     "t.conf:3: cache.size: \"lots\" is not a size");
	expect_error(MINIMAL "bogus: 1\n", "t.conf:2: bogus: unknown section");
	expect_error(MINIMAL "server:\n  workers: 1\n  workers: 2\n",
		     "t.conf:4: server: key \"workers\" given twice");
	expect_error("upstream:\n  - { address: 10.0.0.300 }\n",
		     "t.conf:2: upstream: \"10.0.0.300\" is not an IPv4");
	expect_error("upstream:\n  - { address: 127.0.0.1, port: 70000 }\n",
		     "port must be 1 to 65535");
	expect_error("upstream:\n  - { address: 127.0.0.1, transport: doh }\n",
		     "upstream.transport: expected udp, tcp or dot");
	expect_error("upstream: []\n", "no upstream server given");
	expect_error(MINIMAL "listen:\n  - { address: 127.0.0.1, kind: doq }\n",
		     "listen.kind: \"doq\" is not supported");
	expect_error(MINIMAL "log: { level: loud }\n", "log.level: expected");
	expect_error(MINIMAL "server: { tcp-idle-timeout: 1ms }\n",
		     "out of range");
	expect_error(MINIMAL "local-zones:\n  - { name: x.test, type: odd }\n",
		     "local-zones.type: expected static");
	expect_error(MINIMAL "cache: { min-ttl: 2h, max-ttl: 1h }\n",
		     "cache.min-ttl: larger than cache.max-ttl");
	expect_error(MINIMAL "server: { sandbox: landlock }\n",
		     "server.sandbox: expected auto or off");
	expect_error("server: [\n", "YAML syntax error");
	expect_error("- just\n- a list\n", "expected a mapping");
}

static void tls_and_dot(void **state)
{
	struct anchord_config c;
	const char *text =
		"listen:\n"
		"  - { address: 127.0.0.1, port: 53 }\n"
		"  - { address: 127.0.0.1, kind: dot }\n"
		"  - { address: 0.0.0.0, port: 5353 }\n"
		"  - { address: \"::1\", kind: dot }\n"
		"tls:\n"
		"  client-certificates: require\n"
		"  handshake-timeout: 2s\n"
		"  session-tickets: false\n"
		"upstream:\n"
		"  - { address: 127.0.0.1, port: 8853, transport: dot,\n"
		"      pin: \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" }\n"
		"  - { address: 127.0.0.2, transport: dot, name: up.test,\n"
		"      pin: [ \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\n"
		"             \"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" ],\n"
		"      ca: ca.pem }\n";
	assert_int_equal(load(text, &c), 0);
	assert_true(config_has_tls(&c));
	assert_int_equal(c.listen[1].kind, LISTEN_DOT);
	assert_int_equal(util_addr_port((struct sockaddr *)&c.listen[1].addr.ss),
			 853);
	assert_null(c.tls.certificate);		/* auto */
	assert_int_equal(c.tls.client_certs, NET_CLIENT_CERT_REQUIRE);
	assert_int_equal(c.tls.handshake_timeout_ms, 2000);
	assert_false(c.tls.session_tickets);
	/* IP SANs by default: the listen addresses, wildcards left out */
	assert_int_equal(c.tls.n_addresses, 2);
	assert_int_equal(c.dns.upstreams[0].transport, DNS_UPSTREAM_DOT);
	assert_int_equal(c.dns.upstreams[0].n_pins, 1);
	assert_null(c.dns.upstreams[0].name);
	assert_int_equal(util_addr_port((struct sockaddr *)&c.dns.upstreams[1].addr.ss),
			 853);
	assert_int_equal(c.dns.upstreams[1].n_pins, 2);
	assert_int_equal(c.dns.upstreams[1].pins[1][0], 1);
	assert_string_equal(c.dns.upstreams[1].name, "up.test");
	assert_string_equal(c.dns.upstreams[1].ca_file, "/etc/anchord/ca.pem");
	config_free(&c);
	assert_int_equal(load(MINIMAL "tls:\n  certificate: s.pem\n"
			      "  key: s.key\n  addresses: [ 10.0.0.1 ]\n", &c),
			 0);
	assert_string_equal(c.tls.certificate, "/etc/anchord/s.pem");
	assert_int_equal(c.tls.n_addresses, 1);
	config_free(&c);
}

static void tls_errors(void **state)
{
	expect_error("upstream:\n  - { address: 127.0.0.1, transport: dot }\n",
		     "a dot upstream needs a name");
	expect_error("upstream:\n  - { address: 127.0.0.1, transport: dot,"
		     " pin: \"xyz\" }\n",
		     "upstream.pin: \"xyz\" is not a base64 SHA-256 SPKI pin");
	expect_error("upstream:\n  - { address: 127.0.0.1, name: a.test }\n",
		     "name, pin, ca and dane need transport: dot");
	expect_error(MINIMAL "tls: { certificate: c.pem }\n",
		     "certificate and key are both auto or both files");
	expect_error(MINIMAL "tls: { client-certificates: maybe }\n",
		     "tls.client-certificates: expected none");
	expect_error(MINIMAL "tls: { addresses: [ dns.test ] }\n",
		     "tls.addresses: \"dns.test\" is not an IPv4");
	expect_error(MINIMAL "tls: { session-tickets: sometimes }\n",
		     "tls.session-tickets: expected true or false");
}

static void https_doh_http_and_ddr(void **state)
{
	struct anchord_config c;
	const char *text =
		"server: { name: dns.corp.test }\n"
		"listen:\n"
		"  - { address: 127.0.0.1, port: 53 }\n"
		"  - { address: 127.0.0.1, kind: https }\n"
		"  - { address: \"::1\", port: 8853, kind: dot }\n"
		"doh: { path: /resolve }\n"
		"http: { max-streams: 10, buffer-budget: 1M, metrics: false,\n"
		"        metrics-allow: [ 10.0.0.0/8, \"fd00::/8\" ] }\n"
		MINIMAL;
	assert_int_equal(load(text, &c), 0);
	assert_int_equal(c.listen[1].kind, LISTEN_HTTPS);
	assert_int_equal(util_addr_port((struct sockaddr *)&c.listen[1].addr.ss),
			 443);
	assert_string_equal(c.doh_path, "/resolve");
	assert_int_equal(c.http.max_streams, 10);
	assert_int_equal(c.http.buffer_budget, 1 << 20);
	assert_false(c.http.metrics);
	assert_int_equal(c.http.n_metrics_allow, 2);
	/* DDR: two owners, two endpoints each, DoH first */
	assert_int_equal(c.dns.n_data, 4);
	assert_string_equal(c.dns.data[0].text,
		"_dns.resolver.arpa. 300 IN SVCB 1 dns.corp.test. "
		"alpn=h2,http/1.1 port=443 dohpath=/resolve{?dns} "
		"ipv4hint=127.0.0.1 ipv6hint=::1");
	assert_string_equal(c.dns.data[3].text,
		"_dns.dns.corp.test. 300 IN SVCB 2 dns.corp.test. alpn=dot "
		"port=8853 ipv4hint=127.0.0.1 ipv6hint=::1");
	char why[256];
	struct dns_env *env = dns_env_build(&c.dns, why, sizeof(why));
	assert_non_null(env);	/* ldns accepts the records */
	dns_env_unref(env);
	config_free(&c);
	/* no encrypted listener, no DDR records */
	assert_int_equal(load(MINIMAL, &c), 0);
	assert_int_equal(c.dns.n_data, 0);
	config_free(&c);
}

static void https_errors(void **state)
{
	expect_error(MINIMAL "doh: { path: dns-query }\n",
		     "doh.path: expected a path");
	expect_error(MINIMAL "doh: { path: \"/q?x\" }\n",
		     "doh.path: expected a path");
	expect_error(MINIMAL "http: { metrics-allow: [ 10.0.0.1/8 ] }\n",
		     "http.metrics-allow: \"10.0.0.1/8\" is not an address");
	expect_error(MINIMAL "http: { max-streams: 0 }\n", "out of range");
}

static void dnssec_and_dane(void **state)
{
	struct anchord_config c;
	assert_int_equal(load(MINIMAL, &c), 0);
	assert_false(c.dns.dnssec.validation);		/* off by default */
	assert_int_equal(c.dns.dnssec.n_trust_anchors, 0);
	config_free(&c);
	/* on without anchors: the installed root.key */
	assert_int_equal(load(MINIMAL "dnssec: { validation: true }\n", &c), 0);
	assert_int_equal(c.dns.dnssec.n_trust_anchors, 1);
	assert_string_equal(c.dns.dnssec.trust_anchors[0], ANCHORD_ROOT_KEY);
	config_free(&c);
	const char *text =
		"listen: [ { address: 127.0.0.1, port: 8853, kind: dot },\n"
		"          { address: 127.0.0.1, port: 443, kind: dot } ]\n"
		"upstream:\n"
		"  - { address: 127.0.0.1, transport: dot, name: up.test,\n"
		"      dane: true }\n"
		"tls: { publish-tlsa: true }\n"
		"dnssec:\n"
		"  validation: on\n"
		"  trust-anchors: [ root.key, /keys/corp.ds ]\n"
		"  negative-trust-anchors: [ broken.test, other.test. ]\n";
	assert_int_equal(load(text, &c), 0);
	assert_true(c.dns.dnssec.validation);
	assert_int_equal(c.dns.dnssec.n_trust_anchors, 2);
	assert_string_equal(c.dns.dnssec.trust_anchors[0],
			    "/etc/anchord/root.key");
	assert_string_equal(c.dns.dnssec.trust_anchors[1], "/keys/corp.ds");
	assert_int_equal(c.dns.dnssec.n_negative, 2);
	assert_string_equal(c.dns.dnssec.negative[0], "broken.test");
	assert_true(c.dns.upstreams[0].dane);
	assert_true(c.tls.publish_tlsa);
	uint16_t ports[4];
	assert_int_equal(config_tls_ports(&c, ports, 4), 2);
	assert_int_equal(ports[1], 443);
	config_free(&c);
}

static void dnssec_errors(void **state)
{
	expect_error(MINIMAL "dnssec:\n  validation: maybe\n",
		     "t.conf:3: dnssec.validation: expected true or false");
	expect_error(MINIMAL "dnssec:\n  validation: true\n  trust-anchors: []\n",
		     "dnssec.trust-anchors: validation needs at least one");
	expect_error(MINIMAL "dnssec:\n  negative-trust-anchors: [ \"a..b\" ]\n",
		     "t.conf:3: dnssec.negative-trust-anchors: \"a..b\" is not");
	expect_error(MINIMAL "dnssec: { trust-anchor: x }\n",
		     "dnssec.trust-anchor: unknown key");
	expect_error("upstream:\n  - { address: 127.0.0.1, transport: dot,\n"
		     "      name: up.test, dane: yes }\n",
		     "upstream.dane: needs dnssec.validation: true");
	expect_error("upstream:\n  - { address: 127.0.0.1, transport: dot,\n"
		     "      dane: true }\n",
		     "t.conf:3: upstream.dane: needs a name");
	expect_error("upstream:\n  - { address: 127.0.0.1, transport: dot,\n"
		     "      name: up.test, dane: true,\n"
		     "      pin: \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" }\n",
		     "replaces pin and ca");
	expect_error(MINIMAL "tls: { publish-tlsa: true }\n",
		     "tls.publish-tlsa: there is no TLS listener");
}

static void huge_mapping_is_bounded(void **state)
{
	/* A mapping with thousands of keys must not cost quadratic time. */
	size_t cap = 200000;
	char *text = malloc(cap);
	size_t n = (size_t)snprintf(text, cap, MINIMAL "listen:\n  - {");
	for (int i = 0; i < 5000; i++)
		n += (size_t)snprintf(text + n, cap - n, " k%d: v,", i);
	snprintf(text + n, cap - n, " address: 127.0.0.1 }\n");
	struct anchord_config c;
	assert_int_equal(load(text, &c), -1);
	assert_non_null(strstr(err, "too complex"));
	free(text);
}

/* Every key the parser knows is documented in anchord.conf(5), under its
 * section's heading. */
static void man_page_documents_every_key(void **state)
{
	const char *top = getenv("ANCHORD_SRCDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/man/anchord.conf.5", top ? top : ".");
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char man[65536];
	size_t n = fread(man, 1, sizeof(man) - 1, f);
	fclose(f);
	man[n] = '\0';
	for (size_t i = 0; config_known_keys[i]; i++) {
		char section[64], key[64], heading[96], entry[96];
		const char *dot = strchr(config_known_keys[i], '.');
		size_t slen = dot ? (size_t)(dot - config_known_keys[i])
				  : strlen(config_known_keys[i]);
		snprintf(section, sizeof(section), "%.*s", (int)slen,
			 config_known_keys[i]);
		snprintf(key, sizeof(key), "%s", dot ? dot + 1 : "");
		/* roff escapes hyphens */
		char *w = heading + snprintf(heading, sizeof(heading),
					     ".SH SECTION ");
		for (const char *r = section; *r; r++) {
			if (*r == '-')
				*w++ = '\\';
			*w++ = *r;
		}
		*w = '\0';
		const char *sec = strstr(man, heading);
		if (!sec)
			fail_msg("anchord.conf.5 lacks \"%s\"", heading);
		if (!dot)
			continue;
		w = entry + snprintf(entry, sizeof(entry), "\n.B ");
		for (const char *r = key; *r; r++) {
			if (*r == '-')
				*w++ = '\\';
			*w++ = *r;
		}
		*w++ = '\n';
		*w = '\0';
		const char *next = strstr(sec + 1, "\n.SH ");
		const char *found = strstr(sec, entry);
		if (!found || (next && found > next))
			fail_msg("anchord.conf.5 does not document %s",
				 config_known_keys[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(minimal_and_defaults),
		cmocka_unit_test(full),
		cmocka_unit_test(errors),
		cmocka_unit_test(tls_and_dot),
		cmocka_unit_test(tls_errors),
		cmocka_unit_test(https_doh_http_and_ddr),
		cmocka_unit_test(https_errors),
		cmocka_unit_test(dnssec_and_dane),
		cmocka_unit_test(dnssec_errors),
		cmocka_unit_test(huge_mapping_is_bounded),
		cmocka_unit_test(man_page_documents_every_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
