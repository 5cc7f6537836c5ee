/*  anchord - tests/fuzz/fuzz_pake_opaque_request.c: a registration request
 *  as the server takes it.
 *
 *  The server refuses a request exactly when its element does not decode.
 *  Registration carries no MAC, so a tampered request that decodes is
 *  answered; the record the client then builds must not log in.
 */
#include "fuzz_pake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pake_opaque_client_registration client = fx.reg_client;
	struct pake_opaque_registration_request req;
	struct pake_opaque_registration_response resp;
	struct pake_opaque_registration_record record;
	uint8_t export_key[64];
	bool honest;
	int rc;

	parsed(pake_opaque_registration_request_from_bytes(&req, data, size),
	       size, sizeof(req.bytes));
	honest = tamper(req.bytes, fx.request.bytes, data, size,
			sizeof(req.bytes));
	rc = pake_opaque_server_register(&fx.keys, fx.user, &req, &resp);
	if (!decodes(req.bytes)) {
		REQUIRE(rc == PAKE_ERR_MALFORMED);
		return 0;
	}
	REQUIRE(rc == PAKE_OK);
	if (honest) {
		REQUIRE(memcmp(resp.bytes, fx.response.bytes,
			       sizeof(resp.bytes)) == 0);
		return 0;
	}
	REQUIRE(pake_opaque_client_register_finish_det(&client, &fx.params,
		&resp, fx.envelope_nonce, &record, export_key) == PAKE_OK);
	login_must_fail(&record);
	return 0;
}
