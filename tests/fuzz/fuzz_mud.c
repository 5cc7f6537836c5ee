/*  anchord - tests/fuzz/fuzz_mud.c: MUD files and their signatures.
 *
 *  Each input is read twice: as a MUD file (policy_mud_parse), and as a
 *  signature over the fixtures' signed example (policy_mud_verify with the
 *  fixtures' root as the trusted signer), so that mutations of the seed
 *  .p7s files reach the CMS and certificate checks. The fixtures are read
 *  from the repository root, where make runs the fuzzers; without them
 *  only the parser is fuzzed.
 *
 *  A success must describe a MUD file; a failure must give a reason.
 */
#include "policy/policy.h"

#include <stdlib.h>
#include <string.h>

#define HOST_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-."

static struct policy_mud_signers *signers;
static uint8_t *signed_file;
static size_t signed_len;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *ca[] = { "tests/mud/fixtures/ca.pem" };
	char err[256];
	log_threshold = LOG_LEVEL_ERROR;
	if (util_read_file("tests/mud/fixtures/signed.json", 1 << 20,
			   &signed_file, &signed_len) == 0)
		signers = policy_mud_signers_load(ca, 1, err, sizeof(err));
	return 0;
}

static void check_parsed(const struct policy_mud *m)
{
	if (!m->mud_url || !m->last_update || m->cache_validity_hours < 1 ||
	    m->cache_validity_hours > 168)
		abort();
	for (size_t i = 0; i < m->n_names; i++) {
		const char *name = m->names[i];
		size_t len = strlen(name);
		if (len == 0 || len > 253 || name[len - 1] == '.' ||
		    strspn(name, HOST_CHARS) != len)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->names[j], name) == 0)
				abort();	/* names come once */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "";
	struct policy_mud *m = policy_mud_parse(data, size, NULL, err,
						sizeof(err));
	if (m) {
		check_parsed(m);
		policy_mud_free(m);
	} else if (err[0] == '\0') {
		abort();	/* every refusal says why */
	}
	if (signers) {
		char signer[256];
		err[0] = '\0';
		if (policy_mud_verify(signers, signed_file, signed_len, data,
				      size, NULL, 0, signer, sizeof(signer),
				      err, sizeof(err)) != 0 &&
		    err[0] == '\0')
			abort();
	}
	return 0;
}
