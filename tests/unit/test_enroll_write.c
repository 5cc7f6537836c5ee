/*  anchord - unit tests of the client side of enroll/: codes and URIs as
 *  people type them, the sealed bundle, the bundle parser, and that every
 *  configuration writer produces what its reader parses. */
#include "test.h"

#include "daemon/daemon.h"
#include "enroll/enroll.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

static char dir[64];
static char *ca_pem, *cert_pem, *key_pem;

/* ------------------------------------------------------------------ fixtures */

static char *pem_export_crt(gnutls_x509_crt_t crt)
{
	gnutls_datum_t d;
	assert_true(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) >= 0);
	char *s = strndup((char *)d.data, d.size);
	gnutls_free(d.data);
	return s;
}

/* A self-signed certificate for name; its key's PEM into key_out. */
static char *self_signed(const char *name, bool ca, char **key_out)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	gnutls_datum_t d;
	uint8_t serial[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	assert_true(gnutls_x509_privkey_init(&key) >= 0);
	assert_true(gnutls_x509_privkey_generate(
			    key, GNUTLS_PK_ECDSA,
			    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
			    0) >= 0);
	assert_true(gnutls_x509_crt_init(&crt) >= 0);
	gnutls_x509_crt_set_version(crt, 3);
	gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	gnutls_x509_crt_set_activation_time(crt, time(NULL) - 60);
	gnutls_x509_crt_set_expiration_time(crt, time(NULL) + 86400);
	gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
				      name, (unsigned)strlen(name));
	gnutls_x509_crt_set_basic_constraints(crt, ca, -1);
	assert_true(gnutls_x509_crt_set_key(crt, key) >= 0);
	assert_true(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256,
					  0) >= 0);
	char *pem = pem_export_crt(crt);
	if (key_out) {
		assert_true(gnutls_x509_privkey_export2(
				    key, GNUTLS_X509_FMT_PEM, &d) >= 0);
		*key_out = strndup((char *)d.data, d.size);
		gnutls_free(d.data);
	}
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return pem;
}

static int setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/anchord-enroll-%d", (int)getpid());
	ca_pem = self_signed("Test CA", true, NULL);
	cert_pem = self_signed("alice-laptop", false, &key_pem);
	return util_mkdir_p(dir, 0700);
}

static int teardown(void **state)
{
	char cmd[128];
	free(ca_pem);
	free(cert_pem);
	free(key_pem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

#define PIN1 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define PIN2 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

/* A good bundle, with the test CA. */
static char *bundle_json(void)
{
	json_t *b = json_pack(
		"{s:i,s:s,s:[s,s],s:{s:i},s:{s:s},s:[s,s],s:s,s:{s:s,s:s},"
		"s:{s:s},s:s,s:s,s:{s:s}}",
		"v", 1, "adn", "dns.test.example", "addresses", "127.0.0.1",
		"::1", "dot", "port", 8853, "doh", "template",
		"https://dns.test.example:8443/dns-query{?dns}", "spki_pins",
		PIN1, PIN2, "ca_pem", ca_pem, "est", "base",
		"https://dns.test.example:8443/.well-known/est", "token",
		"tok_123", "policy", "profile", "byod-staff", "device",
		"alice-laptop", "expires", "2027-11-23T00:00:00Z", "register",
		"token", "reg_456");
	char *s = json_dumps(b, 0);
	json_decref(b);
	return s;
}

static void load_bundle(struct enroll_bundle *b)
{
	char why[256];
	char *json = bundle_json();
	assert_int_equal(enroll_bundle_parse(json, b, why, sizeof(why)), 0);
	free(json);
}

static struct enroll_setup setup_of(const struct enroll_bundle *b)
{
	return (struct enroll_setup){
		.b = b, .ca_path = "/var/lib/a e/ca.pem",
		.cert_path = "/var/lib/a e/cert.pem",
		.key_path = "/var/lib/a e/key.pem", .cert_pem = cert_pem,
		.key_pem = key_pem, .stub_listen = "127.0.0.1@5353" };
}

static char *render(enum enroll_format f, const struct enroll_bundle *b)
{
	struct enroll_setup s = setup_of(b);
	char err[256] = "";
	char *text = enroll_render(f, &s, err, sizeof(err));
	if (!text)
		fail_msg("%s: %s", enroll_format_name(f), err);
	return text;
}

/* ------------------------------------------------------------------ codes, URIs */

static void codes_as_people_type_them(void **state)
{
	struct enroll_code c;
	char text[ENROLL_CODE_TEXT_LEN + 1];
	assert_int_equal(enroll_code_parse("ab12-cdef-ghjk-mnpq", &c), 0);
	assert_string_equal(c.id, "AB12");
	assert_string_equal(c.secret, "CDEFGHJKMNPQ");
	/* no dashes, spaces, look-alikes I/L -> 1, O -> 0 */
	assert_int_equal(enroll_code_parse("AB1 2CDEFGHJKMNPQ", &c), 0);
	assert_int_equal(enroll_code_parse("oOiL-0000-1111-2222", &c), 0);
	assert_string_equal(c.id, "0011");
	enroll_code_format(&c, text);
	assert_string_equal(text, "0011-0000-1111-2222");
	/* U is not Crockford; too short; too long */
	assert_int_equal(enroll_code_parse("UB12-CDEF-GHJK-MNPQ", &c), -1);
	assert_int_equal(enroll_code_parse("AB12-CDEF-GHJK-MNP", &c), -1);
	assert_int_equal(enroll_code_parse("AB12-CDEF-GHJK-MNPQR", &c), -1);
	assert_int_equal(enroll_code_parse("", &c), -1);
	assert_int_equal(enroll_code_parse("AB12_CDEF-GHJK-MNPQ", &c), -1);
}

static void uris_parse(void **state)
{
	struct enroll_uri u;
	char why[128];
	uint8_t pin[32];
	memset(pin, 0xab, sizeof(pin));
	char *pin64 = enroll_b64(pin, sizeof(pin)), uri[512];

	assert_int_equal(enroll_uri_parse("anchor://dns.test.example/enroll?"
					  "code=AB12-CDEF-GHJK-MNPQ", &u, why,
					  sizeof(why)), 0);
	assert_string_equal(u.host, "dns.test.example");
	assert_int_equal(u.port, 443);
	assert_false(u.has_pin);
	assert_string_equal(u.code.secret, "CDEFGHJKMNPQ");

	snprintf(uri, sizeof(uri), "anchor://h.example:8443/enroll?code="
		 "ab12cdefghjkmnpq&pin=%s", pin64);
	assert_int_equal(enroll_uri_parse(uri, &u, why, sizeof(why)), 0);
	assert_int_equal(u.port, 8443);
	assert_true(u.has_pin);
	assert_memory_equal(u.pin, pin, 32);

	snprintf(uri, sizeof(uri), "anchor://[fd53::53]:853/enroll?pin=%s&"
		 "code=AB12-CDEF-GHJK-MNPQ", pin64);
	assert_int_equal(enroll_uri_parse(uri, &u, why, sizeof(why)), 0);
	assert_string_equal(u.host, "fd53::53");
	assert_int_equal(u.port, 853);

	/* the formatter's output parses back */
	struct enroll_code c;
	enroll_code_parse("AB12-CDEF-GHJK-MNPQ", &c);
	assert_true(enroll_uri_format(uri, sizeof(uri), "fd53::53", 8443, &c,
				      pin) > 0);
	assert_int_equal(enroll_uri_parse(uri, &u, why, sizeof(why)), 0);
	assert_int_equal(u.port, 8443);

	static const char *const bad[] = {
		"https://h/enroll?code=AB12-CDEF-GHJK-MNPQ",
		"anchor://h/other?code=AB12-CDEF-GHJK-MNPQ",
		"anchor://h/enroll?pin=AAAA",
		"anchor://h/enroll?code=AB12",
		"anchor://h:0/enroll?code=AB12-CDEF-GHJK-MNPQ",
		"anchor://h:65536/enroll?code=AB12-CDEF-GHJK-MNPQ",
		"anchor://[::1/enroll?code=AB12-CDEF-GHJK-MNPQ",
		"anchor:///enroll?code=AB12-CDEF-GHJK-MNPQ",
		"anchor://h/enroll?code=AB12-CDEF-GHJK-MNPQ&pin=AAAA",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why[0] = '\0';
		if (enroll_uri_parse(bad[i], &u, why, sizeof(why)) != -1)
			fail_msg("accepted %s", bad[i]);
		assert_true(why[0] != '\0');
	}
	free(pin64);
}

static void sealed_bundle_needs_the_same_connection(void **state)
{
	uint8_t isk[64], key[ENROLL_KEY_BYTES], exp1[32], exp2[32];
	randombytes_buf(isk, sizeof(isk));
	randombytes_buf(exp1, sizeof(exp1));
	memcpy(exp2, exp1, sizeof(exp2));
	exp2[31] ^= 1;
	enroll_bundle_key(key, isk, sizeof(isk));
	const char *plain = "{\"v\":1}";
	uint8_t *box;
	size_t len, out_len;
	char *out;
	assert_int_equal(enroll_seal(&box, &len, key, exp1,
				     (const uint8_t *)plain, strlen(plain)), 0);
	assert_int_equal(enroll_open(&out, &out_len, key, exp1, box, len), 0);
	assert_string_equal(out, plain);
	free(out);
	/* another TLS connection, another key, an altered box: no */
	assert_int_equal(enroll_open(&out, &out_len, key, exp2, box, len), -1);
	isk[0] ^= 1;
	uint8_t other[ENROLL_KEY_BYTES];
	enroll_bundle_key(other, isk, sizeof(isk));
	assert_int_equal(enroll_open(&out, &out_len, other, exp1, box, len), -1);
	box[len - 1] ^= 1;
	assert_int_equal(enroll_open(&out, &out_len, key, exp1, box, len), -1);
	assert_int_equal(enroll_open(&out, &out_len, key, exp1, box, 10), -1);
	free(box);
}

/* ------------------------------------------------------------------ the bundle */

static void bundle_parses(void **state)
{
	struct enroll_bundle b;
	load_bundle(&b);
	assert_string_equal(b.adn, "dns.test.example");
	assert_int_equal(b.n_addresses, 2);
	assert_string_equal(b.addresses[1], "::1");
	assert_int_equal(b.dot_port, 8853);
	assert_int_equal(b.n_pins, 2);
	assert_true(enroll_bundle_pinned(&b, b.pin_digests[1]));
	uint8_t other[32] = { 1 };
	assert_false(enroll_bundle_pinned(&b, other));
	assert_string_equal(b.est_token, "tok_123");
	assert_true(b.has_register);
	assert_string_equal(b.register_token, "reg_456");
	assert_string_equal(b.device, "alice-laptop");
	char url[256];
	assert_int_equal(enroll_doh_url(b.doh_template, url, sizeof(url)), 0);
	assert_string_equal(url, "https://dns.test.example:8443/dns-query");
	enroll_bundle_free(&b);
}

/* Replace one member of the good bundle and expect a refusal. */
static void expect_refused(const char *key, json_t *value)
{
	char *good = bundle_json(), why[256] = "";
	json_t *root = json_loads(good, 0, NULL);
	if (value)
		json_object_set_new(root, key, value);
	else
		json_object_del(root, key);
	char *bad = json_dumps(root, 0);
	struct enroll_bundle b;
	if (enroll_bundle_parse(bad, &b, why, sizeof(why)) != -1)
		fail_msg("accepted a bundle with a bad %s", key);
	assert_true(why[0] != '\0');
	enroll_bundle_free(&b);
	free(bad);
	free(good);
	json_decref(root);
}

static void bad_bundles_are_refused(void **state)
{
	expect_refused("v", json_integer(2));
	expect_refused("adn", NULL);
	expect_refused("adn", json_string("dns\"\nx: y"));
	expect_refused("addresses", json_pack("[s]", "dns.test.example"));
	expect_refused("addresses", json_array());
	expect_refused("spki_pins", json_pack("[s]", "AAAA"));
	expect_refused("spki_pins", json_string(PIN1));
	expect_refused("dot", json_pack("{s:i}", "port", 0));
	expect_refused("doh", json_pack("{s:s}", "template",
					"http://x/dns-query{?dns}"));
	expect_refused("ca_pem", json_string("not a certificate"));
	expect_refused("est", json_pack("{s:s}", "base", "https://x/est"));
	expect_refused("device", json_string("../etc/passwd"));
	expect_refused("device", json_string(""));
	char why[128];
	struct enroll_bundle b;
	assert_int_equal(enroll_bundle_parse("{", &b, why, sizeof(why)), -1);
	assert_int_equal(enroll_bundle_parse("[]", &b, why, sizeof(why)), -1);
	assert_int_equal(enroll_bundle_parse("{\"v\":1,\"v\":1}", &b, why,
					     sizeof(why)), -1);
}

/* ------------------------------------------------------------------ writers */

/* The value of a top-level key of a YAML mapping as a node, or NULL. */
static yaml_node_t *yaml_get(yaml_document_t *doc, yaml_node_t *map,
			     const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k->type == YAML_SCALAR_NODE &&
		    strcmp((char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static const char *yaml_str(yaml_node_t *n)
{
	assert_non_null(n);
	assert_int_equal(n->type, YAML_SCALAR_NODE);
	return (const char *)n->data.scalar.value;
}

static void stubby_is_yaml_with_pins(void **state)
{
	struct enroll_bundle b;
	load_bundle(&b);
	char *text = render(ENROLL_FMT_STUBBY, &b);
	yaml_parser_t p;
	yaml_document_t doc;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text,
				     strlen(text));
	assert_int_equal(yaml_parser_load(&p, &doc), 1);
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	assert_int_equal(root->type, YAML_MAPPING_NODE);
	assert_string_equal(yaml_str(yaml_get(&doc, root, "tls_authentication")),
			    "GETDNS_AUTHENTICATION_REQUIRED");
	assert_string_equal(yaml_str(yaml_get(&doc, root, "tls_ca_file")),
			    "/var/lib/a e/ca.pem");
	yaml_node_t *ups = yaml_get(&doc, root, "upstream_recursive_servers");
	assert_int_equal(ups->type, YAML_SEQUENCE_NODE);
	assert_int_equal(ups->data.sequence.items.top -
				 ups->data.sequence.items.start, 2);
	yaml_node_t *u = yaml_document_get_node(
		&doc, ups->data.sequence.items.start[1]);
	assert_string_equal(yaml_str(yaml_get(&doc, u, "address_data")), "::1");
	assert_string_equal(yaml_str(yaml_get(&doc, u, "tls_port")), "8853");
	assert_string_equal(yaml_str(yaml_get(&doc, u, "tls_auth_name")),
			    "dns.test.example");
	yaml_node_t *pins = yaml_get(&doc, u, "tls_pubkey_pinset");
	yaml_node_t *pin0 = yaml_document_get_node(
		&doc, pins->data.sequence.items.start[0]);
	assert_string_equal(yaml_str(yaml_get(&doc, pin0, "value")), PIN1);
	assert_string_equal(yaml_str(yaml_get(&doc, pin0, "digest")), "sha256");
	yaml_node_t *listen = yaml_get(&doc, root, "listen_addresses");
	assert_string_equal(yaml_str(yaml_document_get_node(
				    &doc, listen->data.sequence.items.start[0])),
			    "127.0.0.1@5353");
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	free(text);
	enroll_bundle_free(&b);
}

static json_t *render_json(enum enroll_format f, const struct enroll_bundle *b)
{
	char *text = render(f, b);
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("%s: %s", enroll_format_name(f), e.text);
	free(text);
	return j;
}

static void browser_policies_are_json(void **state)
{
	struct enroll_bundle b;
	load_bundle(&b);
	json_t *ff = render_json(ENROLL_FMT_FIREFOX, &b);
	json_t *doh = json_object_get(json_object_get(ff, "policies"),
				      "DNSOverHTTPS");
	assert_true(json_is_true(json_object_get(doh, "Enabled")));
	assert_true(json_is_true(json_object_get(doh, "Locked")));
	assert_true(json_is_false(json_object_get(doh, "Fallback")));
	assert_string_equal(json_string_value(json_object_get(doh,
							      "ProviderURL")),
			    "https://dns.test.example:8443/dns-query");
	json_t *certs = json_object_get(json_object_get(ff, "policies"),
					"Certificates");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(certs, "Install"), 0)),
			    "/var/lib/a e/ca.pem");
	json_decref(ff);

	json_t *ch = render_json(ENROLL_FMT_CHROME, &b);
	assert_string_equal(json_string_value(json_object_get(
				    ch, "DnsOverHttpsMode")), "secure");
	assert_string_equal(json_string_value(json_object_get(
				    ch, "DnsOverHttpsTemplates")),
			    b.doh_template);
	json_decref(ch);

	json_t *all = render_json(ENROLL_FMT_JSON, &b);
	assert_string_equal(json_string_value(json_object_get(all, "device")),
			    "alice-laptop");
	assert_int_equal(json_integer_value(json_object_get(all, "dot_port")),
			 8853);
	assert_int_equal(json_array_size(json_object_get(all, "spki_pins")), 2);
	assert_string_equal(json_string_value(json_object_get(all, "key_file")),
			    "/var/lib/a e/key.pem");
	json_decref(all);
	enroll_bundle_free(&b);
}

static void resolved_drop_in(void **state)
{
	struct enroll_bundle b;
	load_bundle(&b);
	char *text = render(ENROLL_FMT_RESOLVED, &b);
	assert_non_null(strstr(text, "\n[Resolve]\nDNS=127.0.0.1:8853#"
				     "dns.test.example "
				     "[::1]:8853#dns.test.example\n"));
	assert_non_null(strstr(text, "\nDNSOverTLS=yes\n"));
	assert_non_null(strstr(text, "\nDomains=~.\n"));
	free(text);
	b.dot_port = 853;
	text = render(ENROLL_FMT_RESOLVED, &b);
	assert_non_null(strstr(text, "DNS=127.0.0.1#dns.test.example "
				     "::1#dns.test.example\n"));
	free(text);
	enroll_bundle_free(&b);
}

static void anchord_stub_config_loads(void **state)
{
	struct enroll_bundle b;
	load_bundle(&b);
	char *text = render(ENROLL_FMT_ANCHORD, &b), err[512];
	struct anchord_config c;
	if (config_load_buffer(text, strlen(text), "anchord-stub.conf", &c,
			       err, sizeof(err)) != 0)
		fail_msg("%s\n%s", err, text);
	config_free(&c);
	free(text);
	enroll_bundle_free(&b);
}

/* Tags open and close in order: <x> ... </x>, <x/>, <?...?>, <!...>. */
static void assert_xml_balanced(const char *s)
{
	char stack[32][64];
	int depth = 0;
	for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
		const char *end = strchr(p, '>');
		assert_non_null(end);
		if (p[1] == '?' || p[1] == '!' || end[-1] == '/')
			continue;
		bool closing = p[1] == '/';
		const char *name = p + 1 + closing;
		size_t n = strcspn(name, " >");
		assert_true(n < 64);
		if (closing) {
			assert_true(depth > 0);
			depth--;
			assert_int_equal(strlen(stack[depth]), n);
			assert_memory_equal(stack[depth], name, n);
		} else {
			assert_true(depth < 32);
			memcpy(stack[depth], name, n);
			stack[depth++][n] = '\0';
		}
	}
	assert_int_equal(depth, 0);
}

static void mobileconfig_is_a_plist(void **state)
{
	struct enroll_bundle b;
	load_bundle(&b);
	struct enroll_setup s = setup_of(&b);
	char path[512], err[256];
	assert_int_equal(enroll_write(ENROLL_FMT_MOBILECONFIG, &s, dir, path,
				      sizeof(path), err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);	/* the key is inside */
	char *text = render(ENROLL_FMT_MOBILECONFIG, &b);
	assert_xml_balanced(text);
	static const char *const expected[] = {
		"<string>Configuration</string>",
		"<string>com.apple.security.root</string>",
		"<string>com.apple.security.pkcs12</string>",
		"<string>com.apple.dnsSettings.managed</string>",
		"<key>DNSProtocol</key>\n<string>HTTPS</string>",
		"<string>https://dns.test.example:8443/dns-query</string>",
		"<key>PayloadCertificateUUID</key>",
		"<key>Password</key>",
	};
	for (size_t i = 0; i < ARRAY_SIZE(expected); i++)
		if (!strstr(text, expected[i]))
			fail_msg("no %s", expected[i]);
	free(text);
	/* python's plistlib is the reader the issue names; use it if here */
	if (access("/usr/bin/python3", X_OK) == 0) {
		char cmd[1100];
		snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c 'import plistlib,"
			 "sys; p = plistlib.load(open(sys.argv[1], \"rb\")); "
			 "c = p[\"PayloadContent\"]; assert len(c) == 3; "
			 "assert c[2][\"DNSSettings\"][\"PayloadCertificateUUID\"]"
			 " == c[1][\"PayloadUUID\"]' '%s'", path);
		assert_int_equal(system(cmd), 0);
	}
	enroll_bundle_free(&b);
}

static void formats_by_name(void **state)
{
	for (int f = 0; f < ENROLL_FMT_COUNT; f++) {
		assert_int_equal(enroll_format_parse(enroll_format_name(f)), f);
		assert_non_null(enroll_format_file(f));
	}
	assert_int_equal(enroll_format_parse("windows"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(codes_as_people_type_them),
		cmocka_unit_test(uris_parse),
		cmocka_unit_test(sealed_bundle_needs_the_same_connection),
		cmocka_unit_test(bundle_parses),
		cmocka_unit_test(bad_bundles_are_refused),
		cmocka_unit_test(stubby_is_yaml_with_pins),
		cmocka_unit_test(browser_policies_are_json),
		cmocka_unit_test(resolved_drop_in),
		cmocka_unit_test(anchord_stub_config_loads),
		cmocka_unit_test(mobileconfig_is_a_plist),
		cmocka_unit_test(formats_by_name),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
