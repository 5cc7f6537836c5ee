/*  anchord - tests/fuzz/fuzz_pake_cpace_yb.c: Yb and ADb as the initiator (A)
 *  takes them.
 *
 *  Input: up to 32 bytes XORed onto the fixture's Yb, then ADb as sent (the
 *  honest input is 32 zero bytes and "fuzz server"). A aborts exactly when
 *  Yb does not decode or is A's own message; otherwise the tags of both
 *  sides verify exactly when nothing was changed.
 */
#include "fuzz_pake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pake_cpace_state me = fx.a_started, peer = fx.b_finished;
	struct pake_cpace_message msg;
	struct pake_cpace_keys keys;
	struct pake_str ad;
	size_t n = size < sizeof(msg.bytes) ? size : sizeof(msg.bytes);
	bool honest;
	int rc;

	parsed(pake_cpace_message_from_bytes(&msg, data, n), n,
	       sizeof(msg.bytes));
	honest = tamper(msg.bytes, fx.yb.bytes, data, n, sizeof(msg.bytes));
	ad = PAKE_STR(data + n, size - n);
	honest = honest && ad.len == fx.adb.len &&
		 memcmp(ad.ptr, fx.adb.ptr, ad.len) == 0;
	rc = pake_cpace_finish(&me, fx.cpace.sid, fx.ada, &msg, ad, &keys);
	if (!decodes(msg.bytes) ||
	    memcmp(msg.bytes, fx.ya.bytes, sizeof(msg.bytes)) == 0) {
		REQUIRE(rc == PAKE_ERR_MALFORMED);
		return 0;
	}
	REQUIRE(rc == PAKE_OK);
	REQUIRE(pake_cpace_verify(&me, &fx.b_keys.tag) ==
		(honest ? PAKE_OK : PAKE_ERR_AUTH));
	REQUIRE(pake_cpace_verify(&peer, &keys.tag) ==
		(honest ? PAKE_OK : PAKE_ERR_AUTH));
	if (honest)
		REQUIRE(memcmp(keys.isk, fx.b_keys.isk, sizeof(keys.isk)) == 0);
	return 0;
}
