/*  anchord - tests/unit/test_pake_oprf.c: RFC 9497 OPRF (mode 0,
 *  ristretto255-SHA512) against appendix A.1.1, plus the primitives under
 *  it: expand_message_xmd, hash-to-group, HKDF limits.
 */
#include "pake_vectors.h"

#define VECTORS "oprf-ristretto255-sha512.json"

static void test_derive_key_pair(void **state)
{
	json_t *v = vec_load(VECTORS);
	uint8_t seed[PAKE_SEED_BYTES], sk[32], pk[32], sk_only[32];

	(void)state;
	vec_fixed(v, "key_derivation.seed", seed, sizeof(seed));
	assert_int_equal(pake_oprf_derive_key_pair(sk, pk, seed,
			 vec_bytes(v, "key_derivation.info")), PAKE_OK);
	vec_check(v, "key_derivation.skSm", sk, sizeof(sk));
	vec_check(v, "derived_not_official.pkSm", pk, sizeof(pk));
	/* Without a public key: the same private key. */
	assert_int_equal(pake_oprf_derive_key_pair(sk_only, NULL, seed,
			 vec_bytes(v, "key_derivation.info")), PAKE_OK);
	assert_memory_equal(sk, sk_only, sizeof(sk));
	json_decref(v);
}

/* Blind, BlindEvaluate and Finalize of one vector, bit for bit. */
static void check_vector(json_t *root, json_t *vec)
{
	uint8_t sk[32], blind[32], blinded[32], evaluated[32], out[64];
	struct pake_str input = vec_bytes(vec, "Input");

	vec_fixed(root, "key_derivation.skSm", sk, sizeof(sk));
	vec_fixed(vec, "Blind", blind, sizeof(blind));
	assert_int_equal(pake_oprf_blind_det(blind, blinded, input), PAKE_OK);
	vec_check(vec, "BlindedElement", blinded, sizeof(blinded));
	assert_int_equal(pake_oprf_blind_evaluate(evaluated, sk, blinded),
			 PAKE_OK);
	vec_check(vec, "EvaluationElement", evaluated, sizeof(evaluated));
	assert_int_equal(pake_oprf_finalize(out, input, blind, evaluated),
			 PAKE_OK);
	vec_check(vec, "Output", out, sizeof(out));
}

static void test_vectors(void **state)
{
	json_t *v = vec_load(VECTORS), *vec;
	size_t i;

	(void)state;
	assert_int_equal(json_array_size(vec_get(v, "vectors")), 2);
	json_array_foreach(vec_get(v, "vectors"), i, vec)
		check_vector(v, vec);
	json_decref(v);
}

/* The researcher's intermediates: xmd output and HashToGroup(Input). */
static void test_hash_to_group(void **state)
{
	json_t *v = vec_load(VECTORS), *vec;
	struct pake_str dst = vec_bytes(v, "suite.groupDST_hex");
	uint8_t wide[64], element[32];
	size_t i;

	(void)state;
	json_array_foreach(vec_get(v, "derived_not_official.per_vector"), i,
			   vec) {
		struct pake_str input = vec_bytes(vec, "Input");

		assert_int_equal(pake_expand_message_xmd(wide, sizeof(wide),
							 input, dst), PAKE_OK);
		vec_check(vec, "expand_message_xmd_output", wide, sizeof(wide));
		assert_int_equal(pake_hash_to_group(element, input, dst),
				 PAKE_OK);
		vec_check(vec, "HashToGroup_Input", element, sizeof(element));
	}
	json_decref(v);
}

/* The three DSTs the suite defines are the ones the library uses: the
 * vectors only pass if DeriveKeyPair and HashToGroup use theirs; check
 * HashToScalar's through the public function and a reduced xmd. */
static void test_hash_to_scalar(void **state)
{
	json_t *v = vec_load(VECTORS);
	struct pake_str dst = vec_bytes(v, "suite.hashToScalarDST_hex");
	uint8_t wide[64], want[32], got[32];

	(void)state;
	assert_int_equal(pake_expand_message_xmd(wide, sizeof(wide),
						 PAKE_STR("abc", 3), dst),
			 PAKE_OK);
	crypto_core_ristretto255_scalar_reduce(want, wide);
	assert_int_equal(pake_hash_to_scalar(got, PAKE_STR("abc", 3), dst),
			 PAKE_OK);
	assert_memory_equal(want, got, sizeof(got));
	assert_int_equal(pake_hash_to_scalar(got, PAKE_STR("abc", 3),
					     PAKE_STR(NULL, 0)),
			 PAKE_ERR_INVALID);
	json_decref(v);
}

static void test_xmd_limits(void **state)
{
	static uint8_t out[255 * 64 + 1];
	uint8_t long_dst[300], a[64], b[200];

	(void)state;
	memset(long_dst, 'D', sizeof(long_dst));
	assert_int_equal(pake_expand_message_xmd(out, 0, PAKE_STR("m", 1),
						 PAKE_STR("DST", 3)),
			 PAKE_ERR_INVALID);
	assert_int_equal(pake_expand_message_xmd(out, 255 * 64,
						 PAKE_STR("m", 1),
						 PAKE_STR("DST", 3)), PAKE_OK);
	assert_int_equal(pake_expand_message_xmd(out, 255 * 64 + 1,
						 PAKE_STR("m", 1),
						 PAKE_STR("DST", 3)),
			 PAKE_ERR_INVALID);
	/* An oversize DST is hashed, not refused. */
	assert_int_equal(pake_expand_message_xmd(a, sizeof(a), PAKE_STR("m", 1),
						 PAKE_STR(long_dst, 300)),
			 PAKE_OK);
	/* Every output length is its own domain (l_i_b_str enters b_0). */
	assert_int_equal(pake_expand_message_xmd(b, sizeof(b), PAKE_STR("m", 1),
						 PAKE_STR(long_dst, 300)),
			 PAKE_OK);
	assert_memory_not_equal(a, b, sizeof(a));
}

static void test_hkdf_limits(void **state)
{
	static uint8_t out[255 * 64 + 1];
	uint8_t prk[64], first[64];

	(void)state;
	pake_hkdf_extract(prk, PAKE_STR(NULL, 0), PAKE_STR("ikm", 3));
	assert_int_equal(pake_hkdf_expand(out, 255 * 64, PAKE_STR(prk, 64),
					  PAKE_STR("info", 4)), PAKE_OK);
	assert_int_equal(pake_hkdf_expand(first, 64, PAKE_STR(prk, 64),
					  PAKE_STR("info", 4)), PAKE_OK);
	/* T(1) does not depend on the length asked for. */
	assert_memory_equal(first, out, 64);
	assert_int_equal(pake_hkdf_expand(out, 255 * 64 + 1, PAKE_STR(prk, 64),
					  PAKE_STR("info", 4)),
			 PAKE_ERR_INVALID);
}

/* An empty salt is HashLen zeros (RFC 5869 §2.2). */
static void test_hkdf_empty_salt(void **state)
{
	static const uint8_t zeros[64];
	uint8_t a[64], b[64];

	(void)state;
	pake_hkdf_extract(a, PAKE_STR(NULL, 0), PAKE_STR("ikm", 3));
	pake_hkdf_extract(b, PAKE_STR(zeros, 64), PAKE_STR("ikm", 3));
	assert_memory_equal(a, b, sizeof(a));
}

/* Received elements: the identity and non-canonical encodings are refused
 * as malformed; our own bad inputs are invalid. */
static void test_bad_elements(void **state)
{
	json_t *v = vec_load(VECTORS);
	uint8_t sk[32], blind[32], out[64], element[32];
	static const uint8_t zero[32];

	(void)state;
	vec_fixed(v, "key_derivation.skSm", sk, sizeof(sk));
	vec_fixed(v, "vectors.0.Blind", blind, sizeof(blind));
	assert_int_equal(pake_oprf_blind_evaluate(element, sk, zero),
			 PAKE_ERR_MALFORMED);
	vec_fixed(v, "vectors.0.BlindedElement", element, sizeof(element));
	element[31] |= 0x80;	/* non-canonical: bit 255 set */
	assert_int_equal(pake_oprf_blind_evaluate(out, sk, element),
			 PAKE_ERR_MALFORMED);
	assert_int_equal(pake_oprf_finalize(out, PAKE_STR("x", 1), blind, zero),
			 PAKE_ERR_MALFORMED);
	assert_int_equal(pake_oprf_blind_det(zero, element, PAKE_STR("x", 1)),
			 PAKE_ERR_INVALID);
	json_decref(v);
}

/* Random blinds unblind to the same output. */
static void test_random_blind(void **state)
{
	uint8_t sk[32], blind[32], blinded[32], evaluated[32];
	uint8_t out1[64], out2[64];
	struct pake_str in = PAKE_STR("password", 8);
	int i;

	(void)state;
	crypto_core_ristretto255_scalar_random(sk);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pake_oprf_blind(blind, blinded, in), PAKE_OK);
		assert_int_equal(pake_oprf_blind_evaluate(evaluated, sk,
							  blinded), PAKE_OK);
		assert_int_equal(pake_oprf_finalize(i ? out2 : out1, in, blind,
						    evaluated), PAKE_OK);
	}
	assert_memory_equal(out1, out2, sizeof(out1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derive_key_pair),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_hash_to_group),
		cmocka_unit_test(test_hash_to_scalar),
		cmocka_unit_test(test_xmd_limits),
		cmocka_unit_test(test_hkdf_limits),
		cmocka_unit_test(test_hkdf_empty_salt),
		cmocka_unit_test(test_bad_elements),
		cmocka_unit_test(test_random_blind),
	};

	return cmocka_run_group_tests(tests, vec_setup, NULL);
}
