/*  anchord - tests/fuzz/fuzz_pake_opaque_ke2.c: KE2 as the client takes it.
 *
 *  A tampered KE2 is malformed exactly when its evaluated element or the
 *  server keyshare does not decode, and fails authentication otherwise.
 */
#include "fuzz_pake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pake_opaque_client_login client = fx.client;
	struct pake_opaque_ke2 ke2;
	struct pake_opaque_ke3 ke3;
	uint8_t key[64], export_key[64];
	bool honest;
	int want;

	parsed(pake_opaque_ke2_from_bytes(&ke2, data, size), size,
	       sizeof(ke2.bytes));
	honest = tamper(ke2.bytes, fx.ke2.bytes, data, size, sizeof(ke2.bytes));
	if (!decodes(ke2.bytes) || !decodes(ke2.bytes + 224))
		want = PAKE_ERR_MALFORMED;
	else
		want = honest ? PAKE_OK : PAKE_ERR_AUTH;
	REQUIRE(pake_opaque_client_login_finish(&client, &fx.params, &ke2, &ke3,
						key, export_key) == want);
	if (honest)
		REQUIRE(!memcmp(ke3.bytes, fx.ke3.bytes, sizeof(ke3.bytes)) &&
			!memcmp(key, fx.session_key, sizeof(key)));
	return 0;
}
