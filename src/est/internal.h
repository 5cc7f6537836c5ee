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

struct store;

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
