/*  anchord - policy/mud_verify.c: MUD file signatures (RFC 8520 section 13).
 *
 *  A MUD file is signed with a detached CMS SignedData in DER, made the way
 *  manufacturers make it:
 *      openssl cms -sign -binary -outform DER -signer cert.pem \
 *          -inkey key.pem -certfile intermediate.pem -in f.json -out f.p7s
 *  The administrator names the signers anchord trusts (mud.signers: root,
 *  intermediate or signer certificates). gnutls_pkcs7_verify has the last
 *  word, but it reports every failure alike, so the signer is first looked
 *  at step by step, to tell the operator which one it was.
 */
#include "policy/policy.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PEM (1024 * 1024)
/* Larger than policy_mud_parse takes, and than GnuTLS's unsigned sizes. */
#define MAX_FILE (16 * 1024 * 1024)
/* A signature carries the signer and its intermediates; more than this is
 * not a MUD signature, and each costs a parse. */
#define MAX_SIGNATURE_CERTS 16
/* Signers looked at before giving up (one is the norm). */
#define MAX_SIGNER_INFOS 4

struct policy_mud_signers {
	gnutls_x509_trust_list_t trust;
	/* The same certificates, owned by trust: a signer may be trusted
	 * directly, and then it need not be in the signature. */
	gnutls_x509_crt_t *certs;
	size_t n;
};

/* ------------------------------------------------------------------ signers */

static int add_certs(struct policy_mud_signers *s, gnutls_x509_crt_t *list,
		     unsigned n)
{
	gnutls_x509_crt_t *more = realloc(s->certs, (s->n + n) * sizeof(*more));
	if (!more)
		return -1;
	s->certs = more;
	/* No duplicate flags: with them GnuTLS may free a certificate we
	 * still point at. Once added, the list owns every certificate. */
	if (gnutls_x509_trust_list_add_cas(s->trust, list, n, 0) != (int)n)
		return -1;
	memcpy(s->certs + s->n, list, n * sizeof(*list));
	s->n += n;
	return 0;
}

static int load_file(struct policy_mud_signers *s, const char *path,
		     char *err, size_t errlen)
{
	uint8_t *pem;
	size_t len;
	int ret = util_read_file(path, MAX_PEM, &pem, &len);
	if (ret != 0)
		return util_fail(err, errlen, "%s: %s", path, strerror(-ret));
	gnutls_datum_t d = { pem, (unsigned)len };
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0;
	/* import2 allocates the list, so there is no size to exceed; the
	 * file may hold unrelated roots, so order is not required either. */
	int gr = gnutls_x509_crt_list_import2(&list, &n, &d,
					      GNUTLS_X509_FMT_PEM, 0);
	free(pem);
	if (gr < 0 || n == 0)
		return util_fail(err, errlen, "%s: no PEM certificate (%s)", path,
			    gr < 0 ? gnutls_strerror(gr) : "empty");
	if (add_certs(s, list, n) != 0) {
		for (unsigned i = 0; i < n; i++)
			gnutls_x509_crt_deinit(list[i]);
		gnutls_free(list);
		return util_fail(err, errlen, "%s: out of memory", path);
	}
	gnutls_free(list);
	return 0;
}

struct policy_mud_signers *policy_mud_signers_load(char *const *pem_files,
						   size_t n, char *err,
						   size_t errlen)
{
	struct policy_mud_signers *s = calloc(1, sizeof(*s));
	if (!s || gnutls_x509_trust_list_init(&s->trust, 0) < 0) {
		free(s);
		util_fail(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (load_file(s, pem_files[i], err, errlen) != 0) {
			policy_mud_signers_free(s);
			return NULL;
		}
	}
	return s;
}

void policy_mud_signers_free(struct policy_mud_signers *s)
{
	if (!s)
		return;
	gnutls_x509_trust_list_deinit(s->trust, 1);
	free(s->certs);
	free(s);
}

size_t policy_mud_signers_count(const struct policy_mud_signers *s)
{
	return s ? s->n : 0;
}

/* ------------------------------------------------------------------ names */

/* A certificate's subject in text, "CN=...,O=..." (RFC 4514). */
static void subject_text(gnutls_x509_crt_t crt, char *out, size_t cap)
{
	gnutls_datum_t dn = { NULL, 0 };
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0) {
		snprintf(out, cap, "(unreadable subject)");
		return;
	}
	snprintf(out, cap, "%s", (const char *)dn.data);
	gnutls_free(dn.data);
}

/* A DER Name in text. */
static void name_text(const uint8_t *der, size_t len, char *out, size_t cap)
{
	gnutls_datum_t in = { (unsigned char *)der, (unsigned)len };
	gnutls_datum_t dn = { NULL, 0 };
	if (gnutls_x509_rdn_get2(&in, &dn, 0) < 0) {
		snprintf(out, cap, "(not a valid Name)");
		return;
	}
	snprintf(out, cap, "%s", (const char *)dn.data);
	gnutls_free(dn.data);
}

static void hex_text(const gnutls_datum_t *d, char *out, size_t cap)
{
	size_t at = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < d->size && at + 3 < cap; i++)
		at += (size_t)snprintf(out + at, cap - at, "%02x", d->data[i]);
}

/* ------------------------------------------------------------------ finding the signer */

static bool datum_equal(const gnutls_datum_t *a, const void *b, size_t len)
{
	return a->size == len && memcmp(a->data, b, len) == 0;
}

/* Whether crt is the one a SignerInfo names: by issuer and serial, or by
 * subject key identifier (both are allowed in CMS). */
static bool is_signer(gnutls_x509_crt_t crt,
		      const gnutls_pkcs7_signature_info_st *info)
{
	uint8_t buf[128];
	size_t len = sizeof(buf);
	if (info->signer_serial.size > 0) {
		gnutls_datum_t issuer;
		if (gnutls_x509_crt_get_serial(crt, buf, &len) < 0 ||
		    !datum_equal(&info->signer_serial, buf, len) ||
		    gnutls_x509_crt_get_raw_issuer_dn(crt, &issuer) < 0)
			return false;
		bool same = datum_equal(&info->issuer_dn, issuer.data,
					issuer.size);
		gnutls_free(issuer.data);
		return same;
	}
	return info->issuer_keyid.size > 0 &&
	       gnutls_x509_crt_get_subject_key_id(crt, buf, &len, NULL) >= 0 &&
	       datum_equal(&info->issuer_keyid, buf, len);
}

/* The certificates the signature carries, in order; *n of them. */
static int signature_certs(gnutls_pkcs7_t p7, gnutls_x509_crt_t *certs,
			   size_t *n, char *err, size_t errlen)
{
	int count = gnutls_pkcs7_get_crt_count(p7);
	*n = 0;
	if (count > MAX_SIGNATURE_CERTS)
		return util_fail(err, errlen, "the signature carries %d "
			    "certificates; a MUD signature needs a few", count);
	for (int i = 0; i < count; i++) {
		gnutls_datum_t der = { NULL, 0 };
		int gr = gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &der);
		if (gr >= 0)
			gr = gnutls_x509_crt_init(&certs[*n]);
		if (gr >= 0) {
			gr = gnutls_x509_crt_import(certs[*n], &der,
						    GNUTLS_X509_FMT_DER);
			if (gr < 0)
				gnutls_x509_crt_deinit(certs[*n]);
		}
		gnutls_free(der.data);
		if (gr < 0)
			return util_fail(err, errlen, "certificate %d of the "
				    "signature is unreadable: %s", i + 1,
				    gnutls_strerror(gr));
		(*n)++;
	}
	return 0;
}

/* The index in certs of the signer, or -1; a signer that the signature
 * does not carry may be one of the trusted certificates. */
static int find_signer(const struct policy_mud_signers *s,
		       gnutls_x509_crt_t *certs, size_t n,
		       const gnutls_pkcs7_signature_info_st *info,
		       gnutls_x509_crt_t *signer)
{
	for (size_t i = 0; i < n; i++) {
		if (is_signer(certs[i], info)) {
			*signer = certs[i];
			return (int)i;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		if (is_signer(s->certs[i], info)) {
			*signer = s->certs[i];
			return -1;
		}
	}
	*signer = NULL;
	return -1;
}

static int signer_not_found(const gnutls_pkcs7_signature_info_st *info,
			    char *err, size_t errlen)
{
	char issuer[256], serial[80];
	if (info->issuer_dn.size == 0)
		return util_fail(err, errlen, "the signer's certificate is neither "
			    "in the signature nor among the trusted signers");
	name_text(info->issuer_dn.data, info->issuer_dn.size, issuer,
		  sizeof(issuer));
	hex_text(&info->signer_serial, serial, sizeof(serial));
	return util_fail(err, errlen, "the signer's certificate (issuer %s, serial "
		    "%s) is neither in the signature nor among the trusted "
		    "signers", issuer, serial);
}

/* ------------------------------------------------------------------ checks */

/* RFC 8520 section 13.2: the signer must be allowed to sign. A certificate
 * without keyUsage allows every use. */
static int check_key_usage(gnutls_x509_crt_t signer, const char *who,
			   char *err, size_t errlen)
{
	unsigned usage = 0, critical = 0;
	int gr = gnutls_x509_crt_get_key_usage(signer, &usage, &critical);
	if (gr == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return 0;
	if (gr < 0)
		return util_fail(err, errlen, "signer %s: unreadable keyUsage: %s",
			    who, gnutls_strerror(gr));
	if (!(usage & GNUTLS_KEY_DIGITAL_SIGNATURE))
		return util_fail(err, errlen, "signer %s may not sign: its keyUsage "
			    "lacks digitalSignature", who);
	return 0;
}

/* GnuTLS's text for a verification status, without its opening "The
 * certificate is NOT trusted." (the message says so already) and the
 * trailing space. */
static const char *status_reason(unsigned char *text)
{
	static const char opening[] = "The certificate is NOT trusted. ";
	char *reason = (char *)text;
	size_t len = strlen(reason);
	while (len > 0 && reason[len - 1] == ' ')
		reason[--len] = '\0';
	if (strncmp(reason, opening, sizeof(opening) - 1) == 0 &&
	    len > sizeof(opening) - 1)
		reason += sizeof(opening) - 1;
	return reason;
}

/* Whether the signer, with the certificates the signature carries as
 * intermediates, chains to a trusted signer; the reason when not. */
static int check_trust(const struct policy_mud_signers *s,
		       gnutls_x509_crt_t signer, int signer_at,
		       gnutls_x509_crt_t *certs, size_t n, const char *who,
		       char *err, size_t errlen)
{
	gnutls_x509_crt_t chain[MAX_SIGNATURE_CERTS + 1];
	size_t len = 0;
	chain[len++] = signer;
	for (size_t i = 0; i < n; i++)
		if ((int)i != signer_at)
			chain[len++] = certs[i];
	unsigned status = 0;
	int gr = gnutls_x509_trust_list_verify_crt2(s->trust, chain,
						    (unsigned)len, NULL, 0, 0,
						    &status, NULL);
	if (gr < 0)
		return util_fail(err, errlen, "signer %s not trusted: %s", who,
			    gnutls_strerror(gr));
	if (status == 0)
		return 0;
	gnutls_datum_t why = { NULL, 0 };
	gr = gnutls_certificate_verification_status_print(status,
							   GNUTLS_CRT_X509,
							   &why, 0);
	util_fail(err, errlen, "signer %s not trusted: %s", who,
	     gr < 0 ? "verification failed" : status_reason(why.data));
	gnutls_free(why.data);
	return -1;
}

/* The device's certificate may name its MUD signer (id-pe-mudsigner,
 * RFC 8520 section 11): then no other signer will do. Names are compared
 * as DER, which is how a manufacturer copies them. */
static int check_required(gnutls_x509_crt_t signer, const char *who,
			  const uint8_t *required, size_t required_len,
			  char *err, size_t errlen)
{
	if (!required)
		return 0;
	gnutls_datum_t subject;
	if (gnutls_x509_crt_get_raw_dn(signer, &subject) < 0)
		return util_fail(err, errlen, "signer %s: unreadable subject", who);
	bool same = datum_equal(&subject, required, required_len);
	gnutls_free(subject.data);
	if (same)
		return 0;
	char wanted[256];
	name_text(required, required_len, wanted, sizeof(wanted));
	return util_fail(err, errlen, "signer is %s, the device requires %s", who,
		    wanted);
}

/* ------------------------------------------------------------------ verifying */

struct verify_job {
	const struct policy_mud_signers *signers;
	gnutls_pkcs7_t p7;
	gnutls_x509_crt_t certs[MAX_SIGNATURE_CERTS];
	size_t n_certs;
	gnutls_datum_t file;
	const uint8_t *required;
	size_t required_len;
	char *signer_out;
	size_t signer_cap;
};

static int verify_signer_info(struct verify_job *job, unsigned idx,
			      const gnutls_pkcs7_signature_info_st *info,
			      char *err, size_t errlen)
{
	gnutls_x509_crt_t signer;
	int at = find_signer(job->signers, job->certs, job->n_certs, info,
			     &signer);
	if (!signer)
		return signer_not_found(info, err, errlen);
	char who[256];
	subject_text(signer, who, sizeof(who));
	if (job->signer_out && job->signer_cap)
		snprintf(job->signer_out, job->signer_cap, "%s", who);
	if (check_key_usage(signer, who, err, errlen) != 0 ||
	    check_trust(job->signers, signer, at, job->certs, job->n_certs,
			who, err, errlen) != 0)
		return -1;
	/* The signer is known good, so a failure now is the signature's.
	 * gnutls_pkcs7_verify finds the signer only in the signature (or as
	 * a trusted issuer's own certificate), so a signer that is trusted
	 * itself and left out of the signature (openssl cms -nocerts) is
	 * checked directly. GnuTLS returns certificate status bits
	 * (positive) for some failures, so anything but 0 is one. */
	int gr = at >= 0 ? gnutls_pkcs7_verify(job->p7, job->signers->trust,
					       NULL, 0, idx, &job->file, 0)
			 : gnutls_pkcs7_verify_direct(job->p7, signer, idx,
						      &job->file, 0);
	if (gr != 0)
		return util_fail(err, errlen, "signature does not verify: the file "
			    "is not the one %s signed (%s)", who,
			    gr < 0 ? gnutls_strerror(gr)
				   : "certificate status failure");
	return check_required(signer, who, job->required, job->required_len,
			      err, errlen);
}

/* Try each SignerInfo; one that passes is enough. The reason given is
 * the first one's, which is the signer the file is normally about. */
static int verify_signers(struct verify_job *job, char *err, size_t errlen)
{
	int ret = -1;
	unsigned idx;
	for (idx = 0; idx < MAX_SIGNER_INFOS && ret != 0; idx++) {
		gnutls_pkcs7_signature_info_st info;
		char why[512];
		int gr = gnutls_pkcs7_get_signature_info(job->p7, idx, &info);
		if (gr == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (gr < 0) {
			ret = util_fail(why, sizeof(why), "signer %u is unreadable: "
				   "%s", idx + 1, gnutls_strerror(gr));
		} else {
			ret = verify_signer_info(job, idx, &info, why,
						 sizeof(why));
			gnutls_pkcs7_signature_info_deinit(&info);
		}
		if (ret != 0 && idx == 0)
			snprintf(err, errlen, "%s", why);
	}
	if (idx == 0)
		return util_fail(err, errlen, "the signature has no signer");
	return ret;
}

static int import_signature(gnutls_pkcs7_t p7, const uint8_t *p7s,
			    size_t len, char *err, size_t errlen)
{
	gnutls_datum_t der = { (unsigned char *)p7s, (unsigned)len };
	if (len > MAX_PEM)
		return util_fail(err, errlen, "not a CMS SignedData: %zu bytes is "
			    "far too large", len);
	int gr = gnutls_pkcs7_import(p7, &der, GNUTLS_X509_FMT_DER);
	if (gr >= 0)
		return 0;
	if (len > 10 && memcmp(p7s, "-----BEGIN", 10) == 0)
		return util_fail(err, errlen, "not a CMS SignedData in DER: the "
			    "signature is PEM (RFC 8520 signatures are DER, "
			    "openssl cms -outform DER)");
	return util_fail(err, errlen, "not a CMS SignedData: %s",
		    gnutls_strerror(gr));
}

int policy_mud_verify(const struct policy_mud_signers *s, const uint8_t *file,
		      size_t file_len, const uint8_t *p7s, size_t p7s_len,
		      const uint8_t *required_signer, size_t required_len,
		      char *signer_out, size_t signer_cap, char *err,
		      size_t errlen)
{
	if (signer_out && signer_cap)
		signer_out[0] = '\0';
	if (!s || s->n == 0)
		return util_fail(err, errlen, "no MUD signers are configured "
			    "(mud.signers), so no signature can be trusted");
	if (file_len > MAX_FILE)
		return util_fail(err, errlen, "the file has %zu bytes, too many for "
			    "a MUD file", file_len);
	struct verify_job job = {
		.signers = s,
		.file = { (unsigned char *)file, (unsigned)file_len },
		.required = required_signer,
		.required_len = required_len,
		.signer_out = signer_out,
		.signer_cap = signer_cap,
	};
	if (gnutls_pkcs7_init(&job.p7) < 0)
		return util_fail(err, errlen, "out of memory");
	int ret = import_signature(job.p7, p7s, p7s_len, err, errlen);
	if (ret == 0)
		ret = signature_certs(job.p7, job.certs, &job.n_certs, err,
				      errlen);
	if (ret == 0)
		ret = verify_signers(&job, err, errlen);
	for (size_t i = 0; i < job.n_certs; i++)
		gnutls_x509_crt_deinit(job.certs[i]);
	gnutls_pkcs7_deinit(job.p7);
	return ret;
}
