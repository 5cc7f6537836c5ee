/*  anchord - tests/fuzz/fuzz_pake_opaque_ke3.c: KE3 as the server takes it.
 *
 *  Only the honest KE3 releases the session key, and the state is spent
 *  either way.
 */
#include "fuzz_pake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pake_opaque_server_login server = fx.server;
	struct pake_opaque_ke3 ke3;
	uint8_t key[64];
	bool honest;

	parsed(pake_opaque_ke3_from_bytes(&ke3, data, size), size,
	       sizeof(ke3.bytes));
	honest = tamper(ke3.bytes, fx.ke3.bytes, data, size, sizeof(ke3.bytes));
	REQUIRE(pake_opaque_server_login_finish(&server, &ke3, key) ==
		(honest ? PAKE_OK : PAKE_ERR_AUTH));
	if (honest)
		REQUIRE(memcmp(key, fx.session_key, sizeof(key)) == 0);
	REQUIRE(pake_opaque_server_login_finish(&server, &fx.ke3, key) ==
		PAKE_ERR_INVALID);
	return 0;
}
