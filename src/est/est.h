/*  anchord - est/est.h: the interface of the EST server.
 *
 *  Enrollment over Secure Transport (RFC 7030, with the clarifications of
 *  RFC 8951 and the /eecerts and /crls of RFC 8295) on the HTTP router:
 *  devices fetch anchord's trust anchor and its DNS server's certificate,
 *  and get client certificates. Depends on net/ (HTTP), pki/ (the CA) and
 *  store/ (what was issued, tokens, users, approvals).
 */
#pragma once

#include "net/net.h"

#include <gnutls/gnutls.h>
#include <uv.h>

#define EST_PREFIX "/.well-known/est"

struct est_conf {
	const char *state_dir;
	const char *ca_cert, *ca_key;	/**< imported CA, or NULL: built-in */
	const char *server_cert;	/**< what /eecerts serves (PEM chain) */
	unsigned validity_days;
	bool manual_approval;		/**< 202 until anchorctl cert approve */
	unsigned retry_after_s;
	bool require_pop_linking;	/**< CSRs must carry challengePassword */
	bool basic_auth;		/**< HTTP Basic for EST users */
	char **allowed_domains;		/**< DNS SANs may lie below these */
	size_t n_allowed_domains;
	const char *const *manufacturer_trust;	/**< PEM files of IDevID
					 *   issuers (802.1AR), with the
					 *   allow-list of anchorctl iot allow */
	size_t n_manufacturer_trust;
	char *const *masa_ca;		/**< trust anchors of MASAs' HTTPS
					 *   (PEM), or none: the system store */
	size_t n_masa_ca;
};

struct pki_ca;
struct pki_csr;
struct store;

/** An enrollment request's body (RFC 7030 4.2.1 as RFC 8951 clarifies:
 *  base64 of a PKCS#10 request, whitespace anywhere) decoded, parsed and
 *  checked. Returns 0, or -1 with a reason a person can read; on success
 *  the caller frees out with pki_csr_free. */
int est_decode_csr(const uint8_t *body, size_t len, struct pki_csr *out,
		   char *why, size_t whylen);

/** A CRL of every certificate the store has revoked, signed by ca and
 *  valid for lifetime seconds (the TLS listeners load it too). The caller
 *  frees crl->data with gnutls_free. */
int est_make_crl(struct pki_ca *ca, struct store *s, int64_t lifetime,
		 gnutls_datum_t *crl);

/** The EST service of one worker (its own store connection). */
struct est_service;

struct est_service *est_service_new(uv_loop_t *loop, const struct est_conf *c,
				    char *err, size_t errlen);
/** Serve under /.well-known/est (with an optional CA label segment). */
int est_service_route(struct est_service *est, struct net_http_router *r);
/** Before the loop ends: record what is waiting, close the handle; free
 *  after the loop has run the close. */
void est_service_close(struct est_service *est);
void est_service_free(struct est_service *est);
