/*  anchord - tests/unit/test_brski.c: BRSKI vouchers (src/brski/).
 *
 *  The certificates are made here with GnuTLS: a manufacturer CA and an
 *  IDevID (ECDSA P-256, serialNumber, masa-url), a domain CA and a
 *  registrar (RSA 2048), and an unrelated CA. Interoperability with
 *  OpenSSL is checked by running the openssl command on what we sign and
 *  verifying what it signs (skipped when openssl is not installed).
 */
#include "test.h"

#include "brski/brski.h"
#include "brski/internal.h"

#include <gnutls/abstract.h>
#include <gnutls/pkcs7.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MASA_URL "https://127.0.0.1:8443"
#define SERIAL "PLG-0042"

struct id {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
	gnutls_privkey_t pkey;
	gnutls_datum_t der;
};

static struct id mfg_ca, idevid, domain_ca, registrar, other_ca;
static unsigned next_serial = 1;
static char tmpdir[64];

static void set_key_ids(struct id *id, struct id *issuer)
{
	uint8_t kid[64];
	size_t size = sizeof(kid);
	assert_int_equal(gnutls_x509_crt_get_key_id(id->crt, 0, kid, &size), 0);
	assert_int_equal(gnutls_x509_crt_set_subject_key_id(id->crt, kid, size), 0);
	if (issuer == NULL)
		return;
	size = sizeof(kid);
	assert_int_equal(gnutls_x509_crt_get_subject_key_id(issuer->crt, kid,
							    &size, NULL), 0);
	assert_int_equal(gnutls_x509_crt_set_authority_key_id(id->crt, kid, size), 0);
}

static void set_masa_url(gnutls_x509_crt_t crt, const char *url)
{
	unsigned char tl[ASN1_MAX_TL_SIZE], der[256];
	unsigned tl_len = sizeof(tl);
	size_t n = strlen(url);
	assert_int_equal(asn1_encode_simple_der(ASN1_ETYPE_IA5_STRING,
						(const unsigned char *)url,
						(unsigned)n, tl, &tl_len), ASN1_SUCCESS);
	memcpy(der, tl, tl_len);
	memcpy(der + tl_len, url, n);
	assert_int_equal(gnutls_x509_crt_set_extension_by_oid(
		crt, BRSKI_MASA_URL_OID, der, tl_len + n, 0), 0);
}

/* A certificate for cn issued by issuer (NULL: self-signed CA). */
static void make_id(struct id *id, gnutls_pk_algorithm_t pk, const char *cn,
		    struct id *issuer, bool ca, const char *serial_number)
{
	unsigned serial = next_serial++;
	time_t now = time(NULL);
	unsigned bits = pk == GNUTLS_PK_RSA ? 2048
		: GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
	assert_int_equal(gnutls_x509_privkey_init(&id->key), 0);
	assert_int_equal(gnutls_x509_privkey_generate(id->key, pk, bits, 0), 0);
	assert_int_equal(gnutls_x509_crt_init(&id->crt), 0);
	gnutls_x509_crt_set_version(id->crt, 3);
	gnutls_x509_crt_set_serial(id->crt, &serial, sizeof(serial));
	gnutls_x509_crt_set_activation_time(id->crt, now - 3600);
	gnutls_x509_crt_set_expiration_time(id->crt, now + 86400 * 365);
	gnutls_x509_crt_set_dn_by_oid(id->crt, GNUTLS_OID_X520_COMMON_NAME, 0,
				      cn, (unsigned)strlen(cn));
	if (serial_number != NULL)
		gnutls_x509_crt_set_dn_by_oid(id->crt, BRSKI_SERIAL_NUMBER_OID, 0,
					      serial_number,
					      (unsigned)strlen(serial_number));
	assert_int_equal(gnutls_x509_crt_set_key(id->crt, id->key), 0);
	gnutls_x509_crt_set_basic_constraints(id->crt, ca, -1);
	gnutls_x509_crt_set_key_usage(id->crt, ca ? GNUTLS_KEY_KEY_CERT_SIGN |
				      GNUTLS_KEY_CRL_SIGN : GNUTLS_KEY_DIGITAL_SIGNATURE);
	set_key_ids(id, issuer);
	if (serial_number != NULL)
		set_masa_url(id->crt, MASA_URL);
	assert_int_equal(gnutls_privkey_init(&id->pkey), 0);
	assert_int_equal(gnutls_privkey_import_x509(id->pkey, id->key, 0), 0);
	assert_int_equal(gnutls_x509_crt_privkey_sign(
		id->crt, issuer ? issuer->crt : id->crt,
		issuer ? issuer->pkey : id->pkey, GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crt_export2(id->crt, GNUTLS_X509_FMT_DER,
						 &id->der), 0);
}

static void free_id(struct id *id)
{
	gnutls_privkey_deinit(id->pkey);
	gnutls_x509_privkey_deinit(id->key);
	gnutls_x509_crt_deinit(id->crt);
	gnutls_free(id->der.data);
}

/* Writes the certificate and the key of id as PEM files under tmpdir. */
static void write_pem(const struct id *id, const char *name)
{
	char path[128];
	gnutls_datum_t pem;
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s.crt", tmpdir, name);
	assert_int_equal(gnutls_x509_crt_export2(id->crt, GNUTLS_X509_FMT_PEM, &pem), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(pem.data, 1, pem.size, f);
	fclose(f);
	gnutls_free(pem.data);
	snprintf(path, sizeof(path), "%s/%s.key", tmpdir, name);
	assert_int_equal(gnutls_x509_privkey_export2_pkcs8(
		id->key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &pem), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(pem.data, 1, pem.size, f);
	fclose(f);
	gnutls_free(pem.data);
}

static int setup(void **state)
{
	make_id(&mfg_ca, GNUTLS_PK_ECDSA, "Manufacturer CA", NULL, true, NULL);
	make_id(&idevid, GNUTLS_PK_ECDSA, "pledge", &mfg_ca, false, SERIAL);
	make_id(&domain_ca, GNUTLS_PK_RSA, "Domain CA", NULL, true, NULL);
	make_id(&registrar, GNUTLS_PK_RSA, "registrar", &domain_ca, false, NULL);
	make_id(&other_ca, GNUTLS_PK_ECDSA, "Other CA", NULL, true, NULL);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_brski.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	write_pem(&mfg_ca, "mfg_ca");
	write_pem(&idevid, "idevid");
	write_pem(&domain_ca, "domain_ca");
	write_pem(&registrar, "registrar");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	free_id(&mfg_ca);
	free_id(&idevid);
	free_id(&domain_ca);
	free_id(&registrar);
	free_id(&other_ca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char request_json[] =
	"{\"ietf-voucher-request:voucher\":{\"created-on\":"
	"\"2026-11-24T05:00:00Z\",\"assertion\":\"proximity\","
	"\"serial-number\":\"" SERIAL "\",\"nonce\":\"AAECAwQFBgc=\"}}";

static void sign_request(const struct id *signer, const gnutls_x509_crt_t *chain,
			 size_t nchain, struct brski_blob *out)
{
	char err[256] = "";
	int ret = brski_cms_sign((const uint8_t *)request_json,
				 strlen(request_json), signer->crt, signer->pkey,
				 chain, nchain, out, err, sizeof(err));
	if (ret != 0)
		fail_msg("sign: %s", err);
}

static gnutls_x509_trust_list_t anchors_of(const struct id *ca)
{
	gnutls_x509_trust_list_t tl;
	gnutls_x509_crt_t copy;
	assert_int_equal(gnutls_x509_trust_list_init(&tl, 0), 0);
	assert_int_equal(gnutls_x509_crt_init(&copy), 0);
	assert_int_equal(gnutls_x509_crt_import(copy, &ca->der, GNUTLS_X509_FMT_DER), 0);
	assert_int_equal(gnutls_x509_trust_list_add_cas(tl, &copy, 1, 0), 1);
	return tl;
}

static int verify_pinned(const struct brski_blob *cms, const struct id *pin,
			 struct brski_cms_result *res, char *err, size_t errlen)
{
	struct brski_cms_trust t = { .signer_der = pin->der.data,
				     .signer_der_len = pin->der.size };
	return brski_cms_verify(cms->data, cms->len, &t, res, err, errlen);
}

static int verify_anchored(const struct brski_blob *cms, const struct id *ca,
			   struct brski_cms_result *res, char *err, size_t errlen)
{
	gnutls_x509_trust_list_t tl = anchors_of(ca);
	struct brski_cms_trust t = { .anchors = tl };
	int ret = brski_cms_verify(cms->data, cms->len, &t, res, err, errlen);
	gnutls_x509_trust_list_deinit(tl, 1);
	return ret;
}

static void ecdsa_round_trip_against_the_idevid(void **state)
{
	struct brski_blob cms;
	struct brski_cms_result res;
	char err[256] = "";
	sign_request(&idevid, NULL, 0, &cms);
	if (verify_pinned(&cms, &idevid, &res, err, sizeof(err)) != 0)
		fail_msg("verify: %s", err);
	assert_int_equal(res.json.len, strlen(request_json));
	assert_memory_equal(res.json.data, request_json, res.json.len);
	assert_int_equal(res.signer.len, idevid.der.size);
	assert_memory_equal(res.signer.data, idevid.der.data, idevid.der.size);
	assert_int_equal(res.ncerts, 0);
	brski_cms_result_free(&res);
	/* the same signer also chains to its manufacturer */
	assert_int_equal(verify_anchored(&cms, &mfg_ca, &res, err, sizeof(err)), 0);
	brski_cms_result_free(&res);
	brski_blob_free(&cms);
}

static void rsa_round_trip_with_chain(void **state)
{
	struct brski_blob cms;
	struct brski_cms_result res;
	char err[256] = "";
	sign_request(&registrar, &domain_ca.crt, 1, &cms);
	if (verify_anchored(&cms, &domain_ca, &res, err, sizeof(err)) != 0)
		fail_msg("verify: %s", err);
	assert_memory_equal(res.json.data, request_json, res.json.len);
	assert_memory_equal(res.signer.data, registrar.der.data, registrar.der.size);
	assert_int_equal(res.ncerts, 1);
	assert_int_equal(res.certs[0].len, domain_ca.der.size);
	assert_memory_equal(res.certs[0].data, domain_ca.der.data, domain_ca.der.size);
	brski_cms_result_free(&res);
	brski_blob_free(&cms);
}

static void signer_must_match(void **state)
{
	struct brski_blob cms;
	struct brski_cms_result res;
	char err[256] = "";
	sign_request(&idevid, NULL, 0, &cms);
	assert_int_equal(verify_pinned(&cms, &registrar, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another certificate"));
	assert_int_equal(verify_anchored(&cms, &other_ca, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not trusted"));
	brski_blob_free(&cms);
	sign_request(&registrar, &domain_ca.crt, 1, &cms);
	assert_int_equal(verify_anchored(&cms, &other_ca, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not trusted"));
	assert_null(res.json.data);
	brski_blob_free(&cms);
}

static void tampered_content_fails(void **state)
{
	struct brski_blob cms;
	struct brski_cms_result res;
	char err[256] = "";
	uint8_t *at;
	sign_request(&idevid, NULL, 0, &cms);
	at = memmem(cms.data, cms.len, SERIAL, strlen(SERIAL));
	assert_non_null(at);
	at[0] ^= 1;
	assert_int_equal(verify_pinned(&cms, &idevid, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not verify"));
	brski_blob_free(&cms);
}

/* GnuTLS alone signs with id-data: the wrong eContentType. */
static void id_data_is_refused(void **state)
{
	gnutls_pkcs7_t p7;
	gnutls_datum_t data = { (unsigned char *)request_json,
				(unsigned)strlen(request_json) }, der;
	struct brski_blob cms;
	struct brski_cms_result res;
	char err[256] = "";
	assert_int_equal(gnutls_pkcs7_init(&p7), 0);
	assert_int_equal(gnutls_pkcs7_sign(p7, idevid.crt, idevid.pkey, &data,
					   NULL, NULL, GNUTLS_DIG_SHA256,
					   GNUTLS_PKCS7_EMBED_DATA |
					   GNUTLS_PKCS7_INCLUDE_CERT), 0);
	assert_int_equal(gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &der), 0);
	gnutls_pkcs7_deinit(p7);
	cms.data = der.data;
	cms.len = der.size;
	assert_int_equal(verify_pinned(&cms, &idevid, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "eContentType is 1.2.840.113549.1.7.1"));
	gnutls_free(der.data);
}

/* Rewrites the SignedData of a CMS with libtasn1: edit changes the
 * decoded SignedData in place. */
static void rewrite_cms(struct brski_blob *cms, void (*edit)(asn1_node sd))
{
	asn1_node defs = NULL, ci = NULL, sd = NULL;
	uint8_t buf[8192];
	int len = sizeof(buf);
	assert_int_equal(asn1_array2tree(brski_cms_asn1_tab, &defs, NULL), ASN1_SUCCESS);
	assert_int_equal(asn1_create_element(defs, "BRSKI-CMS.ContentInfo", &ci), 0);
	assert_int_equal(asn1_create_element(defs, "BRSKI-CMS.SignedData", &sd), 0);
	assert_int_equal(asn1_der_decoding(&ci, cms->data, (int)cms->len, NULL), 0);
	assert_int_equal(asn1_read_value(ci, "content", buf, &len), 0);
	assert_int_equal(asn1_der_decoding(&sd, buf, len, NULL), 0);
	edit(sd);
	len = sizeof(buf);
	assert_int_equal(asn1_der_coding(sd, "", buf, &len, NULL), 0);
	assert_int_equal(asn1_write_value(ci, "content", buf, len), 0);
	len = sizeof(buf);
	assert_int_equal(asn1_der_coding(ci, "", buf, &len, NULL), 0);
	brski_blob_free(cms);
	assert_int_equal(brski_blob_set(cms, buf, (size_t)len), 0);
	asn1_delete_structure(&sd);
	asn1_delete_structure(&ci);
	asn1_delete_structure(&defs);
}

static void drop_signer(asn1_node sd)
{
	assert_int_equal(asn1_delete_element(sd, "signerInfos.?1"), 0);
}

static void duplicate_signer(asn1_node sd)
{
	assert_int_equal(asn1_write_value(sd, "signerInfos", "NEW", 1), 0);
	assert_int_equal(asn1_copy_node(sd, "signerInfos.?2", sd,
					"signerInfos.?1"), 0);
}

static void set_voucher_econtent_type(asn1_node sd)
{
	assert_int_equal(asn1_write_value(sd, "encapContentInfo.eContentType",
					  BRSKI_VOUCHER_OID, 1), 0);
}

static void one_signer_exactly(void **state)
{
	struct brski_blob cms;
	struct brski_cms_result res;
	char err[256] = "";
	sign_request(&idevid, NULL, 0, &cms);
	rewrite_cms(&cms, drop_signer);
	assert_int_equal(verify_pinned(&cms, &idevid, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0 signers"));
	brski_blob_free(&cms);
	sign_request(&idevid, NULL, 0, &cms);
	rewrite_cms(&cms, duplicate_signer);
	assert_int_equal(verify_pinned(&cms, &idevid, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "2 signers"));
	brski_blob_free(&cms);
}

/* eContentType says voucher, the signed contentType attribute id-data:
 * what patching GnuTLS's output without re-signing would give. */
static void content_type_attribute_must_match(void **state)
{
	gnutls_pkcs7_t p7;
	gnutls_datum_t data = { (unsigned char *)request_json,
				(unsigned)strlen(request_json) }, der;
	struct brski_blob cms;
	struct brski_cms_result res;
	char err[256] = "";
	assert_int_equal(gnutls_pkcs7_init(&p7), 0);
	assert_int_equal(gnutls_pkcs7_sign(p7, idevid.crt, idevid.pkey, &data,
					   NULL, NULL, GNUTLS_DIG_SHA256,
					   GNUTLS_PKCS7_EMBED_DATA |
					   GNUTLS_PKCS7_INCLUDE_CERT |
					   GNUTLS_PKCS7_INCLUDE_TIME), 0);
	assert_int_equal(gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &der), 0);
	gnutls_pkcs7_deinit(p7);
	assert_int_equal(brski_blob_set(&cms, der.data, der.size), 0);
	gnutls_free(der.data);
	rewrite_cms(&cms, set_voucher_econtent_type);
	assert_int_equal(verify_pinned(&cms, &idevid, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "contentType attribute"));
	brski_blob_free(&cms);
}

static void garbage_is_refused(void **state)
{
	struct brski_blob cms = { (uint8_t *)"\x30\x03\x02\x01\x01", 5 };
	struct brski_cms_result res;
	struct brski_cms_trust none = { 0 };
	char err[256] = "";
	assert_int_equal(verify_pinned(&cms, &idevid, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a CMS"));
	assert_int_equal(brski_cms_verify(cms.data, cms.len, &none, &res, err,
					  sizeof(err)), -1);
	assert_non_null(strstr(err, "either"));
}

/* ------------------------------------------------------------ openssl */

static bool have_openssl(void)
{
	return system("openssl version >/dev/null 2>&1") == 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void read_file(const char *path, struct brski_blob *out)
{
	uint8_t buf[16384];
	FILE *f = fopen(path, "rb");
	size_t n;
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(brski_blob_set(out, buf, n), 0);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void openssl_verifies_ours(void **state)
{
	struct brski_blob cms, out;
	char path[128];
	if (!have_openssl())
		skip();
	sign_request(&registrar, &domain_ca.crt, 1, &cms);
	snprintf(path, sizeof(path), "%s/ours.cms", tmpdir);
	write_file(path, cms.data, cms.len);
	assert_int_equal(run("cd %s && openssl cms -verify -inform DER -in ours.cms"
			     " -CAfile domain_ca.crt -out ours.json 2>/dev/null",
			     tmpdir), 0);
	assert_int_equal(run("cd %s && openssl cms -cmsout -print -inform DER"
			     " -in ours.cms | grep -q 'eContentType: .*("
			     BRSKI_VOUCHER_OID ")'", tmpdir), 0);
	snprintf(path, sizeof(path), "%s/ours.json", tmpdir);
	read_file(path, &out);
	assert_int_equal(out.len, strlen(request_json));
	assert_memory_equal(out.data, request_json, out.len);
	brski_blob_free(&out);
	brski_blob_free(&cms);
}

/* openssl signs as name (with or without signed attributes); we verify. */
static void check_openssl_signed(const char *name, const char *ca,
				 const char *extra, const struct id *anchor)
{
	struct brski_blob cms;
	struct brski_cms_result res;
	char path[128], err[256] = "";
	snprintf(path, sizeof(path), "%s/req.json", tmpdir);
	write_file(path, request_json, strlen(request_json));
	assert_int_equal(run("cd %s && openssl cms -sign -nodetach -binary"
			     " -econtent_type " BRSKI_VOUCHER_OID " -md sha256"
			     " -outform DER -signer %s.crt -inkey %s.key %s"
			     " -in req.json -out theirs.cms", tmpdir, name, name,
			     extra), 0);
	snprintf(path, sizeof(path), "%s/theirs.cms", tmpdir);
	read_file(path, &cms);
	if (verify_anchored(&cms, anchor, &res, err, sizeof(err)) != 0)
		fail_msg("%s %s: %s", name, extra, err);
	assert_int_equal(res.json.len, strlen(request_json));
	assert_memory_equal(res.json.data, request_json, res.json.len);
	brski_cms_result_free(&res);
	(void)ca;
	brski_blob_free(&cms);
}

static void we_verify_openssl(void **state)
{
	if (!have_openssl())
		skip();
	check_openssl_signed("idevid", "mfg_ca", "", &mfg_ca);
	check_openssl_signed("idevid", "mfg_ca", "-noattr", &mfg_ca);
	check_openssl_signed("registrar", "domain_ca", "", &domain_ca);
	check_openssl_signed("registrar", "domain_ca", "-noattr", &domain_ca);
}

static void openssl_two_signers_are_refused(void **state)
{
	struct brski_blob cms;
	struct brski_cms_result res;
	char path[128], err[256] = "";
	if (!have_openssl())
		skip();
	snprintf(path, sizeof(path), "%s/req.json", tmpdir);
	write_file(path, request_json, strlen(request_json));
	assert_int_equal(run("cd %s && openssl cms -sign -nodetach -binary"
			     " -econtent_type " BRSKI_VOUCHER_OID " -md sha256"
			     " -outform DER -signer idevid.crt -inkey idevid.key"
			     " -signer registrar.crt -inkey registrar.key"
			     " -in req.json -out two.cms", tmpdir), 0);
	snprintf(path, sizeof(path), "%s/two.cms", tmpdir);
	read_file(path, &cms);
	assert_int_equal(verify_anchored(&cms, &mfg_ca, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "2 signers"));
	brski_blob_free(&cms);
}

/* ------------------------------------------------------------ vouchers */

static void voucher_round_trip(void **state)
{
	struct brski_voucher v = { 0 }, w;
	char *json, why[256] = "";
	size_t len;
	uint8_t nonce[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	v.kind = BRSKI_VOUCHER;
	v.created_on = 1795496400;	/* 2026-11-24T05:00:00Z */
	v.expires_on = 1795500000;
	v.assertion = BRSKI_ASSERTION_LOGGED;
	v.serial_number = SERIAL;
	v.pinned_domain_cert.data = domain_ca.der.data;
	v.pinned_domain_cert.len = domain_ca.der.size;
	v.nonce.data = nonce;
	v.nonce.len = sizeof(nonce);
	v.has_revocation_checks = true;
	assert_int_equal(brski_voucher_build(&v, &json, &len), 0);
	assert_non_null(strstr(json, "{\"ietf-voucher:voucher\":{\"created-on\":"
				     "\"2026-11-24T05:00:00Z\""));
	assert_non_null(strstr(json, "\"nonce\":\"AAECAwQFBgc=\""));
	if (brski_voucher_parse((uint8_t *)json, len, &w, why, sizeof(why)) != 0)
		fail_msg("%s: %s", json, why);
	assert_int_equal(w.kind, BRSKI_VOUCHER);
	assert_int_equal(w.created_on, v.created_on);
	assert_int_equal(w.expires_on, v.expires_on);
	assert_int_equal(w.assertion, BRSKI_ASSERTION_LOGGED);
	assert_string_equal(w.serial_number, SERIAL);
	assert_int_equal(w.pinned_domain_cert.len, domain_ca.der.size);
	assert_memory_equal(w.pinned_domain_cert.data, domain_ca.der.data,
			    domain_ca.der.size);
	assert_int_equal(w.nonce.len, 8);
	assert_true(w.has_revocation_checks);
	assert_false(w.domain_cert_revocation_checks);
	brski_voucher_free(&w);
	free(json);
}

static void request_round_trip(void **state)
{
	struct brski_voucher v = { 0 }, w;
	char *json, why[256] = "";
	size_t len;
	uint8_t cms[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	v.kind = BRSKI_VOUCHER_REQUEST;
	v.assertion = BRSKI_ASSERTION_PROXIMITY;
	v.proximity_registrar_cert.data = registrar.der.data;
	v.proximity_registrar_cert.len = registrar.der.size;
	v.prior_signed_voucher_request.data = cms;
	v.prior_signed_voucher_request.len = sizeof(cms);
	assert_int_equal(brski_voucher_build(&v, &json, &len), 0);
	assert_int_equal(strncmp(json, "{\"ietf-voucher-request:voucher\":", 32), 0);
	assert_int_equal(brski_voucher_parse((uint8_t *)json, len, &w, why,
					     sizeof(why)), 0);
	assert_int_equal(w.kind, BRSKI_VOUCHER_REQUEST);
	assert_null(w.serial_number);
	assert_int_equal(w.created_on, 0);
	assert_memory_equal(w.proximity_registrar_cert.data, registrar.der.data,
			    registrar.der.size);
	assert_int_equal(w.prior_signed_voucher_request.len, sizeof(cms));
	brski_voucher_free(&w);
	free(json);
	/* the signed request of the tests parses too */
	assert_int_equal(brski_voucher_parse((const uint8_t *)request_json,
					     strlen(request_json), &w, why,
					     sizeof(why)), 0);
	assert_int_equal(w.created_on, 1795496400);
	brski_voucher_free(&w);
}

static void times_follow_rfc3339(void **state)
{
	static const struct { const char *t; int64_t want; } ok[] = {
		{ "2026-11-24T05:00:00Z", 1795496400 },
		{ "2026-11-24t05:00:00.123z", 1795496400 },
		{ "2026-11-24T07:00:00+02:00", 1795496400 },
		{ "2026-11-24T04:30:00-00:30", 1795496400 },
		{ "2024-02-29T00:00:00Z", 1709164800 },
	};
	static const char *const bad[] = {
		"2026-11-24", "2026-11-24T05:00:00", "2026-13-01T00:00:00Z",
		"2026-02-29T00:00:00Z", "2026-11-24T24:00:00Z",
		"2026-11-24T05:00:00.Z", "2026-11-24T05:00:00+0200",
		"2026-11-24 05:00:00Z", "+026-11-24T05:00:00Z",
	};
	char json[256], why[256];
	struct brski_voucher v;
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		snprintf(json, sizeof(json), "{\"ietf-voucher-request:voucher\":"
			 "{\"created-on\":\"%s\"}}", ok[i].t);
		if (brski_voucher_parse((uint8_t *)json, strlen(json), &v, why,
					sizeof(why)) != 0)
			fail_msg("%s: %s", ok[i].t, why);
		assert_int_equal(v.created_on, ok[i].want);
		brski_voucher_free(&v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(json, sizeof(json), "{\"ietf-voucher-request:voucher\":"
			 "{\"created-on\":\"%s\"}}", bad[i]);
		if (brski_voucher_parse((uint8_t *)json, strlen(json), &v, why,
					sizeof(why)) == 0)
			fail_msg("accepted %s", bad[i]);
	}
}

static void malformed_vouchers_are_refused(void **state)
{
	static const struct { const char *json, *why; } cases[] = {
		{ "", "JSON" },
		{ "[]", "one member" },
		{ "{\"ietf-voucher:voucher\":{},\"x\":1}", "one member" },
		{ "{\"ietf-voucher:vouchers\":{}}", "unknown top-level" },
		{ "{\"ietf-voucher:voucher\":[]}", "not an object" },
		{ "{\"ietf-voucher:voucher\":{\"nonce\":\"a\",\"nonce\":\"b\"}}",
		  "duplicate" },
		{ "{\"ietf-voucher-request:voucher\":{\"assertion\":\"trusted\"}}",
		  "unknown assertion" },
		{ "{\"ietf-voucher-request:voucher\":{\"assertion\":1}}",
		  "not a string" },
		{ "{\"ietf-voucher-request:voucher\":{\"nonce\":\"AAECAwQFBgc\"}}",
		  "not base64" },
		{ "{\"ietf-voucher-request:voucher\":{\"nonce\":\"AA-_\"}}",
		  "not base64" },
		{ "{\"ietf-voucher-request:voucher\":{\"nonce\":\"\"}}",
		  "not base64" },
		{ "{\"ietf-voucher-request:voucher\":{\"serial-number\":\"\"}}",
		  "empty" },
		{ "{\"ietf-voucher-request:voucher\":"
		  "{\"domain-cert-revocation-checks\":\"true\"}}", "boolean" },
		{ "{\"ietf-voucher:voucher\":{\"assertion\":\"logged\","
		  "\"serial-number\":\"X\",\"pinned-domain-cert\":\"AAAA\"}}",
		  "created-on is missing" },
		{ "{\"ietf-voucher:voucher\":{\"created-on\":\"2026-11-24T05:00:00Z\","
		  "\"assertion\":\"logged\",\"serial-number\":\"X\"}}",
		  "pinned-domain-cert is missing" },
	};
	struct brski_voucher v;
	char why[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		why[0] = 0;
		if (brski_voucher_parse((const uint8_t *)cases[i].json,
					strlen(cases[i].json), &v, why,
					sizeof(why)) == 0)
			fail_msg("accepted %s", cases[i].json);
		if (strstr(why, cases[i].why) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].json, why,
				 cases[i].why);
	}
}

static void unknown_leaves_are_ignored(void **state)
{
	const char *json = "{\"ietf-voucher-request:voucher\":{\"serial-number\":"
			   "\"X\",\"est-domain\":\"https://127.0.0.1\","
			   "\"other:leaf\":[1,2]}}";
	struct brski_voucher v;
	char why[256];
	assert_int_equal(brski_voucher_parse((const uint8_t *)json, strlen(json),
					     &v, why, sizeof(why)), 0);
	assert_string_equal(v.serial_number, "X");
	brski_voucher_free(&v);
}

static void idevid_facts(void **state)
{
	char buf[128];
	struct brski_blob aki;
	uint8_t ski[64];
	size_t size = sizeof(ski);
	assert_int_equal(brski_cert_serial_number(idevid.crt, buf, sizeof(buf)), 0);
	assert_string_equal(buf, SERIAL);
	assert_int_equal(brski_cert_serial_number(idevid.crt, buf, 4), -1);
	assert_int_equal(brski_cert_serial_number(registrar.crt, buf, sizeof(buf)), -1);
	assert_int_equal(brski_cert_masa_url(idevid.crt, buf, sizeof(buf)), 0);
	assert_string_equal(buf, MASA_URL);
	assert_int_equal(brski_cert_masa_url(registrar.crt, buf, sizeof(buf)), -1);
	assert_int_equal(brski_cert_authority_key_id(idevid.crt, &aki), 0);
	assert_int_equal(gnutls_x509_crt_get_subject_key_id(mfg_ca.crt, ski,
							    &size, NULL), 0);
	assert_int_equal(aki.len, size);
	assert_memory_equal(aki.data, ski, size);
	brski_blob_free(&aki);
	assert_int_equal(brski_cert_authority_key_id(mfg_ca.crt, &aki), -1);
}

/* voucher_status and enrollstatus reports (RFC 8995 5.7, 5.9.4). */
static void status_reports(void **state)
{
	struct brski_status st;
	char why[128];
	static const char good[] = "{\"version\":1,\"status\":false,"
		"\"reason\":\"no CA\",\"reason-context\":{\"step\":2}}";
	assert_int_equal(brski_status_parse((const uint8_t *)good,
		strlen(good), &st, why, sizeof(why)), 0);
	assert_false(st.ok);
	assert_string_equal(st.reason, "no CA");
	assert_string_equal(st.context, "{\"step\":2}");
	brski_status_free(&st);
	static const char minimal[] = "{\"status\":true}";
	assert_int_equal(brski_status_parse((const uint8_t *)minimal,
		strlen(minimal), &st, why, sizeof(why)), 0);
	assert_true(st.ok);
	assert_string_equal(st.reason, "");
	assert_null(st.context);
	static const char *const bad[] = {
		"", "[]", "{\"status\":1}", "{\"version\":1}",
		"{\"status\":true,\"reason\":7}",
		"{\"status\":true,\"reason-context\":[]}",
		"{\"status\":true,\"status\":false}",
		"{\"status\":true,\"version\":null}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(brski_status_parse((const uint8_t *)bad[i],
			strlen(bad[i]), &st, why, sizeof(why)), -1);
		assert_non_null(strstr(why, "status report"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_reports),
		cmocka_unit_test(ecdsa_round_trip_against_the_idevid),
		cmocka_unit_test(rsa_round_trip_with_chain),
		cmocka_unit_test(signer_must_match),
		cmocka_unit_test(tampered_content_fails),
		cmocka_unit_test(id_data_is_refused),
		cmocka_unit_test(one_signer_exactly),
		cmocka_unit_test(content_type_attribute_must_match),
		cmocka_unit_test(garbage_is_refused),
		cmocka_unit_test(openssl_verifies_ours),
		cmocka_unit_test(we_verify_openssl),
		cmocka_unit_test(openssl_two_signers_are_refused),
		cmocka_unit_test(voucher_round_trip),
		cmocka_unit_test(request_round_trip),
		cmocka_unit_test(times_follow_rfc3339),
		cmocka_unit_test(malformed_vouchers_are_refused),
		cmocka_unit_test(unknown_leaves_are_ignored),
		cmocka_unit_test(idevid_facts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
