/*  anchord - tests/fuzz/fuzz_pake_opaque_ke1.c: KE1 as the server takes it.
 *
 *  The server refuses a tampered KE1 as malformed exactly when its blinded
 *  element or its keyshare does not decode, and answers it otherwise; the
 *  fixture client then fails to authenticate any answer but the honest one.
 */
#include "fuzz_pake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pake_opaque_client_login client = fx.client;
	struct pake_opaque_server_login server;
	struct pake_opaque_ke1 ke1;
	struct pake_opaque_ke2 ke2;
	struct pake_opaque_ke3 ke3;
	uint8_t key[64], export_key[64];
	bool honest;
	int rc;

	parsed(pake_opaque_ke1_from_bytes(&ke1, data, size), size,
	       sizeof(ke1.bytes));
	honest = tamper(ke1.bytes, fx.ke1.bytes, data, size, sizeof(ke1.bytes));
	rc = pake_opaque_server_login_start_det(&server, &fx.keys, &fx.params,
						fx.user, &fx.record, &ke1,
						&fx.server_random, &ke2);
	if (!decodes(ke1.bytes) || !decodes(ke1.bytes + 64)) {
		REQUIRE(rc == PAKE_ERR_MALFORMED);
		return 0;
	}
	REQUIRE(rc == PAKE_OK);
	rc = pake_opaque_client_login_finish(&client, &fx.params, &ke2, &ke3,
					     key, export_key);
	REQUIRE(rc == (honest ? PAKE_OK : PAKE_ERR_AUTH));
	if (honest)
		REQUIRE(pake_opaque_server_login_finish(&server, &ke3, key) ==
			PAKE_OK);
	return 0;
}
