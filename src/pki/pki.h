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
 *  first use, key 0600). Fills files->ca_cert. */
int pki_ensure_ca(const char *state_dir, struct pki_files *files, char *err,
		  size_t errlen);
/** Make sure a server certificate issued by the built-in CA matches the
 *  request, issuing a new one when it is missing, expiring, or names other
 *  names or addresses. The server key is kept across issues, so that the
 *  pin stays the same. Fills all of files. *issued tells whether a new
 *  certificate was written. */
int pki_ensure_server_cert(const struct pki_auto_request *req,
			   struct pki_files *files, bool *issued, char *err,
			   size_t errlen);
/** Load (or create, 0600) the 64-byte secret from which TLS session ticket
 *  keys are derived; every worker and a restarted daemon use the same. */
int pki_ticket_secret(const char *state_dir, uint8_t secret[64], char *err,
		      size_t errlen);
