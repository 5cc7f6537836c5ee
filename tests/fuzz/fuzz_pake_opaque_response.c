/*  anchord - tests/fuzz/fuzz_pake_opaque_response.c: a registration
 *  response as the client takes it.
 *
 *  The client refuses a response exactly when its evaluated element or the
 *  server's public key does not decode; a record built from any other
 *  tampered response must not log in.
 */
#include "fuzz_pake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pake_opaque_client_registration client = fx.reg_client;
	struct pake_opaque_registration_response resp;
	struct pake_opaque_registration_record record;
	uint8_t export_key[64];
	bool honest;
	int rc;

	parsed(pake_opaque_registration_response_from_bytes(&resp, data, size),
	       size, sizeof(resp.bytes));
	honest = tamper(resp.bytes, fx.response.bytes, data, size,
			sizeof(resp.bytes));
	rc = pake_opaque_client_register_finish_det(&client, &fx.params, &resp,
						    fx.envelope_nonce, &record,
						    export_key);
	if (!decodes(resp.bytes) || !decodes(resp.bytes + 32)) {
		REQUIRE(rc == PAKE_ERR_MALFORMED);
		return 0;
	}
	REQUIRE(rc == PAKE_OK);
	if (honest)
		REQUIRE(memcmp(record.bytes, fx.record.bytes,
			       sizeof(record.bytes)) == 0);
	else
		login_must_fail(&record);
	return 0;
}
