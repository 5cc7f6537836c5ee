/*  anchord - pki/pki.h: the interface of the PKI subsystem.
 *
 *  The built-in certificate authority and the certificates anchord serves
 *  with, and SPKI pins (base64 of the SHA-256 of a certificate's
 *  SubjectPublicKeyInfo, RFC 7858 section 4.2; the same digest as a
 *  TLSA 3 1 1 record). Depends on util/ and GnuTLS only.
 */
#pragma once

#include "util/util.h"

#include <gnutls/gnutls.h>
#include <limits.h>

#define PKI_DIGEST_LEN 32
#define PKI_PIN_LEN 45			/**< base64 of 32 bytes, and a NUL */
#define PKI_HEX_LEN (PKI_DIGEST_LEN * 2 + 1)

/** The SHA-256 of the SubjectPublicKeyInfo of a DER certificate. */
int pki_spki_sha256(const gnutls_datum_t *cert_der,
		    uint8_t digest[PKI_DIGEST_LEN]);
void pki_pin_to_base64(const uint8_t digest[PKI_DIGEST_LEN],
		       char out[PKI_PIN_LEN]);
void pki_pin_to_hex(const uint8_t digest[PKI_DIGEST_LEN],
		    char out[PKI_HEX_LEN]);
/** Parse a base64 pin; returns 0 or -1. */
int pki_pin_parse(const char *base64, uint8_t digest[PKI_DIGEST_LEN]);
/** The pin of the first certificate in a PEM file. */
int pki_pin_of_file(const char *pem_file, uint8_t digest[PKI_DIGEST_LEN],
		    char *err, size_t errlen);

/** What the automatic server certificate must say. */
struct pki_auto_request {
	const char *state_dir;
	const char *ca_cert, *ca_key;	/**< an imported CA, or NULL: built-in */
	const char *name;		/**< DNS-ID, and SRV-ID _domain-s.<name> */
	const struct util_addr *addresses;	/**< IP SANs */
	size_t n_addresses;
};

/** The files anchord serves with. */
struct pki_files {
	char ca_cert[PATH_MAX];		/**< the built-in CA, PEM */
	char cert[PATH_MAX];		/**< server certificate and chain, PEM */
	char key[PATH_MAX];		/**< server key, PEM, mode 0600 */
};

/** Make sure the built-in CA exists in state_dir (ECDSA P-256, created on
 *  first use, key 0600), or that the imported one (ca_cert and ca_key,
 *  PEM) loads. Fills files->ca_cert. */
int pki_ensure_ca(const char *state_dir, const char *ca_cert,
		  const char *ca_key, struct pki_files *files, char *err,
		  size_t errlen);
/** Make sure a server certificate issued by the built-in CA matches the
 *  request, issuing a new one when it is missing, expiring, or names other
 *  names or addresses. The server key is kept across issues, so that the
 *  pin stays the same. Fills all of files. *issued tells whether a new
 *  certificate was written. */
int pki_ensure_server_cert(const struct pki_auto_request *req,
			   struct pki_files *files, bool *issued, char *err,
			   size_t errlen);
/** The same for the BRSKI registrar's signing certificate (RFC 8995 5.5:
 *  EKU id-kp-cmcRA, issued by the same CA, CN "<name> registrar"):
 *  registrar.pem (with the CA after it) and registrar.key in state_dir. */
int pki_ensure_registrar_cert(const struct pki_auto_request *req,
			      struct pki_files *files, char *err,
			      size_t errlen);
/** Load (or create, 0600) the 64-byte secret from which TLS session ticket
 *  keys are derived; every worker and a restarted daemon use the same. */
int pki_ticket_secret(const char *state_dir, uint8_t secret[64], char *err,
		      size_t errlen);

/* ------------------------------------------------------------------ issuing */

/** A certificate authority ready to sign: the built-in one of a state
 *  directory (created on first use) or one imported from PEM files. */
struct pki_ca;

int pki_ca_open(const char *state_dir, const char *cert_file,
		const char *key_file, struct pki_ca **out, char *err,
		size_t errlen);
void pki_ca_free(struct pki_ca *ca);
/** The CA certificate, DER. */
const gnutls_datum_t *pki_ca_der(const struct pki_ca *ca);

#define PKI_MAX_SANS 8

/** A certificate request, parsed and checked: its signature (the
 *  requester holds the key), its signature algorithm, its key. */
struct pki_csr {
	void *crq;			/**< gnutls_x509_crq_t */
	void *pub;			/**< its gnutls_pubkey_t */
	int pk_algo;			/**< gnutls_pk_algorithm_t */
	char subject[256];
	uint8_t spki_sha256[PKI_DIGEST_LEN];
	bool has_challenge;
	char challenge[256];		/**< challengePassword (POP linking) */
	size_t n_dns_sans;
	char dns_sans[PKI_MAX_SANS][256];
	bool other_sans;		/**< SANs other than DNS names */
};

/** Returns 0, or -1 with a reason a person can read (bad signature, weak
 *  or unsupported key, not a CSR). */
int pki_csr_parse(const uint8_t *der, size_t len, struct pki_csr *out,
		  char *why, size_t whylen);
void pki_csr_free(struct pki_csr *csr);

/** What to issue. The key comes from the request, or from key (a key the
 *  server generated, RFC 7030 serverkeygen). */
struct pki_issue {
	const struct pki_csr *csr;
	void *key;			/**< gnutls_x509_privkey_t, or NULL */
	const char *common_name;	/**< decided by the server */
	const char *const *dns_sans;
	size_t n_dns_sans;
	unsigned validity_days;
	bool client_auth, server_auth;
	const char *serial_number;	/**< subject serialNumber (2.5.4.5, an
					 *   802.1AR device serial), or NULL */
	const char *mud_url;		/**< id-pe-mud-url extension, or NULL */
};

struct pki_issued {
	gnutls_datum_t der;
	char serial[41];		/**< hex */
	char subject[256];
	uint8_t spki_sha256[PKI_DIGEST_LEN];
	int64_t not_before, not_after;
};

#define PKI_OID_SERIAL_NUMBER "2.5.4.5"
#define PKI_OID_MUD_URL "1.3.6.1.5.5.7.1.25"
#define PKI_OID_MASA_URL "1.3.6.1.5.5.7.1.32"
#define PKI_OID_CMC_RA "1.3.6.1.5.5.7.3.28"

/** An IA5String extension of a certificate (gnutls_x509_crt_t), such as
 *  id-pe-mud-url or id-pe-masa-url, as text: "" when absent, too long or
 *  not printable (a URL has no spaces or controls). */
void pki_crt_ia5_extension(void *crt, const char *oid, char *out, size_t cap);

/** Safe to call from several threads with the same CA (and pki_crl with
 *  it meanwhile): the CA's signing is serialized. */
int pki_issue(struct pki_ca *ca, const struct pki_issue *req,
	      struct pki_issued *out, char *err, size_t errlen);
void pki_issued_free(struct pki_issued *out);

/** The SHA-256 of a private key's SubjectPublicKeyInfo (key is a
 *  gnutls_x509_privkey_t). Returns 0 or -1. */
int pki_key_spki_sha256(void *key, uint8_t digest[PKI_DIGEST_LEN]);
/** A new ECDSA P-256 key (for serverkeygen) and its PKCS#8 DER. */
int pki_new_key(void **key);
int pki_key_pkcs8(void *key, gnutls_datum_t *der);
void pki_key_free(void *key);

/** CMS SignedData without signers, carrying certificates (RFC 5652, the
 *  "certs-only" of RFC 7030) or a CRL. The caller frees out->data with
 *  gnutls_free. */
int pki_certs_only(const gnutls_datum_t *certs, size_t n, gnutls_datum_t *out);
int pki_crls_only(const gnutls_datum_t *crl, gnutls_datum_t *out);

/** A revoked certificate for the CRL. */
struct pki_revoked {
	char serial[41];		/**< hex */
	int64_t at;
};

/** A CRL signed by the CA, valid for next_update seconds. */
int pki_crl(struct pki_ca *ca, const struct pki_revoked *revoked, size_t n,
	    uint64_t number, int64_t next_update, gnutls_datum_t *der);
/** Every certificate in a PEM file, DER (for /eecerts); free each with
 *  gnutls_free and the array with free. */
int pki_pem_certs(const char *pem_file, gnutls_datum_t **certs, size_t *n);
