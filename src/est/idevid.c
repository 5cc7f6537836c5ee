/*  anchord - est/idevid.c: IoT devices that enroll with their IDevID.
 *
 *  An 802.1AR IDevID is the key and certificate a manufacturer puts in a
 *  device at the factory; its subject serialNumber names the device, and
 *  it may carry the device's MUD URL and its manufacturer's MASA URL. A
 *  device proves it holds one by TLS client authentication, so what is
 *  checked here is the chain the session presented: that it ends in a
 *  manufacturer CA the administrator trusts (est.manufacturer-trust), and
 *  that a rule of the allow-list admits this serial of that manufacturer.
 *  The time checks are GnuTLS's; 802.1AR's "no expiry" notAfter of
 *  99991231235959Z passes them as any far date does.
 */
#include "est/internal.h"
#include "pki/pki.h"
#include "store/store.h"
#include "util/util.h"

#include <fnmatch.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHAIN 8

struct est_manufacturers {
	gnutls_x509_trust_list_t list;
};

struct est_manufacturers *est_manufacturers_load(const char *const *files,
						 size_t n, char *err,
						 size_t errlen)
{
	struct est_manufacturers *m = calloc(1, sizeof(*m));
	if (!m || gnutls_x509_trust_list_init(&m->list, 0) < 0) {
		snprintf(err, errlen, "out of memory");
		free(m);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		int ret = gnutls_x509_trust_list_add_trust_file(m->list,
			files[i], NULL, GNUTLS_X509_FMT_PEM, 0, 0);
		if (ret <= 0) {
			snprintf(err, errlen, "est.manufacturer-trust: %s: %s",
				 files[i], ret < 0 ? gnutls_strerror(ret)
						   : "no certificate in it");
			est_manufacturers_free(m);
			return NULL;
		}
	}
	return m;
}

void est_manufacturers_free(struct est_manufacturers *m)
{
	if (!m)
		return;
	gnutls_x509_trust_list_deinit(m->list, 1);
	free(m);
}

/* ------------------------------------------------------------------ chain */

static void free_chain(gnutls_x509_crt_t *crts, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
}

static int import_chain(const struct net_der *chain, unsigned n,
			gnutls_x509_crt_t *crts)
{
	for (unsigned i = 0; i < n; i++) {
		gnutls_datum_t d = { (unsigned char *)chain[i].data,
				     (unsigned)chain[i].len };
		if (gnutls_x509_crt_init(&crts[i]) < 0 ||
		    gnutls_x509_crt_import(crts[i], &d,
					   GNUTLS_X509_FMT_DER) < 0) {
			free_chain(crts, i + 1);
			return -1;
		}
	}
	return 0;
}

/* Chains to a manufacturer CA, for TLS client authentication (a device
 * certificate without extended key usage passes, as 802.1AR allows). */
static int verify_chain(const struct est_manufacturers *m,
			gnutls_x509_crt_t *crts, unsigned n, char *why,
			size_t whylen)
{
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	unsigned status = 0;
	int ret = gnutls_x509_trust_list_verify_crt2(m->list, crts, n,
		&purpose, 1, GNUTLS_VERIFY_ALLOW_UNSORTED_CHAIN, &status, NULL);
	if (ret >= 0 && status == 0)
		return 0;
	gnutls_datum_t text = { NULL, 0 };
	if (ret >= 0)
		gnutls_certificate_verification_status_print(status,
			GNUTLS_CRT_X509, &text, 0);
	snprintf(why, whylen, "the client certificate is not an IDevID of a "
		 "trusted manufacturer (est.manufacturer-trust): %s",
		 ret < 0 ? gnutls_strerror(ret)
			 : text.data ? (char *)text.data : "not trusted");
	gnutls_free(text.data);
	return -1;
}

static void describe_device(gnutls_x509_crt_t leaf, struct est_idevid *out)
{
	size_t len = sizeof(out->serial);
	if (gnutls_x509_crt_get_dn_by_oid(leaf, PKI_OID_SERIAL_NUMBER, 0, 0,
					  out->serial, &len) < 0)
		out->serial[0] = '\0';
	len = sizeof(out->common_name);
	if (gnutls_x509_crt_get_dn_by_oid(leaf, GNUTLS_OID_X520_COMMON_NAME, 0,
					  0, out->common_name, &len) < 0)
		out->common_name[0] = '\0';
	gnutls_datum_t dn = { NULL, 0 };
	if (gnutls_x509_crt_get_issuer_dn3(leaf, &dn, 0) >= 0)
		snprintf(out->issuer, sizeof(out->issuer), "%s",
			 (const char *)dn.data);
	gnutls_free(dn.data);
	pki_crt_ia5_extension(leaf, PKI_OID_MUD_URL, out->mud_url,
			      sizeof(out->mud_url));
	pki_crt_ia5_extension(leaf, PKI_OID_MASA_URL, out->masa_url,
			      sizeof(out->masa_url));
}

/* ------------------------------------------------------------------ rules */

struct lookup {
	struct est_idevid *dev;
	bool found;
};

static bool rule_matches(const struct store_iot_allow *a,
			 const struct est_idevid *dev)
{
	if (a->issuer[0] && strcmp(a->issuer, dev->issuer) != 0)
		return false;
	if (!a->serial[0])
		return true;
	return a->pattern ? fnmatch(a->serial, dev->serial, 0) == 0
			  : strcmp(a->serial, dev->serial) == 0;
}

/* The first rule that matches, in the order they were added. */
static int find_rule(void *ctx, const struct store_iot_allow *a)
{
	struct lookup *l = ctx;
	if (l->found || !rule_matches(a, l->dev))
		return 0;
	l->found = true;
	l->dev->rule = a->id;
	snprintf(l->dev->profile, sizeof(l->dev->profile), "%s", a->profile);
	return 0;
}

enum est_idevid_result est_idevid_check(const struct est_manufacturers *m,
					struct store *s,
					const struct net_der *chain,
					unsigned n, struct est_idevid *out,
					char *why, size_t whylen)
{
	gnutls_x509_crt_t crts[MAX_CHAIN];
	memset(out, 0, sizeof(*out));
	n = n < MAX_CHAIN ? n : MAX_CHAIN;
	if (n == 0 || import_chain(chain, n, crts) != 0) {
		snprintf(why, whylen, "no usable client certificate");
		return EST_IDEVID_UNTRUSTED;
	}
	int ret = verify_chain(m, crts, n, why, whylen);
	describe_device(crts[0], out);
	free_chain(crts, n);
	if (ret != 0)
		return EST_IDEVID_UNTRUSTED;
	if (!out->serial[0]) {
		snprintf(why, whylen, "the IDevID has no serialNumber in its "
			 "subject (802.1AR)");
		return EST_IDEVID_UNTRUSTED;
	}
	struct lookup l = { .dev = out };
	if (store_iot_allow_each(s, find_rule, &l) != 0) {
		snprintf(why, whylen, "%s", store_error(s));
		return EST_IDEVID_ERROR;
	}
	if (!l.found) {
		snprintf(why, whylen, "the IDevID of device %s from \"%s\" is "
			 "not allowed to enroll (anchorctl iot allow)",
			 out->serial, out->issuer);
		return EST_IDEVID_NOT_ALLOWED;
	}
	return EST_IDEVID_OK;
}

unsigned est_idevid_refused(struct store *s, enum est_idevid_result r,
			    const char *why)
{
	log_info("est", "IDevID refused: %s", why);
	if (r == EST_IDEVID_NOT_ALLOWED)
		store_audit(s, "est", "idevid-refused", why);
	return r == EST_IDEVID_ERROR ? 503 : 403;
}
