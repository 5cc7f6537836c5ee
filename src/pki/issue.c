/*  anchord - pki/issue.c: issuing certificates from requests.
 *
 *  The server decides what a certificate says: its subject is the
 *  authenticated identity, its extended key usage is fixed by the caller,
 *  and the only things a request contributes are its key (whose signature
 *  on the request proves possession) and DNS names a policy allowed. Weak
 *  keys and weak request signatures are refused with a reason.
 */
#include "pki/pki.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>
#include <libtasn1.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PEM (256 * 1024)

/* Enrollments are signed on libuv's thread pool, several at once: the
 * CA's certificate and key are GnuTLS objects not meant for concurrent
 * use, so signing with them takes the lock. */
struct pki_ca {
	pthread_mutex_t lock;
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
	gnutls_privkey_t signer;
	gnutls_datum_t der;
	uint8_t ski[64];
	size_t ski_len;
};

/* ------------------------------------------------------------------ the CA */

static int load_pem(const char *path, gnutls_datum_t *d)
{
	uint8_t *data;
	size_t len;
	int ret = util_read_file(path, MAX_PEM, &data, &len);
	if (ret != 0)
		return ret;
	d->data = data;
	d->size = (unsigned)len;
	return 0;
}

static int import_ca(struct pki_ca *ca, const char *cert_file,
		     const char *key_file, char *err, size_t errlen)
{
	gnutls_datum_t c = { NULL, 0 }, k = { NULL, 0 };
	int ret = load_pem(cert_file, &c);
	if (ret != 0)
		return util_fail(err, errlen, "%s: %s", cert_file, strerror(-ret));
	ret = load_pem(key_file, &k);
	if (ret != 0) {
		free(c.data);
		return util_fail(err, errlen, "%s: %s", key_file, strerror(-ret));
	}
	int gr = gnutls_x509_crt_init(&ca->crt);
	if (gr >= 0)
		gr = gnutls_x509_crt_import(ca->crt, &c, GNUTLS_X509_FMT_PEM);
	if (gr >= 0)
		gr = gnutls_x509_privkey_init(&ca->key);
	if (gr >= 0)
		gr = gnutls_x509_privkey_import(ca->key, &k, GNUTLS_X509_FMT_PEM);
	sodium_memzero(k.data, k.size);
	free(k.data);
	free(c.data);
	if (gr < 0)
		return util_fail(err, errlen, "%s, %s: %s", cert_file, key_file,
			    gnutls_strerror(gr));
	return 0;
}

/* The built-in CA: pki_ensure_ca makes sure the files exist. */
static int open_builtin(struct pki_ca *ca, const char *state_dir, char *err,
			size_t errlen)
{
	struct pki_files f;
	char key[PATH_MAX];
	if (pki_ensure_ca(state_dir, NULL, NULL, &f, err, errlen) != 0 ||
	    util_path_join(key, sizeof(key), state_dir, "ca.key") != 0)
		return -1;
	return import_ca(ca, f.ca_cert, key, err, errlen);
}

int pki_ca_open(const char *state_dir, const char *cert_file,
		const char *key_file, struct pki_ca **out, char *err,
		size_t errlen)
{
	struct pki_ca *ca = calloc(1, sizeof(*ca));
	if (!ca)
		return util_fail(err, errlen, "out of memory");
	pthread_mutex_init(&ca->lock, NULL);
	int ret = cert_file ? import_ca(ca, cert_file, key_file, err, errlen)
			    : open_builtin(ca, state_dir, err, errlen);
	ca->ski_len = sizeof(ca->ski);
	if (ret == 0 &&
	    (gnutls_privkey_init(&ca->signer) < 0 ||
	     gnutls_privkey_import_x509(ca->signer, ca->key, 0) < 0 ||
	     gnutls_x509_crt_export2(ca->crt, GNUTLS_X509_FMT_DER,
				     &ca->der) < 0 ||
	     gnutls_x509_crt_get_subject_key_id(ca->crt, ca->ski,
						&ca->ski_len, NULL) < 0))
		ret = util_fail(err, errlen, "the CA certificate cannot sign");
	if (ret != 0) {
		pki_ca_free(ca);
		return -1;
	}
	*out = ca;
	return 0;
}

void pki_ca_free(struct pki_ca *ca)
{
	if (!ca)
		return;
	if (ca->signer)
		gnutls_privkey_deinit(ca->signer);
	if (ca->key)
		gnutls_x509_privkey_deinit(ca->key);
	if (ca->crt)
		gnutls_x509_crt_deinit(ca->crt);
	gnutls_free(ca->der.data);
	pthread_mutex_destroy(&ca->lock);
	free(ca);
}

const gnutls_datum_t *pki_ca_der(const struct pki_ca *ca)
{
	return &ca->der;
}

/* ------------------------------------------------------------------ requests */

/* ECDSA and EdDSA keys, and RSA of 2048 bits or more. */
static int check_key(gnutls_pubkey_t pub, int *pk_algo, char *why,
		     size_t whylen)
{
	unsigned bits = 0;
	int algo = gnutls_pubkey_get_pk_algorithm(pub, &bits);
	*pk_algo = algo;
	switch (algo) {
	case GNUTLS_PK_ECDSA:
		return bits >= 256 ? 0 : util_fail(why, whylen, "ECDSA key of %u "
					      "bits is too weak", bits);
	case GNUTLS_PK_EDDSA_ED25519:
	case GNUTLS_PK_EDDSA_ED448:
		return 0;
	case GNUTLS_PK_RSA:
		return bits >= 2048 ? 0 : util_fail(why, whylen, "RSA key of %u "
					       "bits is too weak (2048 at "
					       "least)", bits);
	default:
	{
		const char *name = gnutls_pk_algorithm_get_name(algo);
		return util_fail(why, whylen, "key type %s is not accepted",
			    name ? name : "unknown");
	}
	}
}

static void read_sans(gnutls_x509_crq_t crq, struct pki_csr *out)
{
	for (unsigned i = 0;; i++) {
		char buf[256];
		size_t len = sizeof(buf) - 1;
		unsigned type, critical;
		int ret = gnutls_x509_crq_get_subject_alt_name(crq, i, buf, &len,
							       &type, &critical);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return;
		if (ret < 0 || type != GNUTLS_SAN_DNSNAME ||
		    out->n_dns_sans == PKI_MAX_SANS) {
			out->other_sans = true;
			continue;
		}
		buf[len] = '\0';
		snprintf(out->dns_sans[out->n_dns_sans++], sizeof(buf), "%s",
			 buf);
	}
}

/* challengePassword as its bytes. gnutls_x509_crq_get_challenge_password
 * escapes it like a DN ("+" becomes "\\+"), which would spoil the
 * comparison with a base64 channel binding; the attribute's DER value is a
 * single DirectoryString: tag, short length, bytes. */
#define OID_CHALLENGE_PASSWORD "1.2.840.113549.1.9.7"

/* 0 and the string, 1 when the request has none, -1 when it is not a
 * string we can compare. */
static int read_challenge(gnutls_x509_crq_t crq, char *out, size_t cap)
{
	uint8_t der[260];
	size_t n = sizeof(der);
	int ret = gnutls_x509_crq_get_attribute_by_oid(crq,
			OID_CHALLENGE_PASSWORD, 0, der, &n);
	if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return 1;
	if (ret < 0 || n < 2)
		return -1;
	static const uint8_t string_tags[] = { 0x0C, 0x13, 0x14, 0x16 };
	if (!memchr(string_tags, der[0], sizeof(string_tags)))
		return -1;	/* UTF8, Printable, Teletex, IA5 String */
	size_t len = der[1], off = 2;
	if (der[1] == 0x81 && n >= 3) {
		len = der[2];
		off = 3;
	} else if (der[1] & 0x80) {
		return -1;
	}
	if (off + len != n || len >= cap || memchr(der + off, 0, len))
		return -1;
	memcpy(out, der + off, len);
	out[len] = '\0';
	return 0;
}

/* The SPKI digest of a request's key. */
/* The request's public key, kept for issuing, and the SHA-256 of its
 * SubjectPublicKeyInfo (pins, renewal, the subject key identifier). */
static int crq_key(gnutls_x509_crq_t crq, struct pki_csr *out)
{
	gnutls_pubkey_t pub;
	gnutls_datum_t spki = { NULL, 0 };
	if (gnutls_pubkey_init(&pub) < 0)
		return -1;
	out->pub = pub;
	int ret = gnutls_pubkey_import_x509_crq(pub, crq, 0) >= 0 &&
		  gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) >= 0 &&
		  gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size,
				   out->spki_sha256) >= 0 ? 0 : -1;
	gnutls_free(spki.data);
	return ret;
}

int pki_csr_parse(const uint8_t *der, size_t len, struct pki_csr *out,
		  char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	gnutls_x509_crq_t crq;
	if (gnutls_x509_crq_init(&crq) < 0)
		return util_fail(why, whylen, "out of memory");
	out->crq = crq;
	gnutls_datum_t d = { (unsigned char *)der, (unsigned)len };
	if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER) < 0) {
		pki_csr_free(out);
		return util_fail(why, whylen, "not a PKCS#10 certificate request");
	}
	int sig = gnutls_x509_crq_get_signature_algorithm(crq);
	/* Held to the standard of certificate signatures: SHA-1 is out. */
	if (sig < 0 || !gnutls_sign_is_secure2((gnutls_sign_algorithm_t)sig,
					       GNUTLS_SIGN_FLAG_SECURE_FOR_CERTS)) {
		const char *name = sig < 0 ? NULL :
			gnutls_sign_get_name((gnutls_sign_algorithm_t)sig);
		pki_csr_free(out);
		return util_fail(why, whylen, "the request is signed with %s, "
			    "which is not secure",
			    name ? name : "an unknown algorithm");
	}
	if (gnutls_x509_crq_verify(crq, 0) < 0) {
		pki_csr_free(out);
		return util_fail(why, whylen, "the request's signature does not "
			    "verify (no proof of possession of the key)");
	}
	if (crq_key(crq, out) != 0) {
		pki_csr_free(out);
		return util_fail(why, whylen, "the request's public key cannot be "
			    "read");
	}
	if (check_key(out->pub, &out->pk_algo, why, whylen) != 0) {
		pki_csr_free(out);
		return -1;
	}
	size_t n = sizeof(out->subject);
	if (gnutls_x509_crq_get_dn(crq, out->subject, &n) < 0)
		out->subject[0] = '\0';
	int challenge = read_challenge(crq, out->challenge,
				       sizeof(out->challenge));
	if (challenge < 0) {
		pki_csr_free(out);
		return util_fail(why, whylen, "challengePassword is not a string "
			    "of at most %zu characters",
			    sizeof(out->challenge) - 1);
	}
	out->has_challenge = challenge == 0;
	read_sans(crq, out);
	return 0;
}

void pki_csr_free(struct pki_csr *csr)
{
	if (csr->crq)
		gnutls_x509_crq_deinit(csr->crq);
	if (csr->pub)
		gnutls_pubkey_deinit(csr->pub);
	csr->crq = NULL;
	csr->pub = NULL;
}

/* ------------------------------------------------------------------ issuing */

static int set_subject_key(gnutls_x509_crt_t crt, const struct pki_issue *r)
{
	if (r->key)
		return gnutls_x509_crt_set_key(crt, r->key);
	return gnutls_x509_crt_set_pubkey(crt, r->csr->pub);
}

static int set_usage(gnutls_x509_crt_t crt, const struct pki_issue *r)
{
	int algo = r->key ? gnutls_x509_privkey_get_pk_algorithm(r->key)
			  : r->csr->pk_algo;
	unsigned usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
	if (algo == GNUTLS_PK_RSA)
		usage |= GNUTLS_KEY_KEY_ENCIPHERMENT;	/* TLS 1.2 RSA kx */
	int ret = gnutls_x509_crt_set_key_usage(crt, usage);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
	if (ret >= 0 && r->client_auth)
		ret = gnutls_x509_crt_set_key_purpose_oid(crt,
			GNUTLS_KP_TLS_WWW_CLIENT, 0);
	if (ret >= 0 && r->server_auth)
		ret = gnutls_x509_crt_set_key_purpose_oid(crt,
			GNUTLS_KP_TLS_WWW_SERVER, 0);
	return ret;
}

void pki_crt_ia5_extension(void *crt, const char *oid, char *out, size_t cap)
{
	uint8_t der[300];
	size_t len = sizeof(der);
	unsigned critical, n = 0;
	const unsigned char *text;
	out[0] = '\0';
	if (gnutls_x509_crt_get_extension_by_oid(crt, oid, 0, der, &len,
						 &critical) < 0 ||
	    asn1_decode_simple_der(ASN1_ETYPE_IA5_STRING, der, (unsigned)len,
				   &text, &n) != ASN1_SUCCESS || n >= cap)
		return;
	for (unsigned i = 0; i < n; i++)
		if (text[i] < 0x21 || text[i] > 0x7e)
			return;		/* a URL has no spaces or controls */
	memcpy(out, text, n);
	out[n] = '\0';
}

/* An IA5String extension value (id-pe-mud-url): the URL is at most 255
 * octets, so the length is short or one long-form byte. */
static int set_ia5_extension(gnutls_x509_crt_t crt, const char *oid,
			     const char *text)
{
	size_t n = strlen(text), head = n < 0x80 ? 2 : 3;
	uint8_t der[3 + 255];
	if (n > 255)
		return GNUTLS_E_INVALID_REQUEST;
	der[0] = 0x16;
	der[1] = n < 0x80 ? (uint8_t)n : 0x81;
	der[2] = (uint8_t)n;
	memcpy(der + head, text, n);
	return gnutls_x509_crt_set_extension_by_oid(crt, oid, der, head + n, 0);
}

static int set_identity(gnutls_x509_crt_t crt, const struct pki_issue *r)
{
	int ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
		0, r->common_name, (unsigned)strlen(r->common_name));
	if (ret >= 0 && r->serial_number && r->serial_number[0])
		ret = gnutls_x509_crt_set_dn_by_oid(crt, PKI_OID_SERIAL_NUMBER,
			0, r->serial_number,
			(unsigned)strlen(r->serial_number));
	if (ret >= 0 && r->mud_url && r->mud_url[0])
		ret = set_ia5_extension(crt, PKI_OID_MUD_URL, r->mud_url);
	for (size_t i = 0; ret >= 0 && i < r->n_dns_sans; i++)
		ret = gnutls_x509_crt_set_subject_alt_name(crt,
			GNUTLS_SAN_DNSNAME, r->dns_sans[i],
			(unsigned)strlen(r->dns_sans[i]), GNUTLS_FSAN_APPEND);
	return ret;
}

static int set_validity(gnutls_x509_crt_t crt, unsigned days,
			struct pki_issued *out)
{
	time_t now = time(NULL);
	out->not_before = now - 300;	/* clocks of devices differ */
	out->not_after = now + (time_t)days * 86400;
	int ret = gnutls_x509_crt_set_activation_time(crt, out->not_before);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_expiration_time(crt, out->not_after);
	return ret;
}

/* A random positive 128-bit serial; the store's key makes it unique. */
static int set_serial(gnutls_x509_crt_t crt, struct pki_issued *out)
{
	uint8_t serial[16];
	randombytes_buf(serial, sizeof(serial));
	serial[0] = (uint8_t)((serial[0] & 0x7F) | 0x01);
	sodium_bin2hex(out->serial, sizeof(out->serial), serial, sizeof(serial));
	return gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
}

/* The SHA-256 of the subject's SubjectPublicKeyInfo: the request's, which
 * pki_csr_parse computed, or the server-made key's. */
static int subject_spki(const struct pki_issue *r, uint8_t d[PKI_DIGEST_LEN])
{
	if (!r->key) {
		memcpy(d, r->csr->spki_sha256, PKI_DIGEST_LEN);
		return 0;
	}
	return pki_key_spki_sha256(r->key, d) == 0 ? 0
						    : GNUTLS_E_INTERNAL_ERROR;
}

int pki_key_spki_sha256(void *key, uint8_t d[PKI_DIGEST_LEN])
{
	gnutls_privkey_t priv = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t spki = { NULL, 0 };
	int ret = gnutls_privkey_init(&priv);
	if (ret >= 0)
		ret = gnutls_privkey_import_x509(priv, key, 0); /* borrowed */
	if (ret >= 0)
		ret = gnutls_pubkey_init(&pub);
	if (ret >= 0)
		ret = gnutls_pubkey_import_privkey(pub, priv, 0, 0);
	if (ret >= 0)
		ret = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki);
	if (ret >= 0)
		ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size,
				       d);
	gnutls_free(spki.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (priv)
		gnutls_privkey_deinit(priv);
	return ret < 0 ? -1 : 0;
}

/* The subject key identifier is the leftmost 160 bits of the SPKI's
 * SHA-256 (RFC 7093 section 2, method 4), which is known already: asking
 * GnuTLS for a key ID would encode the key once more. */
static int finish(struct pki_ca *ca, gnutls_x509_crt_t crt,
		  const struct pki_issue *r, struct pki_issued *out)
{
	int ret = subject_spki(r, out->spki_sha256);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_subject_key_id(crt, out->spki_sha256,
							 20);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_authority_key_id(crt, ca->ski,
							   ca->ski_len);
	if (ret >= 0) {
		pthread_mutex_lock(&ca->lock);
		ret = gnutls_x509_crt_privkey_sign(crt, ca->crt, ca->signer,
						   GNUTLS_DIG_SHA256, 0);
		pthread_mutex_unlock(&ca->lock);
	}
	if (ret >= 0)
		ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER,
					      &out->der);
	size_t n = sizeof(out->subject);
	if (ret >= 0 && gnutls_x509_crt_get_dn(crt, out->subject, &n) < 0)
		out->subject[0] = '\0';
	return ret;
}

int pki_issue(struct pki_ca *ca, const struct pki_issue *r,
	      struct pki_issued *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	gnutls_x509_crt_t crt;
	int ret = gnutls_x509_crt_init(&crt);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_version(crt, 3);
	if (ret >= 0)
		ret = set_serial(crt, out);
	if (ret >= 0)
		ret = set_validity(crt, r->validity_days, out);
	if (ret >= 0)
		ret = set_subject_key(crt, r);
	if (ret >= 0)
		ret = set_identity(crt, r);
	if (ret >= 0)
		ret = set_usage(crt, r);
	if (ret >= 0)
		ret = finish(ca, crt, r, out);
	gnutls_x509_crt_deinit(crt);
	if (ret < 0) {
		pki_issued_free(out);
		return util_fail(err, errlen, "issuing: %s",
			    ret == -1 ? "no key digest" : gnutls_strerror(ret));
	}
	return 0;
}

void pki_issued_free(struct pki_issued *out)
{
	gnutls_free(out->der.data);
	out->der.data = NULL;
	out->der.size = 0;
}

/* ------------------------------------------------------------------ keys */

int pki_new_key(void **key)
{
	gnutls_x509_privkey_t k;
	if (gnutls_x509_privkey_init(&k) < 0)
		return -1;
	if (gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
		GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0) {
		gnutls_x509_privkey_deinit(k);
		return -1;
	}
	*key = k;
	return 0;
}

int pki_key_pkcs8(void *key, gnutls_datum_t *der)
{
	return gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, NULL,
						 GNUTLS_PKCS_PLAIN, der) < 0
		       ? -1 : 0;
}

void pki_key_free(void *key)
{
	if (key)
		gnutls_x509_privkey_deinit(key);
}

/* ------------------------------------------------------------------ CMS and CRLs */

/* GnuTLS fills the encapsulated content of a signedData without signers
 * with the digestedData type; RFC 5652 5.2 says the degenerate case MUST
 * say id-data. The OID differs in its last byte only and nothing signs
 * it, so it is mended in place: the first EncapsulatedContentInfo, right
 * after the version and the empty digestAlgorithms. */
static int mend_degenerate(gnutls_datum_t *der)
{
	static const uint8_t digested[] = {
		0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
		0x01, 0x07, 0x05 };
	size_t end = der->size < 64 ? der->size : 64;
	for (size_t i = 0; i + sizeof(digested) <= end; i++)
		if (memcmp(der->data + i, digested, sizeof(digested)) == 0) {
			der->data[i + sizeof(digested) - 1] = 0x01; /* id-data */
			return 0;
		}
	/* a GnuTLS that writes id-data itself needs no mending */
	static const uint8_t data[] = {
		0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
		0x01, 0x07, 0x01 };
	for (size_t i = 0; i + sizeof(data) <= end; i++)
		if (memcmp(der->data + i, data, sizeof(data)) == 0)
			return 0;
	return -1;
}

static int export_degenerate(gnutls_pkcs7_t p7, gnutls_datum_t *out)
{
	int ret = gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, out);
	if (ret >= 0 && mend_degenerate(out) != 0) {
		gnutls_free(out->data);
		out->data = NULL;
		ret = -1;
	}
	return ret;
}

int pki_certs_only(const gnutls_datum_t *certs, size_t n, gnutls_datum_t *out)
{
	gnutls_pkcs7_t p7;
	if (gnutls_pkcs7_init(&p7) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; ret >= 0 && i < n; i++)
		ret = gnutls_pkcs7_set_crt_raw(p7, &certs[i]);
	if (ret >= 0)
		ret = export_degenerate(p7, out);
	gnutls_pkcs7_deinit(p7);
	return ret < 0 ? -1 : 0;
}

int pki_crls_only(const gnutls_datum_t *crl, gnutls_datum_t *out)
{
	gnutls_pkcs7_t p7;
	if (gnutls_pkcs7_init(&p7) < 0)
		return -1;
	int ret = gnutls_pkcs7_set_crl_raw(p7, crl);
	if (ret >= 0)
		ret = export_degenerate(p7, out);
	gnutls_pkcs7_deinit(p7);
	return ret < 0 ? -1 : 0;
}

static int add_revoked(gnutls_x509_crl_t crl, const struct pki_revoked *r)
{
	uint8_t serial[20];
	size_t len;
	if (sodium_hex2bin(serial, sizeof(serial), r->serial, strlen(r->serial),
			   NULL, &len, NULL) != 0 || len == 0)
		return 0;	/* not one of ours: nothing to list */
	return gnutls_x509_crl_set_crt_serial(crl, serial, len, r->at);
}

int pki_crl(struct pki_ca *ca, const struct pki_revoked *revoked, size_t n,
	    uint64_t number, int64_t next_update, gnutls_datum_t *der)
{
	gnutls_x509_crl_t crl;
	time_t now = time(NULL);
	uint8_t num[8];
	for (int i = 0; i < 8; i++)
		num[i] = (uint8_t)(number >> (56 - 8 * i));
	if (gnutls_x509_crl_init(&crl) < 0)
		return -1;
	int ret = gnutls_x509_crl_set_version(crl, 2);
	if (ret >= 0)
		ret = gnutls_x509_crl_set_this_update(crl, now);
	if (ret >= 0)
		ret = gnutls_x509_crl_set_next_update(crl, now + next_update);
	for (size_t i = 0; ret >= 0 && i < n; i++)
		ret = add_revoked(crl, &revoked[i]);
	if (ret >= 0)
		ret = gnutls_x509_crl_set_authority_key_id(crl, ca->ski,
							   ca->ski_len);
	if (ret >= 0)
		ret = gnutls_x509_crl_set_number(crl, num, sizeof(num));
	if (ret >= 0) {
		pthread_mutex_lock(&ca->lock);
		ret = gnutls_x509_crl_privkey_sign(crl, ca->crt, ca->signer,
						   GNUTLS_DIG_SHA256, 0);
		pthread_mutex_unlock(&ca->lock);
	}
	if (ret >= 0)
		ret = gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_DER, der);
	gnutls_x509_crl_deinit(crl);
	return ret < 0 ? -1 : 0;
}

int pki_pem_certs(const char *pem_file, gnutls_datum_t **certs, size_t *n)
{
	gnutls_datum_t pem;
	if (load_pem(pem_file, &pem) != 0)
		return -1;
	gnutls_x509_crt_t *list = NULL;
	unsigned count = 0;
	int ret = gnutls_x509_crt_list_import2(&list, &count, &pem,
					       GNUTLS_X509_FMT_PEM, 0);
	free(pem.data);
	if (ret < 0)
		return -1;
	*certs = calloc(count ? count : 1, sizeof(**certs));
	*n = 0;
	for (unsigned i = 0; i < count; i++) {
		if (*certs && gnutls_x509_crt_export2(list[i],
			GNUTLS_X509_FMT_DER, &(*certs)[*n]) >= 0)
			(*n)++;
		gnutls_x509_crt_deinit(list[i]);
	}
	gnutls_free(list);
	return *certs ? 0 : -1;
}
