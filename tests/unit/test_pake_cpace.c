/*  anchord - tests/unit/test_pake_cpace.c: CPace (draft-irtf-cfrg-cpace-21,
 *  ristretto255/SHA-512) against appendix B.3 and the string-utility
 *  vectors of appendix A, then the key confirmation and the ways a session
 *  must fail.
 */
#include "pake_vectors.h"

#define VECTORS "cpace-ristretto255-sha512.json"

static struct pake_cpace_inputs vector_inputs(json_t *v)
{
	struct pake_cpace_inputs in = {
		.prs = vec_bytes(v, "generator.inputs.PRS"),
		.ci = vec_bytes(v, "generator.inputs.CI"),
		.sid = vec_bytes(v, "generator.inputs.sid"),
	};

	return in;
}

/* -------------------------------------------------------- appendix B.3 */

static void test_generator(void **state)
{
	json_t *v = vec_load(VECTORS);
	struct pake_cpace_inputs in = vector_inputs(v);
	uint8_t buf[256], hash[64], g[32];
	size_t len;

	(void)state;
	len = pake_cpace_generator_string(buf, sizeof(buf), &in);
	assert_int_equal(len, json_integer_value(vec_get(v,
			 "generator.generator_string_len")));
	vec_check(v, "generator.generator_string", buf, len);
	/* zpad: 128 - 1 - len(prepend_len(PRS)) - len(prepend_len(DSI)) */
	assert_int_equal(json_integer_value(vec_get(v,
			 "generator.inputs.zpad_len")),
			 128 - 1 - (1 + in.prs.len) - (1 + 17));
	crypto_hash_sha512(hash, buf, len);
	vec_check(v, "generator.sha512_of_generator_string", hash, 64);
	pake_cpace_generator(g, &in);
	vec_check(v, "generator.g_encoded", g, 32);
	json_decref(v);
}

/* Both sides of the vector's session, in the given setting. */
static void vector_session(json_t *v, bool symmetric,
			   struct pake_cpace_keys *ka,
			   struct pake_cpace_keys *kb)
{
	struct pake_cpace_inputs in = vector_inputs(v);
	struct pake_cpace_state a, b;
	struct pake_cpace_message ya, yb;
	uint8_t sa[32], sb[32];
	struct pake_str ada = vec_bytes(v, "message_A.ADa");
	struct pake_str adb = vec_bytes(v, "message_B.ADb");

	vec_fixed(v, "message_A.ya_le", sa, 32);
	vec_fixed(v, "message_B.yb_le", sb, 32);
	assert_int_equal(pake_cpace_start_det(&a, symmetric ?
			 PAKE_CPACE_SYMMETRIC : PAKE_CPACE_INITIATOR, &in, sa,
			 &ya), PAKE_OK);
	vec_check(v, "message_A.Ya", ya.bytes, 32);
	assert_int_equal(pake_cpace_start_det(&b, symmetric ?
			 PAKE_CPACE_SYMMETRIC : PAKE_CPACE_RESPONDER, &in, sb,
			 &yb), PAKE_OK);
	vec_check(v, "message_B.Yb", yb.bytes, 32);
	assert_int_equal(pake_cpace_finish(&a, in.sid, ada, &yb, adb, ka),
			 PAKE_OK);
	assert_int_equal(pake_cpace_finish(&b, in.sid, adb, &ya, ada, kb),
			 PAKE_OK);
	assert_int_equal(pake_cpace_verify(&a, &kb->tag), PAKE_OK);
	assert_int_equal(pake_cpace_verify(&b, &ka->tag), PAKE_OK);
}

/* K itself never leaves the library; check the vector's K and the ISK
 * hash input it implies with libsodium directly. */
static void check_k_and_hash_input(json_t *v, const char *setting,
				   struct pake_str transcript)
{
	struct pake_str parts[3];
	uint8_t ya[32], yb[32], big_y[32], k[32], buf[512], isk[64];
	char path[64];
	size_t n;

	vec_fixed(v, "message_A.ya_le", ya, 32);
	vec_fixed(v, "message_B.yb_le", yb, 32);
	vec_fixed(v, "message_B.Yb", big_y, 32);
	assert_int_equal(crypto_scalarmult_ristretto255(k, ya, big_y), 0);
	vec_check(v, "K", k, 32);
	vec_fixed(v, "message_A.Ya", big_y, 32);
	assert_int_equal(crypto_scalarmult_ristretto255(k, yb, big_y), 0);
	vec_check(v, "K", k, 32);
	parts[0] = vec_bytes(v, "suite.ISK_DSI_hex");
	parts[1] = vec_bytes(v, "generator.inputs.sid");
	parts[2] = PAKE_STR(k, 32);
	n = pake_cpace_lv_cat(buf, sizeof(buf), parts, 3);
	memcpy(buf + n, transcript.ptr, transcript.len);
	snprintf(path, sizeof(path), "%s.hash_input", setting);
	vec_check(v, path, buf, n + transcript.len);
	crypto_hash_sha512(isk, buf, n + transcript.len);
	snprintf(path, sizeof(path), "%s.ISK", setting);
	vec_check(v, path, isk, 64);
}

static void test_initiator_responder(void **state)
{
	json_t *v = vec_load(VECTORS);
	struct pake_cpace_keys ka, kb;
	uint8_t t[256];
	size_t n;

	(void)state;
	vector_session(v, false, &ka, &kb);
	vec_check(v, "initiator_responder.ISK", ka.isk, 64);
	vec_check(v, "initiator_responder.ISK", kb.isk, 64);
	vec_check(v, "initiator_responder.sid_output", ka.sid_output, 64);
	vec_check(v, "initiator_responder.sid_output", kb.sid_output, 64);
	n = pake_cpace_transcript_ir(t, sizeof(t),
				     vec_bytes(v, "message_A.Ya"),
				     vec_bytes(v, "message_A.ADa"),
				     vec_bytes(v, "message_B.Yb"),
				     vec_bytes(v, "message_B.ADb"));
	vec_check(v, "initiator_responder.transcript_ir", t, n);
	check_k_and_hash_input(v, "initiator_responder", PAKE_STR(t, n));
	json_decref(v);
}

static void test_symmetric(void **state)
{
	json_t *v = vec_load(VECTORS);
	struct pake_cpace_keys ka, kb;
	uint8_t t[256];
	size_t n;

	(void)state;
	vector_session(v, true, &ka, &kb);
	vec_check(v, "symmetric_parallel.ISK", ka.isk, 64);
	vec_check(v, "symmetric_parallel.ISK", kb.isk, 64);
	vec_check(v, "symmetric_parallel.sid_output", ka.sid_output, 64);
	vec_check(v, "symmetric_parallel.sid_output", kb.sid_output, 64);
	n = pake_cpace_transcript_oc(t, sizeof(t),
				     vec_bytes(v, "message_A.Ya"),
				     vec_bytes(v, "message_A.ADa"),
				     vec_bytes(v, "message_B.Yb"),
				     vec_bytes(v, "message_B.ADb"));
	vec_check(v, "symmetric_parallel.transcript_oc", t, n);
	check_k_and_hash_input(v, "symmetric_parallel", PAKE_STR(t, n));
	json_decref(v);
}

/* Ta = HMAC(mac_key, lv_cat(Ya, ADa)), mac_key = H("CPaceMac" || sid ||
 * ISK) (§10.4): recomputed from outside for the vector's session. */
static void test_confirmation_tags(void **state)
{
	json_t *v = vec_load(VECTORS);
	struct pake_cpace_keys ka, kb;
	struct pake_str sid = vec_bytes(v, "generator.inputs.sid");
	crypto_hash_sha512_state h;
	crypto_auth_hmacsha512_state mac;
	struct pake_str parts[2];
	uint8_t mac_key[64], lv[128], tag[64];
	size_t n;
	int side;

	(void)state;
	vector_session(v, false, &ka, &kb);
	crypto_hash_sha512_init(&h);
	crypto_hash_sha512_update(&h, (const uint8_t *)"CPaceMac", 8);
	crypto_hash_sha512_update(&h, sid.ptr, sid.len);
	crypto_hash_sha512_update(&h, ka.isk, 64);
	crypto_hash_sha512_final(&h, mac_key);
	for (side = 0; side < 2; side++) {
		parts[0] = vec_bytes(v, side ? "message_B.Yb" : "message_A.Ya");
		parts[1] = vec_bytes(v, side ? "message_B.ADb" :
					       "message_A.ADa");
		n = pake_cpace_lv_cat(lv, sizeof(lv), parts, 2);
		crypto_auth_hmacsha512_init(&mac, mac_key, 64);
		crypto_auth_hmacsha512_update(&mac, lv, n);
		crypto_auth_hmacsha512_final(&mac, tag);
		assert_memory_equal(tag, (side ? &kb : &ka)->tag.bytes, 64);
	}
	json_decref(v);
}

/* B.3.10: s * X through the protocol. The library keeps K inside, so
 * compare the ISK it gives with one built from the vector's s * X. */
static void test_scalar_mult_valid(void **state)
{
	json_t *v = vec_load(VECTORS);
	struct pake_cpace_inputs in = vector_inputs(v);
	struct pake_cpace_state st;
	struct pake_cpace_message own, x;
	struct pake_cpace_keys keys;
	struct pake_str parts[3];
	uint8_t s[32], buf[512], isk[64];
	size_t n;

	(void)state;
	vec_fixed(v, "scalar_mult_valid.s", s, 32);
	vec_fixed(v, "scalar_mult_valid.X", x.bytes, 32);
	assert_int_equal(pake_cpace_start_det(&st, PAKE_CPACE_INITIATOR, &in,
					      s, &own), PAKE_OK);
	assert_int_equal(pake_cpace_finish(&st, in.sid, PAKE_STR(NULL, 0), &x,
					   PAKE_STR(NULL, 0), &keys), PAKE_OK);
	parts[0] = vec_bytes(v, "suite.ISK_DSI_hex");
	parts[1] = in.sid;
	parts[2] = vec_bytes(v, "scalar_mult_valid.scalar_mult_s_X");
	n = pake_cpace_lv_cat(buf, sizeof(buf), parts, 3);
	n += pake_cpace_transcript_ir(buf + n, sizeof(buf) - n,
				      PAKE_STR(own.bytes, 32),
				      PAKE_STR(NULL, 0), PAKE_STR(x.bytes, 32),
				      PAKE_STR(NULL, 0));
	crypto_hash_sha512(isk, buf, n);
	assert_memory_equal(isk, keys.isk, 64);
	json_decref(v);
}

/* B.3.11: a non-decodable encoding and the identity abort the session, as
 * do the top-bit encoding libsodium 1.0.18 accepts and a reflection. */
static void test_scalar_mult_vfy_invalid(void **state)
{
	json_t *v = vec_load(VECTORS);
	struct pake_cpace_inputs in = vector_inputs(v);
	struct pake_cpace_state st;
	struct pake_cpace_message own, bad;
	struct pake_cpace_keys keys;
	uint8_t s[32];
	const char *paths[] = { "scalar_mult_vfy_invalid.Y_i1_non_decodable",
				"scalar_mult_vfy_invalid.Y_i2_identity",
				"scalar_mult_valid.X", NULL };
	size_t i;

	(void)state;
	vec_fixed(v, "scalar_mult_vfy_invalid.s", s, 32);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pake_cpace_start_det(&st, PAKE_CPACE_RESPONDER,
						      &in, s, &own), PAKE_OK);
		if (i < 2) {
			vec_fixed(v, paths[i], bad.bytes, 32);
		} else if (i == 2) {
			vec_fixed(v, paths[i], bad.bytes, 32);
			bad.bytes[31] |= 0x80;
		} else {
			bad = own;
		}
		assert_int_equal(pake_cpace_finish(&st, in.sid,
						   PAKE_STR("ADb", 3), &bad,
						   PAKE_STR("ADa", 3), &keys),
				 PAKE_ERR_MALFORMED);
		/* Aborted: the state is gone. */
		assert_int_equal(pake_cpace_verify(&st, &keys.tag),
				 PAKE_ERR_INVALID);
	}
	json_decref(v);
}

/* ---------------------------------------------------------- appendix A */

/* A prepend_len input: hex, ASCII, or the draft's "bytes(range(N))". */
static struct pake_str prepend_input(json_t *c, uint8_t *scratch)
{
	unsigned int n, i;

	if (json_object_get(c, "in_hex"))
		return vec_bytes(c, "in_hex");
	if (json_object_get(c, "in_ascii"))
		return vec_ascii(c, "in_ascii");
	assert_int_equal(sscanf(json_string_value(vec_get(c, "in")),
				"bytes(range(%u))", &n), 1);
	for (i = 0; i < n; i++)
		scratch[i] = (uint8_t)i;
	return PAKE_STR(scratch, n);
}

static void test_prepend_len(void **state)
{
	json_t *v = vec_load(VECTORS), *c;
	uint8_t scratch[256], out[300];
	struct pake_str in, prefix;
	size_t i, n;

	(void)state;
	json_array_foreach(vec_get(v, "string_utils.prepend_len"), i, c) {
		in = prepend_input(c, scratch);
		n = pake_cpace_prepend_len(out, sizeof(out), in);
		if (json_object_get(c, "out")) {
			vec_check(c, "out", out, n);
			continue;
		}
		assert_int_equal(n, json_integer_value(vec_get(c, "out_len")));
		prefix = vec_bytes(c, "out_prefix");
		assert_memory_equal(out, prefix.ptr, prefix.len);
		assert_memory_equal(out + n - in.len, in.ptr, in.len);
	}
	json_decref(v);
}

static void test_lv_cat(void **state)
{
	json_t *v = vec_load(VECTORS), *arg;
	json_t *args = vec_get(v, "string_utils.lv_cat.args_ascii");
	struct pake_str parts[8];
	uint8_t out[64];
	size_t i, n, count;

	(void)state;
	json_array_foreach(args, i, arg)
		parts[i] = PAKE_STR(json_string_value(arg),
				    strlen(json_string_value(arg)));
	count = json_array_size(args);
	n = pake_cpace_lv_cat(out, sizeof(out), parts, count);
	vec_check(v, "string_utils.lv_cat.out", out, n);
	/* Too small a buffer: the full length, and no overrun. */
	assert_int_equal(pake_cpace_lv_cat(out, 3, parts, count), n);
	json_decref(v);
}

static void test_ordered_concatenation(void **state)
{
	json_t *v = vec_load(VECTORS), *c;
	uint8_t out[64];
	size_t i, n;

	(void)state;
	json_array_foreach(vec_get(v, "string_utils.o_cat"), i, c) {
		n = pake_cpace_o_cat(out, sizeof(out), vec_ascii(c, "a_ascii"),
				     vec_ascii(c, "b_ascii"));
		vec_check(c, "out", out, n);
	}
	json_array_foreach(vec_get(v, "string_utils.lexicographically_larger"),
			   i, c) {
		struct pake_str a = vec_unhex(json_string_value(
					json_array_get(c, 0)));
		struct pake_str b = vec_unhex(json_string_value(
					json_array_get(c, 1)));

		assert_int_equal(pake_cpace_lexicographically_larger(a, b),
				 json_is_true(json_array_get(c, 2)));
	}
	json_decref(v);
}

static void check_transcripts(json_t *v, const char *which, bool ordered)
{
	json_t *c;
	uint8_t out[64];
	size_t i, n;

	json_array_foreach(vec_get(v, which), i, c) {
		struct pake_str ya = vec_ascii(c, "Ya_ascii");
		struct pake_str ada = vec_ascii(c, "ADa_ascii");
		struct pake_str yb = vec_ascii(c, "Yb_ascii");
		struct pake_str adb = vec_ascii(c, "ADb_ascii");

		n = ordered ? pake_cpace_transcript_oc(out, sizeof(out), ya,
						       ada, yb, adb) :
			      pake_cpace_transcript_ir(out, sizeof(out), ya,
						       ada, yb, adb);
		vec_check(c, "out", out, n);
	}
}

static void test_transcripts(void **state)
{
	json_t *v = vec_load(VECTORS);

	(void)state;
	check_transcripts(v, "string_utils.transcript_ir", false);
	check_transcripts(v, "string_utils.transcript_oc", true);
	json_decref(v);
}

/* ------------------------------------------------------------ failures */

/* One initiator-responder session, with what each side was given. */
struct session {
	struct pake_cpace_inputs a_in, b_in;
	struct pake_str ada, adb;
};

static const char code[] = "7Q3KXH2M9C4D";
static const char ci[] = "\x10" "anchor-enroll-v1" "\x20" "0123456789abcdef"
			 "0123456789abcdef";
static const uint8_t sid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

static struct session honest(void)
{
	struct session s = {
		.a_in = { PAKE_STR(code, 12), PAKE_STR(ci, sizeof(ci) - 1),
			  PAKE_STR(sid, 16) },
		.ada = PAKE_STR("anchor-enroll-v1 client", 23),
		.adb = PAKE_STR("anchor-enroll-v1 server dns.example", 35),
	};

	s.b_in = s.a_in;
	return s;
}

/* Run a session in which B sees A's message, AD or tag altered at byte
 * @tamper of Ya || ADa || Ta (none when negative). Returns B's result
 * (finish, then verify of Ta); *a_rc is A's verify of Tb, *decodes whether
 * the Ya that B saw still decodes. */
static int run(const struct session *s, int tamper, int *a_rc, bool *decodes)
{
	struct pake_cpace_state a, b;
	struct pake_cpace_message ya, yb, ya_seen;
	struct pake_cpace_keys ka, kb;
	struct pake_cpace_tag ta_seen;
	uint8_t ada_seen[64];
	size_t at = (size_t)tamper;
	int rc;

	assert_true(s->ada.len <= sizeof(ada_seen));
	assert_int_equal(pake_cpace_start(&a, PAKE_CPACE_INITIATOR, &s->a_in,
					  &ya), PAKE_OK);
	assert_int_equal(pake_cpace_start(&b, PAKE_CPACE_RESPONDER, &s->b_in,
					  &yb), PAKE_OK);
	ya_seen = ya;
	memcpy(ada_seen, s->ada.ptr, s->ada.len);
	if (tamper >= 0 && at < 32)
		ya_seen.bytes[at] ^= (uint8_t)(1u << (at % 8));
	else if (tamper >= 0 && at < 32 + s->ada.len)
		ada_seen[at - 32] ^= 0x01;
	*decodes = !(ya_seen.bytes[31] & 0x80) &&
		   crypto_core_ristretto255_is_valid_point(ya_seen.bytes);
	rc = pake_cpace_finish(&b, s->b_in.sid, s->adb, &ya_seen,
			       PAKE_STR(ada_seen, s->ada.len), &kb);
	if (rc != PAKE_OK)
		return rc;
	assert_int_equal(pake_cpace_finish(&a, s->a_in.sid, s->ada, &yb, s->adb,
					   &ka), PAKE_OK);
	ta_seen = ka.tag;
	if (tamper >= 0 && at >= 32 + s->ada.len)
		ta_seen.bytes[(at - 32 - s->ada.len) % 64] ^= 0x80;
	*a_rc = pake_cpace_verify(&a, &kb.tag);
	return pake_cpace_verify(&b, &ta_seen);
}

static void test_roundtrip(void **state)
{
	struct session s = honest();
	bool decodes;
	int a_rc;

	(void)state;
	assert_int_equal(run(&s, -1, &a_rc, &decodes), PAKE_OK);
	assert_int_equal(a_rc, PAKE_OK);
}

/* Wrong code, channel binding (CI) or sid: both tags fail. */
static void test_wrong_inputs(void **state)
{
	struct session s;
	bool decodes;
	int i, a_rc;

	(void)state;
	for (i = 0; i < 3; i++) {
		s = honest();
		if (i == 0)
			s.b_in.prs = PAKE_STR("7Q3KXH2M9C4E", 12);
		else if (i == 1)
			s.b_in.ci = PAKE_STR("another channel", 15);
		else
			s.b_in.sid = PAKE_STR(sid, 15);
		assert_int_equal(run(&s, -1, &a_rc, &decodes), PAKE_ERR_AUTH);
		assert_int_equal(a_rc, PAKE_ERR_AUTH);
	}
}

/* A flipped bit in Ya (each byte), in ADa (each byte) or in Ta: B aborts
 * when Ya stops decoding, and otherwise refuses A's tag; A, whose view is
 * intact, refuses B's tag whenever B got as far as making one. */
static void test_tampered_messages(void **state)
{
	struct session s = honest();
	bool decodes;
	int i, rc, a_rc;

	(void)state;
	for (i = 0; i < 32 + (int)s.ada.len + 64; i++) {
		a_rc = PAKE_OK;
		rc = run(&s, i, &a_rc, &decodes);
		if (i < 32 && !decodes) {
			assert_int_equal(rc, PAKE_ERR_MALFORMED);
			continue;
		}
		assert_int_equal(rc, PAKE_ERR_AUTH);
		assert_int_equal(a_rc, i < 32 + (int)s.ada.len ?
				 PAKE_ERR_AUTH : PAKE_OK);
	}
}

/* A flipped bit in Tb: A refuses it. */
static void test_tampered_tb(void **state)
{
	struct session s = honest();
	struct pake_cpace_state a, b, armed;
	struct pake_cpace_message ya, yb;
	struct pake_cpace_keys ka, kb;
	struct pake_cpace_tag bad;
	size_t i;

	(void)state;
	assert_int_equal(pake_cpace_start(&a, PAKE_CPACE_INITIATOR, &s.a_in,
					  &ya), PAKE_OK);
	assert_int_equal(pake_cpace_start(&b, PAKE_CPACE_RESPONDER, &s.b_in,
					  &yb), PAKE_OK);
	assert_int_equal(pake_cpace_finish(&b, s.b_in.sid, s.adb, &ya, s.ada,
					   &kb), PAKE_OK);
	assert_int_equal(pake_cpace_finish(&a, s.a_in.sid, s.ada, &yb, s.adb,
					   &ka), PAKE_OK);
	armed = a;
	for (i = 0; i < 8 * PAKE_CPACE_TAG_BYTES; i++) {
		bad = kb.tag;
		bad.bytes[i / 8] ^= (uint8_t)(1u << (i % 8));
		a = armed;
		assert_int_equal(pake_cpace_verify(&a, &bad), PAKE_ERR_AUTH);
	}
	a = armed;
	assert_int_equal(pake_cpace_verify(&a, &kb.tag), PAKE_OK);
	assert_int_equal(pake_cpace_verify(&b, &ka.tag), PAKE_OK);
	assert_memory_equal(ka.isk, kb.isk, 64);
}

/* Calls out of order, bad roles and lengths. */
static void test_misuse(void **state)
{
	struct session s = honest();
	struct pake_cpace_state st;
	struct pake_cpace_message y;
	struct pake_cpace_keys keys;
	struct pake_cpace_tag tag = { { 0 } };
	uint8_t buf[64] = { 0 };

	(void)state;
	memset(&st, 0, sizeof(st));
	assert_int_equal(pake_cpace_verify(&st, &tag), PAKE_ERR_INVALID);
	assert_int_equal(pake_cpace_finish(&st, s.a_in.sid, s.ada, &y, s.adb,
					   &keys), PAKE_ERR_INVALID);
	assert_int_equal(pake_cpace_start(&st, (enum pake_cpace_role)9,
					  &s.a_in, &y), PAKE_ERR_INVALID);
	assert_int_equal(pake_cpace_start_det(&st, PAKE_CPACE_INITIATOR,
					      &s.a_in, buf, &y),
			 PAKE_ERR_INVALID);
	assert_int_equal(pake_cpace_start(&st, PAKE_CPACE_INITIATOR, &s.a_in,
					  &y), PAKE_OK);
	assert_int_equal(pake_cpace_verify(&st, &tag), PAKE_ERR_INVALID);
	assert_int_equal(pake_cpace_message_from_bytes(&y, buf, 31),
			 PAKE_ERR_MALFORMED);
	assert_int_equal(pake_cpace_tag_from_bytes(&tag, buf, 65),
			 PAKE_ERR_MALFORMED);
	assert_int_equal(pake_cpace_tag_from_bytes(&tag, buf, 64), PAKE_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generator),
		cmocka_unit_test(test_initiator_responder),
		cmocka_unit_test(test_symmetric),
		cmocka_unit_test(test_confirmation_tags),
		cmocka_unit_test(test_scalar_mult_valid),
		cmocka_unit_test(test_scalar_mult_vfy_invalid),
		cmocka_unit_test(test_prepend_len),
		cmocka_unit_test(test_lv_cat),
		cmocka_unit_test(test_ordered_concatenation),
		cmocka_unit_test(test_transcripts),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_wrong_inputs),
		cmocka_unit_test(test_tampered_messages),
		cmocka_unit_test(test_tampered_tb),
		cmocka_unit_test(test_misuse),
	};

	return cmocka_run_group_tests(tests, vec_setup, NULL);
}
