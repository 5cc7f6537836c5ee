/*  anchord - tests/fuzz/fuzz_pake_opaque_record.c: an uploaded registration
 *  record as the server checks and then uses it.
 *
 *  record_check refuses it exactly when its client key does not decode,
 *  and login then calls it the caller's error; any other tampering makes
 *  the fixture client's login fail authentication.
 */
#include "fuzz_pake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pake_opaque_client_login client = fx.client;
	struct pake_opaque_server_login server;
	struct pake_opaque_registration_record record;
	struct pake_opaque_ke2 ke2;
	struct pake_opaque_ke3 ke3;
	uint8_t key[64], export_key[64];
	bool honest, usable;
	int rc;

	parsed(pake_opaque_registration_record_from_bytes(&record, data, size),
	       size, sizeof(record.bytes));
	honest = tamper(record.bytes, fx.record.bytes, data, size,
			sizeof(record.bytes));
	usable = decodes(record.bytes);
	REQUIRE(pake_opaque_record_check(&record) ==
		(usable ? PAKE_OK : PAKE_ERR_MALFORMED));
	rc = pake_opaque_server_login_start_det(&server, &fx.keys, &fx.params,
						fx.user, &record, &fx.ke1,
						&fx.server_random, &ke2);
	if (!usable) {
		REQUIRE(rc == PAKE_ERR_INVALID);
		return 0;
	}
	REQUIRE(rc == PAKE_OK);
	REQUIRE(pake_opaque_client_login_finish(&client, &fx.params, &ke2, &ke3,
						key, export_key) ==
		(honest ? PAKE_OK : PAKE_ERR_AUTH));
	return 0;
}
