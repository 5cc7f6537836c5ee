/*  anchord - est/internal.h: what the EST files share, not an interface.
 *
 *  IoT devices authenticate with their 802.1AR IDevID (a factory
 *  certificate) as TLS client certificate: it must chain to a
 *  manufacturer CA of est.manufacturer-trust and match a rule of the
 *  allow-list (anchorctl iot allow).
 */
#pragma once

#include "net/net.h"

#include <stddef.h>
#include <uv.h>

struct store;

/** Whether a Content-Type header is this media type (parameters aside). */
bool est_media_type_is(const char *header, const char *type);

/** What an IDevID says about its device, and the rule that let it in. */
struct est_idevid {
	char serial[128];		/**< subject serialNumber (2.5.4.5) */
	char common_name[128];		/**< subject CN, or "" */
	char issuer[512];		/**< the manufacturer CA's DN, RFC 4514 */
	char mud_url[256];		/**< id-pe-mud-url, or "" */
	char masa_url[256];		/**< id-pe-masa-url, or "" */
	char profile[64];		/**< from the allow rule */
	int64_t rule;			/**< the allow rule's id */
};

/** The manufacturer CAs whose IDevIDs are accepted. */
struct est_manufacturers;

/** Load PEM files of manufacturer CA certificates; NULL with a reason
 *  when one cannot be read or holds no certificate. */
struct est_manufacturers *est_manufacturers_load(const char *const *files,
						 size_t n, char *err,
						 size_t errlen);
void est_manufacturers_free(struct est_manufacturers *m);

enum est_idevid_result {
	EST_IDEVID_OK = 0,
	EST_IDEVID_UNTRUSTED,		/**< no trusted manufacturer issued it */
	EST_IDEVID_NOT_ALLOWED,		/**< trusted, but no rule allows it */
	EST_IDEVID_ERROR,		/**< the store failed */
};

/** Verify a client's certificate chain (leaf first) as an IDevID and
 *  look it up in the allow-list. Fills out as far as it got; why says
 *  what failed. */
enum est_idevid_result est_idevid_check(const struct est_manufacturers *m,
					struct store *s,
					const struct net_der *chain,
					unsigned n, struct est_idevid *out,
					char *why, size_t whylen);

/** Log a refusal (and audit one of a trusted device no rule admits);
 *  returns the HTTP status to answer with. */
unsigned est_idevid_refused(struct store *s, enum est_idevid_result r,
			    const char *why);

/* ------------------------------------------------------------------ registrar.c */

/** The BRSKI registrar of one worker (RFC 8995), beside its EST service. */
struct est_registrar;

struct est_registrar_conf {
	struct store *store;		/**< the EST service's connection */
	const struct est_manufacturers *manufacturers;
	const char *signer_cert;	/**< registrar.pem: leaf, then the CA */
	const char *signer_key;
	const char *tls_cert;		/**< the TLS server certificate (PEM) */
	char *const *masa_ca;		/**< trust for the MASAs' HTTPS, or
					 *   none: the system store */
	size_t n_masa_ca;
};

struct est_registrar *est_registrar_new(uv_loop_t *loop,
					const struct est_registrar_conf *c,
					char *err, size_t errlen);
/** A request below /.well-known/brski; op is the rest of the path. */
void est_registrar_handle(struct est_registrar *reg,
			  struct net_http_exchange *ex, const char *op);
/** Answer who waits, stop asking MASAs, close the timer; free after the
 *  loop has run the close. */
void est_registrar_close(struct est_registrar *reg);
void est_registrar_free(struct est_registrar *reg);
