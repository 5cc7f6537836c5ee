/*  anchord - brski/cms.c: CMS SignedData for vouchers and voucher-requests.
 *
 *  Signing. A voucher's SignedData must say eContentType
 *  id-ct-animaJSONVoucher (RFC 8366 §8.3), and RFC 5652 §5.3 requires
 *  signed attributes for any content type other than id-data, whose
 *  contentType attribute must repeat the eContentType. GnuTLS 3.7.9's
 *  gnutls_pkcs7_sign has no setter for it: it writes id-data into
 *  encapContentInfo and into the contentType attribute every time it signs,
 *  even on a structure imported with another OID (lib/x509/pkcs7.c), and
 *  the attribute is under the signature, so the OID cannot be patched
 *  afterwards. So GnuTLS builds everything (certificate set, signer id,
 *  algorithm identifiers, signingTime, messageDigest), and libtasn1 (the
 *  ASN.1 library GnuTLS itself is built on) then decodes that DER with
 *  the small CMS module cms.asn, sets the eContentType and the contentType
 *  attribute to the voucher OID and version 3 (RFC 5652 §5.1 for a
 *  non-id-data content), DER-encodes the signed attributes and signs them
 *  again with the same key (RFC 5652 §5.4). The messageDigest is over the
 *  content octets only and stays valid. Hand-written DER or a second CMS
 *  implementation were the alternatives; both would duplicate what these
 *  two libraries do.
 *
 *  Verification uses GnuTLS alone: it keeps any eContentType, checks the
 *  messageDigest and that the contentType attribute equals the
 *  eContentType, and verifies the signature.
 */
#include "brski/internal.h"

#include <gnutls/abstract.h>
#include <gnutls/pkcs7.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTR_CONTENT_TYPE "1.2.840.113549.1.9.3"

/* DER of the OBJECT IDENTIFIER BRSKI_VOUCHER_OID: the value of the
 * contentType attribute (an ANY in cms.asn, so written encoded). */
static const uint8_t voucher_oid_der[] = {
	0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
	0x01, 0x09, 0x10, 0x01, 0x28,
};

int brski_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int brski_blob_set(struct brski_blob *b, const void *data, size_t len)
{
	b->data = malloc(len + 1);
	if (b->data == NULL) {
		b->len = 0;
		return -1;
	}
	if (len > 0)
		memcpy(b->data, data, len);
	b->data[len] = 0;
	b->len = len;
	return 0;
}

void brski_blob_free(struct brski_blob *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

/* ---------------------------------------------------------------- signing */

/* GnuTLS's SignedData with id-data, signed attributes and the certs. */
static int sign_as_id_data(const uint8_t *json, size_t len,
			   gnutls_x509_crt_t signer, gnutls_privkey_t key,
			   const gnutls_x509_crt_t *chain, size_t nchain,
			   gnutls_datum_t *der, char *err, size_t errlen)
{
	gnutls_pkcs7_t p7;
	gnutls_datum_t data = { (unsigned char *)json, (unsigned)len };
	int ret = gnutls_pkcs7_init(&p7);
	if (ret < 0)
		return brski_fail(err, errlen, "pkcs7: %s", gnutls_strerror(ret));
	/* INCLUDE_TIME makes GnuTLS write signed attributes at all */
	ret = gnutls_pkcs7_sign(p7, signer, key, &data, NULL, NULL,
				GNUTLS_DIG_SHA256,
				GNUTLS_PKCS7_EMBED_DATA |
				GNUTLS_PKCS7_INCLUDE_CERT |
				GNUTLS_PKCS7_INCLUDE_TIME);
	for (size_t i = 0; ret >= 0 && i < nchain; i++)
		ret = gnutls_pkcs7_set_crt(p7, chain[i]);
	if (ret >= 0)
		ret = gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, der);
	gnutls_pkcs7_deinit(p7);
	if (ret < 0)
		return brski_fail(err, errlen, "signing: %s",
				  gnutls_strerror(ret));
	return 0;
}

/* DER-encodes node name of tree into a gnutls_malloc'd datum. */
static int tasn_encode(asn1_node tree, const char *name, gnutls_datum_t *out)
{
	int size = 0;
	if (asn1_der_coding(tree, name, NULL, &size, NULL) != ASN1_MEM_ERROR)
		return -1;
	out->data = gnutls_malloc(size);
	if (out->data == NULL)
		return -1;
	if (asn1_der_coding(tree, name, out->data, &size, NULL) != ASN1_SUCCESS) {
		gnutls_free(out->data);
		out->data = NULL;
		return -1;
	}
	out->size = (unsigned)size;
	return 0;
}

/* Decodes the ContentInfo and the SignedData inside it. */
static int decode_signed_data(asn1_node defs, const gnutls_datum_t *der,
			      asn1_node *ci, asn1_node *sd)
{
	uint8_t *content;
	int size = 0, ret = -1;
	if (asn1_create_element(defs, "BRSKI-CMS.ContentInfo", ci) != ASN1_SUCCESS ||
	    asn1_create_element(defs, "BRSKI-CMS.SignedData", sd) != ASN1_SUCCESS ||
	    asn1_der_decoding(ci, der->data, (int)der->size, NULL) != ASN1_SUCCESS ||
	    asn1_read_value(*ci, "content", NULL, &size) != ASN1_MEM_ERROR)
		return -1;
	content = malloc((size_t)size);
	if (content == NULL)
		return -1;
	if (asn1_read_value(*ci, "content", content, &size) == ASN1_SUCCESS &&
	    asn1_der_decoding(sd, content, size, NULL) == ASN1_SUCCESS)
		ret = 0;
	free(content);
	return ret;
}

/* Sets the voucher OID where GnuTLS wrote id-data: the eContentType and
 * the value of the first signer's contentType attribute. */
static int set_voucher_content_type(asn1_node sd)
{
	char name[64], oid[64];
	if (asn1_write_value(sd, "version", "3", 0) != ASN1_SUCCESS ||
	    asn1_write_value(sd, "encapContentInfo.eContentType",
			     BRSKI_VOUCHER_OID, 1) != ASN1_SUCCESS)
		return -1;
	for (unsigned i = 1;; i++) {
		int len = sizeof(oid);
		snprintf(name, sizeof(name), "signerInfos.?1.signedAttrs.?%u.type", i);
		if (asn1_read_value(sd, name, oid, &len) != ASN1_SUCCESS)
			return -1;
		if (strcmp(oid, ATTR_CONTENT_TYPE) != 0)
			continue;
		snprintf(name, sizeof(name),
			 "signerInfos.?1.signedAttrs.?%u.values.?1", i);
		if (asn1_write_value(sd, name, voucher_oid_der,
				     sizeof(voucher_oid_der)) != ASN1_SUCCESS)
			return -1;
		return 0;
	}
}

/* Signs the DER of the signed attributes, with the SET OF tag rather than
 * their [0] IMPLICIT one (RFC 5652 §5.4), and stores the signature. */
static int resign_attributes(asn1_node sd, gnutls_privkey_t key)
{
	gnutls_datum_t attrs = { NULL, 0 }, sig = { NULL, 0 };
	int ret = -1;
	if (tasn_encode(sd, "signerInfos.?1.signedAttrs", &attrs) != 0)
		return -1;
	attrs.data[0] = 0x31;
	if (gnutls_privkey_sign_data(key, GNUTLS_DIG_SHA256, 0, &attrs, &sig) >= 0 &&
	    asn1_write_value(sd, "signerInfos.?1.signature", sig.data,
			     (int)sig.size) == ASN1_SUCCESS)
		ret = 0;
	gnutls_free(attrs.data);
	gnutls_free(sig.data);
	return ret;
}

/* Re-encodes the SignedData into the ContentInfo and that into *out. */
static int encode_content_info(asn1_node ci, asn1_node sd,
			       struct brski_blob *out)
{
	gnutls_datum_t inner = { NULL, 0 }, outer = { NULL, 0 };
	int ret = -1;
	if (tasn_encode(sd, "", &inner) == 0 &&
	    asn1_write_value(ci, "content", inner.data, (int)inner.size) == ASN1_SUCCESS &&
	    tasn_encode(ci, "", &outer) == 0 &&
	    brski_blob_set(out, outer.data, outer.size) == 0)
		ret = 0;
	gnutls_free(inner.data);
	gnutls_free(outer.data);
	return ret;
}

static int retype_as_voucher(const gnutls_datum_t *der, gnutls_privkey_t key,
			     struct brski_blob *out, char *err, size_t errlen)
{
	asn1_node defs = NULL, ci = NULL, sd = NULL;
	const char *step = NULL;
	if (asn1_array2tree(brski_cms_asn1_tab, &defs, NULL) != ASN1_SUCCESS)
		step = "loading the CMS ASN.1 module";
	else if (decode_signed_data(defs, der, &ci, &sd) != 0)
		step = "decoding GnuTLS's SignedData";
	else if (set_voucher_content_type(sd) != 0)
		step = "setting the eContentType";
	else if (resign_attributes(sd, key) != 0)
		step = "signing the signed attributes";
	else if (encode_content_info(ci, sd, out) != 0)
		step = "encoding the SignedData";
	asn1_delete_structure(&sd);
	asn1_delete_structure(&ci);
	asn1_delete_structure(&defs);
	if (step != NULL)
		return brski_fail(err, errlen, "CMS: failed %s", step);
	return 0;
}

int brski_cms_sign(const uint8_t *json, size_t len, gnutls_x509_crt_t signer,
		   gnutls_privkey_t key, const gnutls_x509_crt_t *chain,
		   size_t nchain, struct brski_blob *out, char *err,
		   size_t errlen)
{
	gnutls_datum_t der = { NULL, 0 };
	int ret;
	out->data = NULL;
	out->len = 0;
	if (json == NULL || len == 0)
		return brski_fail(err, errlen, "nothing to sign");
	if (sign_as_id_data(json, len, signer, key, chain, nchain, &der, err,
			    errlen) != 0)
		return -1;
	ret = retype_as_voucher(&der, key, out, err, errlen);
	gnutls_free(der.data);
	return ret;
}

/* ----------------------------------------------------------- verification */

void brski_cms_result_free(struct brski_cms_result *res)
{
	if (res == NULL)
		return;
	brski_blob_free(&res->json);
	brski_blob_free(&res->signer);
	for (size_t i = 0; i < res->ncerts; i++)
		brski_blob_free(&res->certs[i]);
	free(res->certs);
	memset(res, 0, sizeof(*res));
}

static bool datum_eq(const gnutls_datum_t *a, const gnutls_datum_t *b)
{
	return a->size == b->size && a->size > 0 &&
	       memcmp(a->data, b->data, a->size) == 0;
}

/* Whether crt is the one the SignerInfo names: issuer and serial number,
 * or subject key identifier. */
static bool is_signer(gnutls_x509_crt_t crt,
		      const gnutls_pkcs7_signature_info_st *info)
{
	uint8_t buf[128];
	size_t size = sizeof(buf);
	gnutls_datum_t got = { buf, 0 }, issuer = { NULL, 0 };
	bool match = false;
	if (info->issuer_dn.size > 0) {
		if (gnutls_x509_crt_get_serial(crt, buf, &size) < 0)
			return false;
		got.size = (unsigned)size;
		if (!datum_eq(&got, &info->signer_serial) ||
		    gnutls_x509_crt_get_raw_issuer_dn(crt, &issuer) < 0)
			return false;
		match = datum_eq(&issuer, &info->issuer_dn);
		gnutls_free(issuer.data);
		return match;
	}
	if (gnutls_x509_crt_get_subject_key_id(crt, buf, &size, NULL) < 0)
		return false;
	got.size = (unsigned)size;
	return datum_eq(&got, &info->issuer_keyid);
}

/* Checks the envelope: eContentType, one signer, embedded content. */
static int check_envelope(gnutls_pkcs7_t p7, struct brski_cms_result *res,
			  char *err, size_t errlen)
{
	gnutls_datum_t data = { NULL, 0 };
	const char *oid = gnutls_pkcs7_get_embedded_data_oid(p7);
	int n = gnutls_pkcs7_get_signature_count(p7), ret;
	if (oid == NULL || strcmp(oid, BRSKI_VOUCHER_OID) != 0)
		return brski_fail(err, errlen,
				  "eContentType is %s, not id-ct-animaJSONVoucher",
				  oid ? oid : "missing");
	if (n != 1)
		return brski_fail(err, errlen,
				  "%d signers, a voucher has exactly one",
				  n < 0 ? 0 : n);
	ret = gnutls_pkcs7_get_embedded_data(p7, 0, &data);
	if (ret < 0 || data.size == 0) {
		gnutls_free(data.data);
		return brski_fail(err, errlen, "no embedded content (detached?)");
	}
	ret = brski_blob_set(&res->json, data.data, data.size);
	gnutls_free(data.data);
	return ret == 0 ? 0 : brski_fail(err, errlen, "out of memory");
}

/* Copies the certificate set: the signer (if there) and the others. */
static int collect_certs(gnutls_pkcs7_t p7,
			 const gnutls_pkcs7_signature_info_st *info,
			 struct brski_cms_result *res)
{
	int n = gnutls_pkcs7_get_crt_count(p7);
	if (n <= 0)
		return 0;
	res->certs = calloc((size_t)n, sizeof(*res->certs));
	if (res->certs == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		gnutls_datum_t der = { NULL, 0 };
		gnutls_x509_crt_t crt = NULL;
		bool signer = false;
		int ret = gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &der);
		if (ret >= 0 && gnutls_x509_crt_init(&crt) >= 0 &&
		    gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) >= 0)
			signer = res->signer.data == NULL && is_signer(crt, info);
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		if (ret >= 0)
			ret = brski_blob_set(signer ? &res->signer
					     : &res->certs[res->ncerts++],
					     der.data, der.size);
		gnutls_free(der.data);
		if (ret < 0)
			return -1;
	}
	return 0;
}

/* Mode (a): the signer must be this certificate. */
static int verify_pinned_signer(gnutls_pkcs7_t p7,
				const gnutls_pkcs7_signature_info_st *info,
				const struct brski_cms_trust *trust,
				gnutls_x509_crt_t crt,
				struct brski_cms_result *res, char *err,
				size_t errlen)
{
	gnutls_datum_t der = { (unsigned char *)trust->signer_der,
			       (unsigned)trust->signer_der_len };
	if (gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) < 0)
		return brski_fail(err, errlen, "the expected signer is not a certificate");
	if (!is_signer(crt, info))
		return brski_fail(err, errlen,
				  "signed by another certificate than the expected one");
	if (res->signer.data != NULL &&
	    (res->signer.len != der.size ||
	     memcmp(res->signer.data, der.data, der.size) != 0))
		return brski_fail(err, errlen,
				  "the CMS carries another signer certificate with the same name");
	if (res->signer.data == NULL &&
	    brski_blob_set(&res->signer, der.data, der.size) != 0)
		return brski_fail(err, errlen, "out of memory");
	return 0;
}

/* Mode (b): the signer from the set must chain to the anchors, with the
 * other certificates of the set as candidate intermediates. */
static int verify_signer_chain(const struct brski_cms_trust *trust,
			       gnutls_x509_crt_t crt,
			       struct brski_cms_result *res, char *err,
			       size_t errlen)
{
	gnutls_x509_crt_t *list;
	gnutls_datum_t der = { res->signer.data, (unsigned)res->signer.len };
	unsigned n = 1, status = 0;
	int ret;
	if (res->signer.data == NULL)
		return brski_fail(err, errlen,
				  "the signer's certificate is not in the CMS");
	if (gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) < 0)
		return brski_fail(err, errlen, "the signer's certificate does not parse");
	list = calloc(res->ncerts + 1, sizeof(*list));
	if (list == NULL)
		return brski_fail(err, errlen, "out of memory");
	list[0] = crt;
	for (size_t i = 0; i < res->ncerts; i++) {
		gnutls_datum_t d = { res->certs[i].data, (unsigned)res->certs[i].len };
		if (gnutls_x509_crt_init(&list[n]) < 0)
			break;
		if (gnutls_x509_crt_import(list[n], &d, GNUTLS_X509_FMT_DER) < 0)
			gnutls_x509_crt_deinit(list[n]);
		else
			n++;
	}
	ret = gnutls_x509_trust_list_verify_crt2(trust->anchors, list, n, NULL,
						 0, trust->vflags, &status, NULL);
	for (unsigned i = 1; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	free(list);
	if (ret < 0 || status != 0) {
		gnutls_datum_t why = { NULL, 0 };
		if (ret >= 0)
			gnutls_certificate_verification_status_print(
				status, GNUTLS_CRT_X509, &why, 0);
		brski_fail(err, errlen, "the signer is not trusted: %s",
			   ret < 0 ? gnutls_strerror(ret) : (char *)why.data);
		gnutls_free(why.data);
		return -1;
	}
	return 0;
}

static int verify_signature(gnutls_pkcs7_t p7, gnutls_x509_crt_t signer,
			    unsigned vflags, char *err, size_t errlen)
{
	int ret = gnutls_pkcs7_verify_direct(p7, signer, 0, NULL, vflags);
	if (ret == GNUTLS_E_PARSING_ERROR)
		return brski_fail(err, errlen,
				  "the contentType attribute does not match the eContentType");
	if (ret < 0)
		return brski_fail(err, errlen, "the signature does not verify: %s",
				  gnutls_strerror(ret));
	return 0;
}

static int verify_parsed(gnutls_pkcs7_t p7, const struct brski_cms_trust *trust,
			 struct brski_cms_result *res, char *err, size_t errlen)
{
	gnutls_pkcs7_signature_info_st info;
	gnutls_x509_crt_t signer = NULL;
	int ret;
	if (check_envelope(p7, res, err, errlen) != 0)
		return -1;
	ret = gnutls_pkcs7_get_signature_info(p7, 0, &info);
	if (ret < 0)
		return brski_fail(err, errlen, "signer info: %s", gnutls_strerror(ret));
	ret = collect_certs(p7, &info, res);
	if (ret != 0)
		brski_fail(err, errlen, "the certificate set does not parse");
	else if (gnutls_x509_crt_init(&signer) < 0)
		ret = brski_fail(err, errlen, "out of memory");
	else if (trust->signer_der != NULL)
		ret = verify_pinned_signer(p7, &info, trust, signer, res, err, errlen);
	else
		ret = verify_signer_chain(trust, signer, res, err, errlen);
	if (ret == 0)
		ret = verify_signature(p7, signer, trust->vflags, err, errlen);
	if (signer != NULL)
		gnutls_x509_crt_deinit(signer);
	gnutls_pkcs7_signature_info_deinit(&info);
	return ret;
}

int brski_cms_verify(const uint8_t *der, size_t len,
		     const struct brski_cms_trust *trust,
		     struct brski_cms_result *res, char *err, size_t errlen)
{
	gnutls_pkcs7_t p7;
	gnutls_datum_t in = { (unsigned char *)der, (unsigned)len };
	int ret;
	memset(res, 0, sizeof(*res));
	if ((trust->signer_der == NULL) == (trust->anchors == NULL))
		return brski_fail(err, errlen,
				  "give either the signer or the trust anchors");
	if (len == 0 || len > UINT32_MAX)
		return brski_fail(err, errlen, "empty or oversized CMS");
	if (gnutls_pkcs7_init(&p7) < 0)
		return brski_fail(err, errlen, "out of memory");
	ret = gnutls_pkcs7_import(p7, &in, GNUTLS_X509_FMT_DER);
	if (ret < 0)
		ret = brski_fail(err, errlen, "not a CMS SignedData: %s",
				 gnutls_strerror(ret));
	else
		ret = verify_parsed(p7, trust, res, err, errlen);
	gnutls_pkcs7_deinit(p7);
	if (ret != 0)
		brski_cms_result_free(res);
	return ret;
}
