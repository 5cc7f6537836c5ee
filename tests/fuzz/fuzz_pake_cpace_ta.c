/*  anchord - tests/fuzz/fuzz_pake_cpace_ta.c:
 *  Ta as the responder (B) verifies it.
 *
 *  Only the honest tag verifies, and the state is spent either way.
 */
#include "fuzz_pake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pake_cpace_state st = fx.b_finished;
	struct pake_cpace_tag tag;
	bool honest;

	parsed(pake_cpace_tag_from_bytes(&tag, data, size), size,
	       sizeof(tag.bytes));
	honest = tamper(tag.bytes, fx.a_keys.tag.bytes, data, size,
			sizeof(tag.bytes));
	REQUIRE(pake_cpace_verify(&st, &tag) ==
		(honest ? PAKE_OK : PAKE_ERR_AUTH));
	REQUIRE(pake_cpace_verify(&st, &fx.a_keys.tag) == PAKE_ERR_INVALID);
	return 0;
}
