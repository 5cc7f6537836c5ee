/*  anchord - unit tests of DANE matching (net/tls.c, net_dane_verify).
 *
 *  The built-in CA issues a certificate for dns.dane.test; the chain the
 *  server would send (leaf, then CA) is matched against TLSA records of
 *  every supported usage, selector and matching type.
 */
#include "test.h"

#include "net/net.h"
#include "pki/pki.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NAME "dns.dane.test"

static char dir[64];
static gnutls_datum_t der[2];		/* leaf, CA */
static gnutls_datum_t spki[2];
static struct net_der chain[2];

static void load_chain(const char *file)
{
	gnutls_datum_t pem;
	assert_int_equal(gnutls_load_file(file, &pem), 0);
	gnutls_x509_crt_t *crts;
	unsigned n;
	assert_int_equal(gnutls_x509_crt_list_import2(&crts, &n, &pem,
						      GNUTLS_X509_FMT_PEM, 0), 0);
	assert_int_equal(n, 2);
	for (unsigned i = 0; i < 2; i++) {
		gnutls_pubkey_t key;
		assert_int_equal(gnutls_x509_crt_export2(crts[i],
							 GNUTLS_X509_FMT_DER,
							 &der[i]), 0);
		gnutls_pubkey_init(&key);
		gnutls_pubkey_import_x509(key, crts[i], 0);
		assert_int_equal(gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER,
						       &spki[i]), 0);
		gnutls_pubkey_deinit(key);
		gnutls_x509_crt_deinit(crts[i]);
		chain[i] = (struct net_der){ der[i].data, der[i].size };
	}
	gnutls_free(crts);
	gnutls_free(pem.data);
}

static int setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/anchord-dane-%d", (int)getpid());
	if (util_mkdir_p(dir, 0700) != 0)
		return -1;
	struct pki_files files;
	char err[256];
	bool issued;
	struct pki_auto_request r = { .state_dir = dir, .name = NAME };
	if (pki_ensure_ca(dir, NULL, NULL, &files, err, sizeof(err)) != 0 ||
	    pki_ensure_server_cert(&r, &files, &issued, err, sizeof(err)) != 0)
		return -1;
	load_chain(files.cert);
	return 0;
}

static int teardown(void **state)
{
	for (int i = 0; i < 2; i++) {
		gnutls_free(der[i].data);
		gnutls_free(spki[i].data);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct net_dane_record record(uint8_t usage, uint8_t selector,
				     uint8_t mtype, int which)
{
	struct net_dane_record r = { .usage = usage, .selector = selector,
				     .mtype = mtype };
	const gnutls_datum_t *d = selector ? &spki[which] : &der[which];
	switch (mtype) {
	case 0:
		r.len = (uint16_t)d->size;
		memcpy(r.data, d->data, d->size);
		break;
	case 1:
		r.len = 32;
		gnutls_hash_fast(GNUTLS_DIG_SHA256, d->data, d->size, r.data);
		break;
	default:
		r.len = 64;
		gnutls_hash_fast(GNUTLS_DIG_SHA512, d->data, d->size, r.data);
		break;
	}
	return r;
}

static void dane_ee_every_selector_and_type(void **state)
{
	for (uint8_t sel = 0; sel < 2; sel++) {
		for (uint8_t mt = 0; mt < 3; mt++) {
			struct net_dane_record r = record(3, sel, mt, 0);
			assert_int_equal(net_dane_verify(&r, 1, chain, 2, NAME), 0);
			/* names do not matter for DANE-EE */
			assert_int_equal(net_dane_verify(&r, 1, chain, 1,
							 "other.test"), 0);
			r.data[0] ^= 1;
			assert_int_equal(net_dane_verify(&r, 1, chain, 2, NAME),
					 -1);
		}
	}
	/* the CA's key is no DANE-EE match for the leaf */
	struct net_dane_record ca = record(3, 1, 1, 1);
	assert_int_equal(net_dane_verify(&ca, 1, chain, 2, NAME), -1);
}

static void dane_ta_needs_the_chain_and_the_name(void **state)
{
	struct net_dane_record r = record(2, 0, 1, 1);
	assert_int_equal(net_dane_verify(&r, 1, chain, 2, NAME), 0);
	assert_int_equal(net_dane_verify(&r, 1, chain, 2, NAME "."), 0);
	assert_int_equal(net_dane_verify(&r, 1, chain, 2, "other.test"), -1);
	assert_int_equal(net_dane_verify(&r, 1, chain, 1, NAME), -1);
	r = record(2, 1, 2, 1);		/* by the CA's key */
	assert_int_equal(net_dane_verify(&r, 1, chain, 2, NAME), 0);
	/* the leaf is no trust anchor of itself */
	r = record(2, 0, 1, 0);
	assert_int_equal(net_dane_verify(&r, 1, chain, 2, NAME), -1);
}

static void unsupported_usages_never_match(void **state)
{
	struct net_dane_record r[3] = { record(0, 0, 1, 1), record(1, 1, 1, 0),
					record(3, 1, 1, 0) };
	r[2].mtype = 7;
	assert_int_equal(net_dane_verify(r, 3, chain, 2, NAME), -1);
	assert_int_equal(net_dane_verify(r, 0, chain, 2, NAME), -1);
	/* one good record among bad ones is enough */
	r[1] = record(3, 1, 1, 0);
	assert_int_equal(net_dane_verify(r, 3, chain, 2, NAME), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dane_ee_every_selector_and_type),
		cmocka_unit_test(dane_ta_needs_the_chain_and_the_name),
		cmocka_unit_test(unsupported_usages_never_match),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
