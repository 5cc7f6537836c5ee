/*  anchord - tests/fuzz/fuzz_voucher.c: BRSKI vouchers (src/brski/).
 *
 *  An input that starts with '{' is voucher JSON; anything else is a CMS
 *  SignedData, verified against the manufacturer, MASA and domain CAs of
 *  the seed corpus and then against its IDevID as the pinned signer; whatever
 *  verifies has its JSON parsed. Parsed JSON is built again and must
 *  parse to the same voucher. The seeds and fuzz_voucher_certs.h come
 *  from tests/fuzz/make_voucher_corpus.py; time checks are off, so the
 *  seeds keep verifying.
 */
#include "brski/brski.h"
#include "fuzz_voucher_certs.h"

#include <stdlib.h>
#include <string.h>

static gnutls_x509_trust_list_t anchors;

static void add_anchor(const uint8_t *der, size_t len)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)der, (unsigned)len };
	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_trust_list_add_cas(anchors, &crt, 1, 0) != 1)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (gnutls_x509_trust_list_init(&anchors, 0) < 0)
		abort();
	add_anchor(fuzz_mfg_ca, sizeof(fuzz_mfg_ca));
	add_anchor(fuzz_masa_ca, sizeof(fuzz_masa_ca));
	add_anchor(fuzz_domain_ca, sizeof(fuzz_domain_ca));
	return 0;
}

static bool blob_eq(const struct brski_blob *a, const struct brski_blob *b)
{
	return a->len == b->len && (a->len == 0 ||
				    memcmp(a->data, b->data, a->len) == 0);
}

/* What build wrote must parse back to the same voucher. */
static void check_same(const struct brski_voucher *a,
		       const struct brski_voucher *b)
{
	if (a->kind != b->kind || a->created_on != b->created_on ||
	    a->expires_on != b->expires_on ||
	    a->last_renewal_date != b->last_renewal_date ||
	    a->assertion != b->assertion ||
	    (a->serial_number == NULL) != (b->serial_number == NULL) ||
	    (a->serial_number && strcmp(a->serial_number, b->serial_number)) ||
	    a->has_revocation_checks != b->has_revocation_checks ||
	    a->domain_cert_revocation_checks != b->domain_cert_revocation_checks ||
	    !blob_eq(&a->idevid_issuer, &b->idevid_issuer) ||
	    !blob_eq(&a->pinned_domain_cert, &b->pinned_domain_cert) ||
	    !blob_eq(&a->nonce, &b->nonce) ||
	    !blob_eq(&a->proximity_registrar_cert, &b->proximity_registrar_cert) ||
	    !blob_eq(&a->prior_signed_voucher_request,
		     &b->prior_signed_voucher_request))
		abort();
}

static void parse_json(const uint8_t *data, size_t size)
{
	struct brski_voucher v, w;
	char why[256], *json;
	size_t len;
	if (brski_voucher_parse(data, size, &v, why, sizeof(why)) != 0)
		return;
	if (brski_voucher_build(&v, &json, &len) != 0 ||
	    brski_voucher_parse((const uint8_t *)json, len, &w, why,
				sizeof(why)) != 0)
		abort();
	check_same(&v, &w);
	brski_voucher_free(&v);
	brski_voucher_free(&w);
	free(json);
}

static void verify(const uint8_t *data, size_t size,
		   const struct brski_cms_trust *trust)
{
	struct brski_cms_result res;
	char err[256];
	if (brski_cms_verify(data, size, trust, &res, err, sizeof(err)) != 0)
		return;
	if (res.json.data == NULL || res.signer.data == NULL)
		abort();
	parse_json(res.json.data, res.json.len);
	brski_cms_result_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned vflags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
				GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS;
	struct brski_cms_trust by_anchor = { .anchors = anchors,
					     .vflags = vflags };
	struct brski_cms_trust by_pin = { .signer_der = fuzz_idevid,
					  .signer_der_len = sizeof(fuzz_idevid),
					  .vflags = vflags };
	if (size > 0 && data[0] == '{') {
		struct brski_status st;
		char why[128];
		parse_json(data, size);
		if (brski_status_parse(data, size, &st, why, sizeof(why)) == 0)
			brski_status_free(&st);
		return 0;
	}
	verify(data, size, &by_anchor);
	verify(data, size, &by_pin);
	return 0;
}
