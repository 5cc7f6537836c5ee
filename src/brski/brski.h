/*  anchord - brski/brski.h: the interface of the BRSKI voucher library.
 *
 *  Vouchers (RFC 8366) and voucher-requests (RFC 8995) as the registrar,
 *  the pledge and the tests need them: CMS SignedData with the eContentType
 *  id-ct-animaJSONVoucher (media type application/voucher-cms+json), the
 *  JSON inside it, and the IDevID facts a voucher names (serialNumber,
 *  MASA URL, issuer key identifier). No I/O and no globals; depends on
 *  GnuTLS, libtasn1, jansson and libsodium only.
 */
#pragma once

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRSKI_PREFIX "/.well-known/brski"
#define BRSKI_MEDIA_TYPE "application/voucher-cms+json"
/** id-ct-animaJSONVoucher (RFC 8366 §8.3, RFC 8995 §3) */
#define BRSKI_VOUCHER_OID "1.2.840.113549.1.9.16.1.40"
/** id-pe-masa-url (RFC 8995 §2.3.2) and id-pe-mud-url (RFC 8520 §10) */
#define BRSKI_MASA_URL_OID "1.3.6.1.5.5.7.1.32"
#define BRSKI_MUD_URL_OID "1.3.6.1.5.5.7.1.25"
/** X.520 serialNumber: the device serial of an 802.1AR IDevID */
#define BRSKI_SERIAL_NUMBER_OID "2.5.4.5"
/** id-kp-cmcRA: the EKU a registrar's signing certificate carries */
#define BRSKI_KP_CMC_RA "1.3.6.1.5.5.7.3.28"

/** Bytes owned by whoever holds the struct; free() them. */
struct brski_blob {
	uint8_t *data;
	size_t len;
};

void brski_blob_free(struct brski_blob *b);

/* ------------------------------------------------------------------ CMS */

/** Signs json into a CMS SignedData (DER in *out, malloc'd): SHA-256,
 *  eContentType id-ct-animaJSONVoucher, signed attributes (contentType,
 *  signingTime, messageDigest), the signer's certificate and chain[0..n)
 *  in the certificate set. Returns 0, or -1 with a reason in err. */
int brski_cms_sign(const uint8_t *json, size_t len, gnutls_x509_crt_t signer,
		   gnutls_privkey_t key, const gnutls_x509_crt_t *chain,
		   size_t nchain, struct brski_blob *out, char *err,
		   size_t errlen);

/** Whom a verification trusts: exactly one of the two.
 *  signer_der: the signer must be exactly this certificate (the registrar
 *  checks a pledge's request against the IDevID of its TLS session);
 *  anchors: the signer, found in the CMS's certificate set, must chain to
 *  one of these, with the rest of the set as intermediates (the pledge
 *  checks a voucher against its MASA anchor; the MASA checks a registrar).
 *  vflags are gnutls_certificate_verify_flags for both the chain and the
 *  signer's own checks (validity, key usage). */
struct brski_cms_trust {
	const uint8_t *signer_der;
	size_t signer_der_len;
	gnutls_x509_trust_list_t anchors;
	unsigned vflags;
};

/** What a verified CMS holds; all malloc'd, brski_cms_result_free. */
struct brski_cms_result {
	struct brski_blob json;		/**< the content, NUL-terminated too */
	struct brski_blob signer;	/**< the signer's certificate, DER */
	struct brski_blob *certs;	/**< the rest of the certificate set */
	size_t ncerts;
};

/** Verifies a voucher or voucher-request CMS with a single signer.
 *  Rejects another eContentType, no or several signers, a detached or
 *  empty content, a signer that is not the given one or does not chain to
 *  the anchors, and a bad signature. Accepts signatures with and without
 *  signed attributes (RFC 5652 requires them for this content type, but
 *  deployed pledges omit them; the signature then covers the JSON).
 *  Returns 0 and fills res, or -1 with a reason in err. */
int brski_cms_verify(const uint8_t *der, size_t len,
		     const struct brski_cms_trust *trust,
		     struct brski_cms_result *res, char *err, size_t errlen);

void brski_cms_result_free(struct brski_cms_result *res);

/* -------------------------------------------------------------- vouchers */

enum brski_kind {
	BRSKI_VOUCHER,		/**< "ietf-voucher:voucher" (RFC 8366) */
	BRSKI_VOUCHER_REQUEST,	/**< "ietf-voucher-request:voucher" (RFC 8995) */
};

enum brski_assertion {
	BRSKI_ASSERTION_NONE,	/**< absent (allowed in requests only) */
	BRSKI_ASSERTION_VERIFIED,
	BRSKI_ASSERTION_LOGGED,
	BRSKI_ASSERTION_PROXIMITY,
};

/** A voucher or a voucher-request with its binary leaves decoded. Times
 *  are seconds since the epoch, 0 when absent; blobs are empty when
 *  absent. Strings and blobs are malloc'd (brski_voucher_free). */
struct brski_voucher {
	enum brski_kind kind;
	int64_t created_on, expires_on, last_renewal_date;
	enum brski_assertion assertion;
	char *serial_number;
	struct brski_blob idevid_issuer;	/**< AKI keyIdentifier bytes */
	struct brski_blob pinned_domain_cert;	/**< DER */
	bool has_revocation_checks;
	bool domain_cert_revocation_checks;
	struct brski_blob nonce;
	/* voucher-request only */
	struct brski_blob proximity_registrar_cert;	/**< DER */
	struct brski_blob prior_signed_voucher_request; /**< CMS DER */
};

/** Parses strictly: one top-level member, the voucher's or the request's;
 *  known leaves with their YANG types (RFC 7951 JSON: binary as base64,
 *  date-and-time as RFC 3339, boolean); the assertion enumeration; the
 *  leaves RFC 8366 makes mandatory in a voucher (created-on, assertion,
 *  serial-number, pinned-domain-cert). Unknown leaves inside the container
 *  are ignored (see voucher.c). Returns 0, or -1 with a reason in why. */
int brski_voucher_parse(const uint8_t *json, size_t len,
			struct brski_voucher *v, char *why, size_t whylen);

/** Writes v as compact JSON (malloc'd, NUL-terminated, *len without the
 *  NUL). Absent leaves are left out. Returns 0, or -1 on an invalid v. */
int brski_voucher_build(const struct brski_voucher *v, char **json,
			size_t *len);

void brski_voucher_free(struct brski_voucher *v);

const char *brski_assertion_name(enum brski_assertion a);

/* ------------------------------------------------------ status telemetry */

/** voucher_status and enrollstatus (RFC 8995 5.7, 5.9.4): {"version",
 *  "status": boolean, "reason": string, "reason-context": object}. */
struct brski_status {
	bool ok;
	char reason[256];		/**< "" when absent, cut to fit */
	char *context;			/**< compact JSON, or NULL; free() */
};

/** Parses a status report; version, reason and reason-context are
 *  optional, status is not. Returns 0, or -1 with a reason in why. */
int brski_status_parse(const uint8_t *json, size_t len, struct brski_status *s,
		       char *why, size_t whylen);
void brski_status_free(struct brski_status *s);

/* ------------------------------------------------------ IDevID helpers */

/** The subject's serialNumber (2.5.4.5) into out. Returns 0, or -1 when
 *  absent or longer than outlen - 1. */
int brski_cert_serial_number(gnutls_x509_crt_t crt, char *out, size_t outlen);

/** The id-pe-masa-url extension (an IA5String) into out. Returns 0, or -1
 *  when absent, malformed, or longer than outlen - 1. */
int brski_cert_masa_url(gnutls_x509_crt_t crt, char *out, size_t outlen);

/** The AuthorityKeyIdentifier keyIdentifier (what idevid-issuer carries,
 *  RFC 8366 §5.3), malloc'd into *out. Returns 0, or -1 when absent. */
int brski_cert_authority_key_id(gnutls_x509_crt_t crt, struct brski_blob *out);
