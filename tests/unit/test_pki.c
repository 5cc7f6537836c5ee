/*  anchord - unit tests of pki/: the built-in CA and the auto certificate. */
#include "test.h"

#include "pki/pki.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
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

/* RFC 8995 5.5: the registrar's signing certificate says id-kp-cmcRA,
 * chains to the CA, and stays the same while it is good. */
static void registrar_certificate(void **state)
{
	struct pki_auto_request r = { .state_dir = dir,
				      .name = "dns.corp.test" };
	struct pki_files f;
	char err[256];
	assert_int_equal(pki_ensure_registrar_cert(&r, &f, err, sizeof(err)),
			 0);
	uint8_t first[PKI_DIGEST_LEN], again[PKI_DIGEST_LEN];
	pin_of(f.cert, first);
	gnutls_datum_t pem;
	assert_int_equal(gnutls_load_file(f.cert, &pem), 0);
	gnutls_x509_crt_t crt;
	gnutls_x509_crt_init(&crt);
	assert_int_equal(gnutls_x509_crt_import(crt, &pem,
						GNUTLS_X509_FMT_PEM), 0);
	char oid[64];
	bool cmc_ra = false;
	for (unsigned i = 0;; i++) {
		size_t len = sizeof(oid);
		if (gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &len,
							NULL) < 0)
			break;
		cmc_ra |= strcmp(oid, PKI_OID_CMC_RA) == 0;
	}
	assert_true(cmc_ra);
	char dn[256];
	size_t dnlen = sizeof(dn);
	assert_int_equal(gnutls_x509_crt_get_dn(crt, dn, &dnlen), 0);
	assert_string_equal(dn, "CN=dns.corp.test registrar");
	gnutls_x509_crt_deinit(crt);
	gnutls_free(pem.data);
	struct stat st;
	assert_int_equal(stat(f.key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	gnutls_certificate_credentials_t cred;
	gnutls_certificate_allocate_credentials(&cred);
	assert_true(gnutls_certificate_set_x509_key_file2(cred, f.cert, f.key,
		GNUTLS_X509_FMT_PEM, NULL, 0) >= 0);
	gnutls_certificate_free_credentials(cred);
	assert_int_equal(pki_ensure_registrar_cert(&r, &f, err, sizeof(err)),
			 0);
	pin_of(f.cert, again);
	assert_memory_equal(first, again, PKI_DIGEST_LEN);
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

/* ------------------------------------------------------------------ issuing */

/* A PKCS#10 request made with GnuTLS, as a device would. */
static void make_csr(gnutls_pk_algorithm_t pk, unsigned bits,
		     const char *cn, const char *challenge, const char *san,
		     gnutls_datum_t *der, gnutls_x509_privkey_t *keyp)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crq_t crq;
	assert_true(gnutls_x509_privkey_init(&key) >= 0);
	assert_true(gnutls_x509_privkey_generate(key, pk, bits, 0) >= 0);
	assert_true(gnutls_x509_crq_init(&crq) >= 0);
	assert_true(gnutls_x509_crq_set_dn_by_oid(crq,
		GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn)) >= 0);
	if (challenge)
		assert_true(gnutls_x509_crq_set_challenge_password(crq,
							challenge) >= 0);
	if (san)
		assert_true(gnutls_x509_crq_set_subject_alt_name(crq,
			GNUTLS_SAN_DNSNAME, san, (unsigned)strlen(san),
			GNUTLS_FSAN_APPEND) >= 0);
	assert_true(gnutls_x509_crq_set_key(crq, key) >= 0);
	assert_true(gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0) >= 0);
	assert_true(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, der) >= 0);
	gnutls_x509_crq_deinit(crq);
	if (keyp)
		*keyp = key;
	else
		gnutls_x509_privkey_deinit(key);
}

static struct pki_ca *open_ca(void)
{
	struct pki_ca *ca;
	char err[256];
	assert_int_equal(pki_ca_open(dir, NULL, NULL, &ca, err, sizeof(err)),
			 0);
	return ca;
}

static void csr_challenge_is_read_verbatim(void **state)
{
	/* base64 channel bindings carry '+', '/' and '='; GnuTLS's own
	 * getter would escape the '+' */
	const char *cb = "a+b/c=d,e+f==";
	gnutls_datum_t der;
	make_csr(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
		 "dev", cb, "cam.devices.test", &der, NULL);
	struct pki_csr csr = { 0 };
	char why[256];
	assert_int_equal(pki_csr_parse(der.data, der.size, &csr, why,
				       sizeof(why)), 0);
	assert_true(csr.has_challenge);
	assert_string_equal(csr.challenge, cb);
	assert_int_equal(csr.n_dns_sans, 1);
	assert_string_equal(csr.dns_sans[0], "cam.devices.test");
	assert_false(csr.other_sans);
	pki_csr_free(&csr);
	gnutls_free(der.data);
}

static void weak_and_broken_csrs_are_refused(void **state)
{
	struct pki_csr csr = { 0 };
	char why[256];
	gnutls_datum_t der;
	make_csr(GNUTLS_PK_RSA, 1024, "weak", NULL, NULL, &der, NULL);
	assert_int_equal(pki_csr_parse(der.data, der.size, &csr, why,
				       sizeof(why)), -1);
	assert_non_null(strstr(why, "too weak"));
	gnutls_free(der.data);

	make_csr(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
		 "broken", NULL, NULL, &der, NULL);
	der.data[der.size - 3] ^= 0x40;	/* inside the signature */
	assert_int_equal(pki_csr_parse(der.data, der.size, &csr, why,
				       sizeof(why)), -1);
	assert_non_null(strstr(why, "signature"));
	assert_int_equal(pki_csr_parse(der.data, 10, &csr, why, sizeof(why)),
			 -1);
	assert_non_null(strstr(why, "PKCS#10"));
	gnutls_free(der.data);
}

static void issued_certificate_follows_policy(void **state)
{
	struct pki_ca *ca = open_ca();
	gnutls_datum_t der;
	gnutls_x509_privkey_t key;
	make_csr(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
		 "asked-for", NULL, NULL, &der, &key);
	struct pki_csr csr = { 0 };
	char why[256];
	assert_int_equal(pki_csr_parse(der.data, der.size, &csr, why,
				       sizeof(why)), 0);
	const char *sans[] = { "laptop.devices.test" };
	struct pki_issue req = { .csr = &csr, .common_name = "laptop-1",
				 .dns_sans = sans, .n_dns_sans = 1,
				 .validity_days = 30, .client_auth = true };
	struct pki_issued a, b;
	assert_int_equal(pki_issue(ca, &req, &a, why, sizeof(why)), 0);
	assert_int_equal(pki_issue(ca, &req, &b, why, sizeof(why)), 0);
	assert_int_equal(strlen(a.serial), 32);
	assert_string_not_equal(a.serial, b.serial);
	assert_true(a.not_after - a.not_before >= 30 * 86400 - 3600);
	assert_true(a.not_after - a.not_before <= 30 * 86400 + 3600);
	assert_memory_equal(a.spki_sha256, csr.spki_sha256, PKI_DIGEST_LEN);

	gnutls_x509_crt_t crt, cacrt;
	assert_true(gnutls_x509_crt_init(&crt) >= 0);
	assert_true(gnutls_x509_crt_init(&cacrt) >= 0);
	assert_true(gnutls_x509_crt_import(crt, &a.der, GNUTLS_X509_FMT_DER) >= 0);
	assert_true(gnutls_x509_crt_import(cacrt, pki_ca_der(ca),
					   GNUTLS_X509_FMT_DER) >= 0);
	unsigned status = 1;
	assert_true(gnutls_x509_crt_list_verify(&crt, 1, &cacrt, 1, NULL, 0, 0,
						&status) >= 0);
	assert_int_equal(status, 0);
	char cn[64];
	size_t len = sizeof(cn);
	assert_true(gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
						  0, 0, cn, &len) >= 0);
	assert_string_equal(cn, "laptop-1");	/* the server decides */
	char oid[64];
	len = sizeof(oid);
	assert_true(gnutls_x509_crt_get_key_purpose_oid(crt, 0, oid, &len,
							NULL) >= 0);
	assert_string_equal(oid, GNUTLS_KP_TLS_WWW_CLIENT);
	len = sizeof(oid);
	assert_true(gnutls_x509_crt_get_key_purpose_oid(crt, 1, oid, &len,
							NULL) < 0);
	unsigned critical = 0;
	assert_true(gnutls_x509_crt_get_basic_constraints(crt, &critical, NULL,
							  NULL) == 0); /* not a CA */
	char san[128];
	len = sizeof(san);
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name(crt, 0, san, &len,
							      NULL),
			 GNUTLS_SAN_DNSNAME);
	assert_string_equal(san, "laptop.devices.test");
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(cacrt);
	gnutls_x509_privkey_deinit(key);
	pki_issued_free(&a);
	pki_issued_free(&b);
	pki_csr_free(&csr);
	gnutls_free(der.data);
	pki_ca_free(ca);
}

static void crl_lists_revoked_serials(void **state)
{
	struct pki_ca *ca = open_ca();
	struct pki_revoked r[2] = { { "7f00112233445566778899aabbccddee", 1000 },
				    { "0102", 2000 } };
	gnutls_datum_t der, p7;
	assert_int_equal(pki_crl(ca, r, 2, 42, 3600, &der), 0);
	gnutls_x509_crl_t crl;
	assert_true(gnutls_x509_crl_init(&crl) >= 0);
	assert_true(gnutls_x509_crl_import(crl, &der, GNUTLS_X509_FMT_DER) >= 0);
	assert_int_equal(gnutls_x509_crl_get_crt_count(crl), 2);
	uint8_t serial[20];
	size_t len = sizeof(serial);
	time_t at;
	assert_true(gnutls_x509_crl_get_crt_serial(crl, 0, serial, &len, &at) >= 0);
	assert_int_equal(len, 16);
	assert_int_equal(serial[0], 0x7f);
	assert_int_equal(at, 1000);
	gnutls_x509_crl_deinit(crl);
	/* the crls-only wrapper says id-data (RFC 5652 5.2) */
	assert_int_equal(pki_crls_only(&der, &p7), 0);
	static const uint8_t id_data[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
					   0xf7, 0x0d, 0x01, 0x07, 0x01 };
	assert_non_null(memmem(p7.data, p7.size, id_data, sizeof(id_data)));
	gnutls_free(p7.data);
	gnutls_free(der.data);
	pki_ca_free(ca);
}

static void server_generated_key_is_pkcs8(void **state)
{
	void *key;
	gnutls_datum_t der;
	assert_int_equal(pki_new_key(&key), 0);
	assert_int_equal(pki_key_pkcs8(key, &der), 0);
	gnutls_x509_privkey_t back;
	assert_true(gnutls_x509_privkey_init(&back) >= 0);
	assert_true(gnutls_x509_privkey_import_pkcs8(back, &der,
		GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN) >= 0);
	assert_int_equal(gnutls_x509_privkey_get_pk_algorithm(back),
			 GNUTLS_PK_ECDSA);
	gnutls_x509_privkey_deinit(back);
	gnutls_memset(der.data, 0, der.size);
	gnutls_free(der.data);
	pki_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(auto_certificate_lifecycle),
		cmocka_unit_test(registrar_certificate),
		cmocka_unit_test(pins_round_trip),
		cmocka_unit_test(ticket_secret_persists),
		cmocka_unit_test(csr_challenge_is_read_verbatim),
		cmocka_unit_test(weak_and_broken_csrs_are_refused),
		cmocka_unit_test(issued_certificate_follows_policy),
		cmocka_unit_test(crl_lists_revoked_serials),
		cmocka_unit_test(server_generated_key_is_pkcs8),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
