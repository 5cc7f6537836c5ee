/*  anchord - brski/cert.c: the facts of an 802.1AR IDevID a voucher names.
 *
 *  serial-number is the subject's serialNumber attribute; idevid-issuer is
 *  the AuthorityKeyIdentifier's keyIdentifier (RFC 8366 §5.3); the
 *  registrar finds the MASA at the id-pe-masa-url extension, an IA5String
 *  (RFC 8995 §2.3.2), which libtasn1 decodes.
 */
#include "brski/internal.h"

#include <stdlib.h>
#include <string.h>

int brski_cert_serial_number(gnutls_x509_crt_t crt, char *out, size_t outlen)
{
	size_t size = outlen;
	if (outlen == 0 ||
	    gnutls_x509_crt_get_dn_by_oid(crt, BRSKI_SERIAL_NUMBER_OID, 0, 0,
					  out, &size) < 0 ||
	    size == 0 || size >= outlen || memchr(out, 0, size) != NULL)
		return -1;
	out[size] = 0;
	return 0;
}

int brski_cert_masa_url(gnutls_x509_crt_t crt, char *out, size_t outlen)
{
	gnutls_datum_t ext = { NULL, 0 };
	const unsigned char *str;
	unsigned int len = 0;
	int ret = -1;
	if (outlen == 0)
		return -1;
	for (unsigned i = 0;; i++) {
		char oid[64];
		size_t oidlen = sizeof(oid);
		if (gnutls_x509_crt_get_extension_info(crt, i, oid, &oidlen, NULL) < 0)
			return -1;
		if (strcmp(oid, BRSKI_MASA_URL_OID) != 0)
			continue;
		if (gnutls_x509_crt_get_extension_data2(crt, i, &ext) < 0)
			return -1;
		break;
	}
	if (asn1_decode_simple_der(ASN1_ETYPE_IA5_STRING, ext.data, ext.size,
				   &str, &len) == ASN1_SUCCESS &&
	    len > 0 && len < outlen && memchr(str, 0, len) == NULL) {
		memcpy(out, str, len);
		out[len] = 0;
		ret = 0;
	}
	gnutls_free(ext.data);
	return ret;
}

int brski_cert_authority_key_id(gnutls_x509_crt_t crt, struct brski_blob *out)
{
	uint8_t id[128];
	size_t size = sizeof(id);
	out->data = NULL;
	out->len = 0;
	if (gnutls_x509_crt_get_authority_key_id(crt, id, &size, NULL) < 0 ||
	    size == 0)
		return -1;
	return brski_blob_set(out, id, size);
}
