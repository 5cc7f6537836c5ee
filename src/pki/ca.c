/*  anchord - pki/ca.c: the built-in CA and the automatic server certificate.
 *
 *  On first start anchord creates an ECDSA P-256 CA in its state directory
 *  and issues itself a server certificate for server.name (DNS-ID and the
 *  SRV-ID _domain-s.<name> of RFC 7858/8295) and the listener addresses as
 *  IP SANs, which verified DDR discovery (RFC 9462) needs. Later starts
 *  reuse both, and issue a new server certificate only when the names or
 *  addresses changed or expiry is near; the server key stays, so does the
 *  pin that clients hold.
 */
#include "pki/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CA_DAYS 3650
#define SERVER_DAYS 397
#define RENEW_BEFORE_DAYS 30
#define MAX_PEM (256 * 1024)
#define OID_SRVNAME "1.3.6.1.5.5.7.8.7"		/* RFC 4985 */
#define MAX_SANS 64

/* ------------------------------------------------------------------ pins */

int pki_spki_sha256(const gnutls_datum_t *cert_der,
		    uint8_t digest[PKI_DIGEST_LEN])
{
	gnutls_x509_crt_t crt;
	gnutls_pubkey_t pub;
	gnutls_datum_t spki = { NULL, 0 };
	int ret = -1;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -1;
	if (gnutls_pubkey_init(&pub) < 0) {
		gnutls_x509_crt_deinit(crt);
		return -1;
	}
	if (gnutls_x509_crt_import(crt, cert_der, GNUTLS_X509_FMT_DER) >= 0 &&
	    gnutls_pubkey_import_x509(pub, crt, 0) >= 0 &&
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) >= 0 &&
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size,
			     digest) >= 0)
		ret = 0;
	gnutls_free(spki.data);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	return ret;
}

void pki_pin_to_base64(const uint8_t digest[PKI_DIGEST_LEN],
		       char out[PKI_PIN_LEN])
{
	sodium_bin2base64(out, PKI_PIN_LEN, digest, PKI_DIGEST_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

void pki_pin_to_hex(const uint8_t digest[PKI_DIGEST_LEN], char out[PKI_HEX_LEN])
{
	sodium_bin2hex(out, PKI_HEX_LEN, digest, PKI_DIGEST_LEN);
}

int pki_pin_parse(const char *base64, uint8_t digest[PKI_DIGEST_LEN])
{
	size_t len = 0;
	const char *end;
	if (sodium_base642bin(digest, PKI_DIGEST_LEN, base64, strlen(base64),
			      NULL, &len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != PKI_DIGEST_LEN || *end != '\0')
		return -1;
	return 0;
}

static int load_datum(const char *path, gnutls_datum_t *d)
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

int pki_pin_of_file(const char *pem_file, uint8_t digest[PKI_DIGEST_LEN],
		    char *err, size_t errlen)
{
	gnutls_datum_t pem, der = { NULL, 0 };
	int ret = load_datum(pem_file, &pem);
	if (ret != 0)
		return util_fail(err, errlen, "%s: %s", pem_file, strerror(-ret));
	gnutls_x509_crt_t crt;
	ret = -1;
	if (gnutls_x509_crt_init(&crt) >= 0) {
		if (gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM) >= 0 &&
		    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) >= 0)
			ret = pki_spki_sha256(&der, digest);
		gnutls_x509_crt_deinit(crt);
	}
	gnutls_free(der.data);
	free(pem.data);
	if (ret != 0)
		return util_fail(err, errlen, "%s: no readable certificate", pem_file);
	return 0;
}

/* ------------------------------------------------------------------ keys and files */

static int write_datum(const char *path, const gnutls_datum_t *d, unsigned mode)
{
	return util_write_file_atomic(path, d->data, d->size, mode);
}

/* Load a PEM key, or make a new ECDSA P-256 one and store it (0600). */
static int load_or_create_key(const char *path, gnutls_x509_privkey_t *key,
			      bool *created, char *err, size_t errlen)
{
	gnutls_datum_t pem;
	*created = false;
	if (gnutls_x509_privkey_init(key) < 0)
		return util_fail(err, errlen, "out of memory");
	int ret = load_datum(path, &pem);
	if (ret == 0) {
		ret = gnutls_x509_privkey_import(*key, &pem, GNUTLS_X509_FMT_PEM);
		sodium_memzero(pem.data, pem.size);
		free(pem.data);
		if (ret < 0)
			return util_fail(err, errlen, "%s: %s", path,
				    gnutls_strerror(ret));
		return 0;
	}
	if (ret != -ENOENT)
		return util_fail(err, errlen, "%s: %s", path, strerror(-ret));
	ret = gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
		GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	gnutls_datum_t out = { NULL, 0 };
	if (ret >= 0)
		ret = gnutls_x509_privkey_export2(*key, GNUTLS_X509_FMT_PEM, &out);
	if (ret < 0)
		return util_fail(err, errlen, "key generation: %s",
			    gnutls_strerror(ret));
	ret = write_datum(path, &out, 0600);
	gnutls_memset(out.data, 0, out.size);
	gnutls_free(out.data);
	if (ret != 0)
		return util_fail(err, errlen, "%s: %s", path, strerror(-ret));
	*created = true;
	return 0;
}

static int load_cert(const char *path, gnutls_x509_crt_t *crt)
{
	gnutls_datum_t pem;
	if (load_datum(path, &pem) != 0)
		return -1;
	int ret = gnutls_x509_crt_init(crt);
	if (ret >= 0)
		ret = gnutls_x509_crt_import(*crt, &pem, GNUTLS_X509_FMT_PEM);
	free(pem.data);
	if (ret < 0) {
		gnutls_x509_crt_deinit(*crt);
		return -1;
	}
	return 0;
}

/* A positive random 128-bit serial. */
static int set_random_serial(gnutls_x509_crt_t crt)
{
	uint8_t serial[16];
	randombytes_buf(serial, sizeof(serial));
	serial[0] = (uint8_t)((serial[0] & 0x7F) | 0x01);
	return gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
}

static int set_common(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
		      const char *dn, unsigned days)
{
	time_t now = time(NULL);
	const char *bad;
	int ret = gnutls_x509_crt_set_version(crt, 3);
	if (ret >= 0)
		ret = set_random_serial(crt);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_activation_time(crt, now - 3600);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_expiration_time(crt,
			now + (time_t)days * 86400);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_dn(crt, dn, &bad);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_key(crt, key);
	uint8_t id[64];
	size_t idlen = sizeof(id);
	if (ret >= 0)
		ret = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, id,
						 &idlen);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_subject_key_id(crt, id, idlen);
	return ret;
}

/* ------------------------------------------------------------------ the CA */

struct ca {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
};

static void ca_free(struct ca *ca)
{
	if (ca->crt)
		gnutls_x509_crt_deinit(ca->crt);
	if (ca->key)
		gnutls_x509_privkey_deinit(ca->key);
}

static int create_ca_cert(struct ca *ca, const char *path, char *err,
			  size_t errlen)
{
	char host[256] = "anchord";
	gethostname(host, sizeof(host) - 1);
	char dn[512];
	snprintf(dn, sizeof(dn), "CN=anchord CA %s,O=anchord", host);
	int ret = gnutls_x509_crt_init(&ca->crt);
	if (ret >= 0)
		ret = set_common(ca->crt, ca->key, dn, CA_DAYS);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_basic_constraints(ca->crt, 1, 0);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_key_usage(ca->crt,
			GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
			GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (ret >= 0)
		ret = gnutls_x509_crt_sign2(ca->crt, ca->crt, ca->key,
					    GNUTLS_DIG_SHA256, 0);
	gnutls_datum_t out = { NULL, 0 };
	if (ret >= 0)
		ret = gnutls_x509_crt_export2(ca->crt, GNUTLS_X509_FMT_PEM, &out);
	if (ret < 0)
		return util_fail(err, errlen, "creating the CA: %s",
			    gnutls_strerror(ret));
	ret = write_datum(path, &out, 0644);
	gnutls_free(out.data);
	if (ret != 0)
		return util_fail(err, errlen, "%s: %s", path, strerror(-ret));
	return 0;
}

/* An imported CA must be able to do its job: a CA certificate that may
 * sign certificates, and the key that goes with it. */
static int check_imported(struct ca *ca, const char *cert, const char *key,
			  char *err, size_t errlen)
{
	unsigned critical, usage = 0;
	if (gnutls_x509_crt_get_basic_constraints(ca->crt, &critical, NULL,
						  NULL) != 1)
		return util_fail(err, errlen, "%s: not a CA certificate "
			    "(basicConstraints CA:TRUE)", cert);
	if (gnutls_x509_crt_get_key_usage(ca->crt, &usage, &critical) >= 0 &&
	    !(usage & GNUTLS_KEY_KEY_CERT_SIGN))
		return util_fail(err, errlen, "%s: the key usage does not allow "
			    "signing certificates", cert);
	uint8_t a[64], b[64];
	size_t alen = sizeof(a), blen = sizeof(b);
	if (gnutls_x509_crt_get_key_id(ca->crt, GNUTLS_KEYID_USE_SHA256, a,
				       &alen) < 0 ||
	    gnutls_x509_privkey_get_key_id(ca->key, GNUTLS_KEYID_USE_SHA256, b,
					   &blen) < 0 ||
	    alen != blen || memcmp(a, b, alen) != 0)
		return util_fail(err, errlen, "%s is not the key of %s", key, cert);
	return 0;
}

/* An enterprise CA (say an intermediate under its own root) instead of
 * the built-in one. */
static int import_ca(const char *cert, const char *key, struct ca *ca,
		     struct pki_files *f, char *err, size_t errlen)
{
	gnutls_datum_t pem;
	snprintf(f->ca_cert, sizeof(f->ca_cert), "%s", cert);
	if (load_cert(cert, &ca->crt) != 0)
		return util_fail(err, errlen, "%s: no readable certificate", cert);
	int ret = load_datum(key, &pem);
	if (ret != 0)
		return util_fail(err, errlen, "%s: %s", key, strerror(-ret));
	ret = gnutls_x509_privkey_init(&ca->key);
	if (ret >= 0)
		ret = gnutls_x509_privkey_import(ca->key, &pem,
						 GNUTLS_X509_FMT_PEM);
	sodium_memzero(pem.data, pem.size);
	free(pem.data);
	if (ret < 0)
		return util_fail(err, errlen, "%s: %s", key, gnutls_strerror(ret));
	return check_imported(ca, cert, key, err, errlen);
}

static int open_ca(const char *state_dir, const char *import_cert,
		   const char *import_key, struct ca *ca, struct pki_files *f,
		   char *err, size_t errlen)
{
	char key_path[PATH_MAX];
	bool created;
	memset(ca, 0, sizeof(*ca));
	if (import_cert)
		return import_ca(import_cert, import_key, ca, f, err, errlen);
	if (util_path_join(key_path, sizeof(key_path), state_dir, "ca.key") ||
	    util_path_join(f->ca_cert, sizeof(f->ca_cert), state_dir, "ca.pem"))
		return util_fail(err, errlen, "state directory path too long");
	if (load_or_create_key(key_path, &ca->key, &created, err, errlen) != 0)
		return -1;
	if (!created && load_cert(f->ca_cert, &ca->crt) == 0)
		return 0;
	if (!created)
		log_warning("pki", "%s missing or unreadable: creating a new CA "
			    "certificate for the existing key", f->ca_cert);
	else
		log_info("pki", "created a new certificate authority in %s",
			 state_dir);
	return create_ca_cert(ca, f->ca_cert, err, errlen);
}

int pki_ensure_ca(const char *state_dir, const char *ca_cert,
		  const char *ca_key, struct pki_files *files, char *err,
		  size_t errlen)
{
	struct ca ca;
	int ret = open_ca(state_dir, ca_cert, ca_key, &ca, files, err, errlen);
	ca_free(&ca);
	return ret;
}

/* ------------------------------------------------------------------ server certificate */

struct san {
	unsigned type;
	size_t len;
	uint8_t data[256];
};

struct san_set {
	struct san item[MAX_SANS];
	size_t n;
};

static void san_add(struct san_set *s, unsigned type, const void *data,
		    size_t len)
{
	if (s->n >= MAX_SANS || len > sizeof(s->item[0].data))
		return;
	s->item[s->n].type = type;
	s->item[s->n].len = len;
	memcpy(s->item[s->n].data, data, len);
	s->n++;
}

static const void *addr_bytes(const struct util_addr *a, size_t *len)
{
	if (a->ss.ss_family == AF_INET) {
		*len = 4;
		return &((const struct sockaddr_in *)&a->ss)->sin_addr;
	}
	*len = 16;
	return &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
}

static void wanted_sans(const struct pki_auto_request *r, struct san_set *s)
{
	s->n = 0;
	san_add(s, GNUTLS_SAN_DNSNAME, r->name, strlen(r->name));
	for (size_t i = 0; i < r->n_addresses; i++) {
		size_t len;
		const void *b = addr_bytes(&r->addresses[i], &len);
		san_add(s, GNUTLS_SAN_IPADDRESS, b, len);
	}
}

static bool san_in(const struct san_set *s, const struct san *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->item[i].type == x->type && s->item[i].len == x->len &&
		    memcmp(s->item[i].data, x->data, x->len) == 0)
			return true;
	return false;
}

/* DNS names and addresses of a certificate (the SRV-ID follows the name). */
static void cert_sans(gnutls_x509_crt_t crt, struct san_set *s)
{
	s->n = 0;
	for (unsigned i = 0; i < MAX_SANS; i++) {
		uint8_t buf[256];
		size_t len = sizeof(buf);
		unsigned critical;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &len,
								&critical);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_IPADDRESS)
			san_add(s, (unsigned)type, buf, len);
	}
}

static bool same_sans(const struct san_set *a, const struct san_set *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!san_in(b, &a->item[i]))
			return false;
	return true;
}

/* Does the certificate at path chain to the CA, hold key, and have long
 * enough to live? Fills *crt for more checks (deinit it) when it does. */
static bool leaf_current(const char *path, const struct ca *ca,
			 gnutls_x509_privkey_t key, gnutls_x509_crt_t *crt)
{
	if (load_cert(path, crt) != 0)
		return false;
	unsigned status = 1;
	uint8_t id1[64], id2[64];
	size_t l1 = sizeof(id1), l2 = sizeof(id2);
	bool ok = gnutls_x509_crt_verify(*crt, &ca->crt, 1, 0, &status) >= 0 &&
		  status == 0 &&
		  gnutls_x509_crt_get_expiration_time(*crt) >
			  time(NULL) + RENEW_BEFORE_DAYS * 86400 &&
		  gnutls_x509_crt_get_key_id(*crt, 0, id1, &l1) >= 0 &&
		  gnutls_x509_privkey_get_key_id(key, 0, id2, &l2) >= 0 &&
		  l1 == l2 && memcmp(id1, id2, l1) == 0;
	if (!ok)
		gnutls_x509_crt_deinit(*crt);
	return ok;
}

/* Is the existing server certificate still the right one? */
static bool server_cert_current(const char *path, const struct ca *ca,
				gnutls_x509_privkey_t key,
				const struct pki_auto_request *r)
{
	gnutls_x509_crt_t crt;
	if (!leaf_current(path, ca, key, &crt))
		return false;
	struct san_set have, want;
	cert_sans(crt, &have);
	wanted_sans(r, &want);
	gnutls_x509_crt_deinit(crt);
	return same_sans(&have, &want);
}

/* SRVName is an IA5String inside an otherName (RFC 4985). */
static int add_srv_id(gnutls_x509_crt_t crt, const char *name)
{
	uint8_t der[2 + 255];
	int n = snprintf((char *)der + 2, sizeof(der) - 2, "_domain-s.%s", name);
	if (n < 0 || n > 127)
		return 0;	/* does not fit a short DER length; skip */
	der[0] = 0x16;
	der[1] = (uint8_t)n;
	return gnutls_x509_crt_set_subject_alt_othername(crt, OID_SRVNAME, der,
		(unsigned)n + 2, GNUTLS_FSAN_APPEND);
}

static int add_sans(gnutls_x509_crt_t crt, const struct pki_auto_request *r)
{
	struct san_set want;
	wanted_sans(r, &want);
	int ret = 0;
	for (size_t i = 0; ret >= 0 && i < want.n; i++)
		ret = gnutls_x509_crt_set_subject_alt_name(crt,
			want.item[i].type, want.item[i].data,
			(unsigned)want.item[i].len, GNUTLS_FSAN_APPEND);
	return ret >= 0 ? add_srv_id(crt, r->name) : ret;
}

/* Sign crt (unless ret already failed) and write it and the CA, PEM. */
static int write_chain(const struct ca *ca, gnutls_x509_crt_t crt, int ret,
		       const char *path, char *err, size_t errlen)
{
	uint8_t aki[64];
	size_t akilen = sizeof(aki);
	if (ret >= 0)
		ret = gnutls_x509_crt_get_subject_key_id(ca->crt, aki, &akilen,
							 NULL);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_authority_key_id(crt, aki, akilen);
	if (ret >= 0)
		ret = gnutls_x509_crt_sign2(crt, ca->crt, ca->key,
					    GNUTLS_DIG_SHA256, 0);
	gnutls_datum_t leaf = { NULL, 0 }, issuer = { NULL, 0 };
	if (ret >= 0)
		ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &leaf);
	if (ret >= 0)
		ret = gnutls_x509_crt_export2(ca->crt, GNUTLS_X509_FMT_PEM,
					      &issuer);
	if (ret < 0) {
		gnutls_free(leaf.data);
		return util_fail(err, errlen, "issuing %s: %s", path,
				 gnutls_strerror(ret));
	}
	/* The chain: the leaf, then the CA. */
	size_t len = leaf.size + issuer.size;
	uint8_t *chain = malloc(len);
	ret = chain ? 0 : -ENOMEM;
	if (chain) {
		memcpy(chain, leaf.data, leaf.size);
		memcpy(chain + leaf.size, issuer.data, issuer.size);
		ret = util_write_file_atomic(path, chain, len, 0644);
		free(chain);
	}
	gnutls_free(leaf.data);
	gnutls_free(issuer.data);
	if (ret != 0)
		return util_fail(err, errlen, "%s: %s", path, strerror(-ret));
	return 0;
}

/* An end-entity certificate of key for dn, for signatures, with one
 * extended key usage; not signed yet. On failure nothing is left. */
static int new_leaf(gnutls_x509_crt_t *crt, gnutls_x509_privkey_t key,
		    const char *dn, const char *purpose)
{
	int ret = gnutls_x509_crt_init(crt);
	if (ret < 0)
		return ret;
	ret = set_common(*crt, key, dn, SERVER_DAYS);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_basic_constraints(*crt, 0, -1);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_key_usage(*crt,
			GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (ret >= 0)
		ret = gnutls_x509_crt_set_key_purpose_oid(*crt, purpose, 0);
	if (ret < 0)
		gnutls_x509_crt_deinit(*crt);
	return ret;
}

static int issue_server_cert(const struct ca *ca, gnutls_x509_privkey_t key,
			     const struct pki_auto_request *r,
			     const char *path, char *err, size_t errlen)
{
	gnutls_x509_crt_t crt;
	char dn[512];
	snprintf(dn, sizeof(dn), "CN=%s", r->name);
	int ret = new_leaf(&crt, key, dn, GNUTLS_KP_TLS_WWW_SERVER);
	if (ret < 0)
		return util_fail(err, errlen, "out of memory");
	ret = add_sans(crt, r);
	ret = write_chain(ca, crt, ret, path, err, errlen);
	gnutls_x509_crt_deinit(crt);
	return ret;
}

int pki_ensure_server_cert(const struct pki_auto_request *req,
			   struct pki_files *files, bool *issued, char *err,
			   size_t errlen)
{
	struct ca ca;
	gnutls_x509_privkey_t key = NULL;
	bool created = false;
	*issued = false;
	if (util_path_join(files->cert, sizeof(files->cert), req->state_dir,
			   "server.pem") ||
	    util_path_join(files->key, sizeof(files->key), req->state_dir,
			   "server.key"))
		return util_fail(err, errlen, "state directory path too long");
	int ret = open_ca(req->state_dir, req->ca_cert, req->ca_key, &ca, files,
			  err, errlen);
	if (ret == 0)
		ret = load_or_create_key(files->key, &key, &created, err, errlen);
	if (ret == 0 && (created ||
			 !server_cert_current(files->cert, &ca, key, req))) {
		ret = issue_server_cert(&ca, key, req, files->cert, err, errlen);
		*issued = ret == 0;
	}
	if (key)
		gnutls_x509_privkey_deinit(key);
	ca_free(&ca);
	return ret;
}

/* ------------------------------------------------------------------ registrar */

/* RFC 8995 5.5: the registrar signs its voucher requests with a
 * certificate of the domain CA that says id-kp-cmcRA; clientAuth too, for
 * a MASA that also wants TLS client authentication. */
static int issue_registrar_cert(const struct ca *ca, gnutls_x509_privkey_t key,
				const char *name, const char *path, char *err,
				size_t errlen)
{
	gnutls_x509_crt_t crt;
	char dn[512];
	snprintf(dn, sizeof(dn), "CN=%s registrar", name);
	int ret = new_leaf(&crt, key, dn, PKI_OID_CMC_RA);
	if (ret < 0)
		return util_fail(err, errlen, "out of memory");
	ret = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT,
						  0);
	ret = write_chain(ca, crt, ret, path, err, errlen);
	gnutls_x509_crt_deinit(crt);
	return ret;
}

int pki_ensure_registrar_cert(const struct pki_auto_request *req,
			      struct pki_files *files, char *err,
			      size_t errlen)
{
	struct ca ca;
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt;
	bool created = false;
	if (util_path_join(files->cert, sizeof(files->cert), req->state_dir,
			   "registrar.pem") ||
	    util_path_join(files->key, sizeof(files->key), req->state_dir,
			   "registrar.key"))
		return util_fail(err, errlen, "state directory path too long");
	int ret = open_ca(req->state_dir, req->ca_cert, req->ca_key, &ca, files,
			  err, errlen);
	if (ret == 0)
		ret = load_or_create_key(files->key, &key, &created, err, errlen);
	if (ret == 0 && !created && leaf_current(files->cert, &ca, key, &crt))
		gnutls_x509_crt_deinit(crt);
	else if (ret == 0)
		ret = issue_registrar_cert(&ca, key, req->name, files->cert, err,
					   errlen);
	if (key)
		gnutls_x509_privkey_deinit(key);
	ca_free(&ca);
	return ret;
}

/* ------------------------------------------------------------------ ticket secret */

int pki_ticket_secret(const char *state_dir, uint8_t secret[64], char *err,
		      size_t errlen)
{
	char path[PATH_MAX];
	if (util_path_join(path, sizeof(path), state_dir, "tickets.key"))
		return util_fail(err, errlen, "state directory path too long");
	uint8_t *data;
	size_t len;
	int ret = util_read_file(path, 1024, &data, &len);
	if (ret == 0 && len == 64) {
		memcpy(secret, data, 64);
		sodium_memzero(data, len);
		free(data);
		return 0;
	}
	if (ret == 0) {
		sodium_memzero(data, len);
		free(data);
		log_warning("pki", "%s has the wrong size; making a new one",
			    path);
	} else if (ret != -ENOENT) {
		return util_fail(err, errlen, "%s: %s", path, strerror(-ret));
	}
	randombytes_buf(secret, 64);
	ret = util_write_file_atomic(path, secret, 64, 0600);
	if (ret != 0)
		return util_fail(err, errlen, "%s: %s", path, strerror(-ret));
	return 0;
}
