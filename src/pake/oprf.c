/*  anchord - pake/oprf.c: RFC 9497 OPRF, mode 0x00, ristretto255-SHA512.
 *
 *  pake_scalarmult() decodes its point (refusing non-canonical encodings)
 *  and fails when the product is the identity, so one call both validates
 *  a received element and uses it: no separate decode is ever needed.
 */
#include "internal.h"

#include <string.h>

/* contextString = "OPRFV1-" || I2OSP(mode 0, 1) || "-" || identifier */
#define OPRF_CONTEXT "OPRFV1-\x00" "-ristretto255-SHA512"

static const char dst_hash_to_group[] = "HashToGroup-" OPRF_CONTEXT;
static const char dst_derive_key_pair[] = "DeriveKeyPair" OPRF_CONTEXT;

#define OPRF_MAX_INFO 65535
#define OPRF_MAX_INPUT 65535
#define DERIVE_MAX_COUNTER 255

int pake_oprf_derive_key_pair(uint8_t sk[PAKE_SCALAR_BYTES],
			      uint8_t pk[PAKE_ELEMENT_BYTES],
			      const uint8_t seed[PAKE_SEED_BYTES],
			      struct pake_str info)
{
	uint8_t info_len[2], counter;
	struct pake_str input[] = {
		PAKE_STR(seed, PAKE_SEED_BYTES), PAKE_STR(info_len, 2), info,
		PAKE_STR(&counter, 1),
	};
	unsigned int c;

	if (info.len > OPRF_MAX_INFO)
		return PAKE_ERR_INVALID;
	pake_be16(info_len, info.len);
	for (c = 0; c <= DERIVE_MAX_COUNTER; c++) {
		counter = (uint8_t)c;
		(void)pake_hash_to_scalar_v(sk, input, PAKE_ARRAY_SIZE(input),
					    PAKE_LIT(dst_derive_key_pair));
		if (sodium_is_zero(sk, PAKE_SCALAR_BYTES))
			continue;
		if (pk)
			(void)crypto_scalarmult_ristretto255_base(pk, sk);
		return PAKE_OK;
	}
	return PAKE_ERR_INVALID;
}

int pake_oprf_blind_det(const uint8_t blind[PAKE_SCALAR_BYTES],
			uint8_t blinded[PAKE_ELEMENT_BYTES],
			struct pake_str input)
{
	uint8_t element[PAKE_ELEMENT_BYTES];
	int rc;

	(void)pake_hash_to_group(element, input, PAKE_LIT(dst_hash_to_group));
	/* Fails for an identity input element (InvalidInputError) and for a
	 * zero blind: both make the product the identity. */
	rc = pake_scalarmult(blinded, blind, element);
	sodium_memzero(element, sizeof(element));
	return rc == 0 ? PAKE_OK : PAKE_ERR_INVALID;
}

int pake_oprf_blind(uint8_t blind[PAKE_SCALAR_BYTES],
		    uint8_t blinded[PAKE_ELEMENT_BYTES], struct pake_str input)
{
	crypto_core_ristretto255_scalar_random(blind);
	return pake_oprf_blind_det(blind, blinded, input);
}

int pake_oprf_blind_evaluate(uint8_t evaluated[PAKE_ELEMENT_BYTES],
			     const uint8_t sk[PAKE_SCALAR_BYTES],
			     const uint8_t blinded[PAKE_ELEMENT_BYTES])
{
	if (pake_scalarmult(evaluated, sk, blinded) != 0)
		return PAKE_ERR_MALFORMED;
	return PAKE_OK;
}

int pake_oprf_finalize_begin(crypto_hash_sha512_state *h,
			     struct pake_str input)
{
	uint8_t len[2];

	if (input.len > OPRF_MAX_INPUT)
		return PAKE_ERR_INVALID;
	pake_be16(len, input.len);
	crypto_hash_sha512_init(h);
	crypto_hash_sha512_update(h, len, sizeof(len));
	crypto_hash_sha512_update(h, input.ptr, input.len);
	return PAKE_OK;
}

/* hashInput = I2OSP(len(input), 2) || input ||
 *             I2OSP(len(unblindedElement), 2) || unblindedElement ||
 *             "Finalize" */
int pake_oprf_finalize_end(crypto_hash_sha512_state *h,
			   const uint8_t blind[PAKE_SCALAR_BYTES],
			   const uint8_t evaluated[PAKE_ELEMENT_BYTES],
			   uint8_t output[PAKE_HASH_BYTES])
{
	static const uint8_t element_len[2] = { 0, PAKE_ELEMENT_BYTES };
	static const char label[] = "Finalize";
	uint8_t inverse[PAKE_SCALAR_BYTES], unblinded[PAKE_ELEMENT_BYTES];
	int rc = PAKE_OK;

	if (crypto_core_ristretto255_scalar_invert(inverse, blind) != 0)
		rc = PAKE_ERR_INVALID;
	else if (pake_scalarmult(unblinded, inverse, evaluated) != 0)
		rc = PAKE_ERR_MALFORMED;
	if (rc == PAKE_OK) {
		crypto_hash_sha512_update(h, element_len, sizeof(element_len));
		crypto_hash_sha512_update(h, unblinded, sizeof(unblinded));
		crypto_hash_sha512_update(h, (const uint8_t *)label,
					  sizeof(label) - 1);
		crypto_hash_sha512_final(h, output);
	}
	sodium_memzero(inverse, sizeof(inverse));
	sodium_memzero(unblinded, sizeof(unblinded));
	sodium_memzero(h, sizeof(*h));
	return rc;
}

int pake_oprf_finalize(uint8_t output[PAKE_HASH_BYTES], struct pake_str input,
		       const uint8_t blind[PAKE_SCALAR_BYTES],
		       const uint8_t evaluated[PAKE_ELEMENT_BYTES])
{
	crypto_hash_sha512_state h;
	int rc;

	rc = pake_oprf_finalize_begin(&h, input);
	if (rc != PAKE_OK)
		return rc;
	return pake_oprf_finalize_end(&h, blind, evaluated, output);
}
