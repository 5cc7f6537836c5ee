/*  anchord - tests/fuzz/fuzz_est_csr.c: EST enrollment body decoding.
 *
 *  The exact path a simpleenroll, simplereenroll or serverkeygen body
 *  takes: base64 with whitespace anywhere (RFC 8951), then the PKCS#10
 *  import and every check (signature, algorithm, key, challengePassword,
 *  subjectAltNames). A success must describe a request; a failure must
 *  give a reason.
 */
#include "est/est.h"
#include "pki/pki.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	log_threshold = LOG_LEVEL_ERROR;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pki_csr csr = { 0 };
	char why[256] = "";
	if (est_decode_csr(data, size, &csr, why, sizeof(why)) != 0) {
		if (why[0] == '\0')
			abort();	/* every refusal says why */
		return 0;
	}
	if (csr.n_dns_sans > PKI_MAX_SANS ||
	    strnlen(csr.challenge, sizeof(csr.challenge)) ==
		    sizeof(csr.challenge))
		abort();
	pki_csr_free(&csr);
	return 0;
}
