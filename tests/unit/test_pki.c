/*  anchord - unit tests of pki/: the built-in CA and the auto certificate. */
#include "test.h"

#include "pki/pki.h"

#include <gnutls/gnutls.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/anchord-pki-%d", (int)getpid());
	return util_mkdir_p(dir, 0700);
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void pin_of(const char *file, uint8_t d[PKI_DIGEST_LEN])
{
	char err[256];
	assert_int_equal(pki_pin_of_file(file, d, err, sizeof(err)), 0);
}

static void auto_certificate_lifecycle(void **state)
{
	struct util_addr addrs[2];
	util_addr_parse("127.0.0.1", 0, &addrs[0]);
	util_addr_parse("::1", 0, &addrs[1]);
	struct pki_auto_request r = { .state_dir = dir,
				      .name = "dns.corp.test",
				      .addresses = addrs, .n_addresses = 1 };
	struct pki_files f;
	bool issued;
	char err[256];
	assert_int_equal(pki_ensure_server_cert(&r, &f, &issued, err,
						sizeof(err)), 0);
	assert_true(issued);
	struct stat st;
	assert_int_equal(stat(f.key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	uint8_t first[PKI_DIGEST_LEN], again[PKI_DIGEST_LEN];
	pin_of(f.cert, first);
	/* nothing changed: the same certificate */
	assert_int_equal(pki_ensure_server_cert(&r, &f, &issued, err,
						sizeof(err)), 0);
	assert_false(issued);
	/* another address or name: a new certificate, the same key and pin */
	r.n_addresses = 2;
	assert_int_equal(pki_ensure_server_cert(&r, &f, &issued, err,
						sizeof(err)), 0);
	assert_true(issued);
	r.name = "resolver.corp.test";
	assert_int_equal(pki_ensure_server_cert(&r, &f, &issued, err,
						sizeof(err)), 0);
	assert_true(issued);
	pin_of(f.cert, again);
	assert_memory_equal(first, again, PKI_DIGEST_LEN);
	/* the server certificate chains to the CA file */
	gnutls_certificate_credentials_t cred;
	gnutls_certificate_allocate_credentials(&cred);
	assert_true(gnutls_certificate_set_x509_trust_file(cred, f.ca_cert,
		GNUTLS_X509_FMT_PEM) == 1);
	assert_true(gnutls_certificate_set_x509_key_file2(cred, f.cert, f.key,
		GNUTLS_X509_FMT_PEM, NULL, 0) >= 0);
	gnutls_certificate_free_credentials(cred);
}

static void pins_round_trip(void **state)
{
	uint8_t d[PKI_DIGEST_LEN], back[PKI_DIGEST_LEN];
	char b64[PKI_PIN_LEN], hex[PKI_HEX_LEN];
	for (int i = 0; i < PKI_DIGEST_LEN; i++)
		d[i] = (uint8_t)(i * 7);
	pki_pin_to_base64(d, b64);
	assert_int_equal(strlen(b64), 44);
	assert_int_equal(pki_pin_parse(b64, back), 0);
	assert_memory_equal(d, back, PKI_DIGEST_LEN);
	pki_pin_to_hex(d, hex);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(pki_pin_parse("short", back), -1);
	assert_int_equal(pki_pin_parse("not base64 at all !!!!!!!!!!!!!!!!!!!!!!!!",
				       back), -1);
}

static void ticket_secret_persists(void **state)
{
	uint8_t a[64], b[64];
	char err[256];
	assert_int_equal(pki_ticket_secret(dir, a, err, sizeof(err)), 0);
	assert_int_equal(pki_ticket_secret(dir, b, err, sizeof(err)), 0);
	assert_memory_equal(a, b, 64);
	char path[128];
	snprintf(path, sizeof(path), "%s/tickets.key", dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(auto_certificate_lifecycle),
		cmocka_unit_test(pins_round_trip),
		cmocka_unit_test(ticket_secret_persists),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
