/*  anchord - pake/cpace.c: CPace (draft-irtf-cfrg-cpace-21) with
 *  G_Ristretto255 and SHA-512, and the key confirmation of its §10.4.
 *
 *  Per side: one element derivation for the generator and two scalar
 *  multiplications (the message, and K), which also validate the peer's
 *  element: pake_scalarmult() fails on a non-decodable encoding and on an
 *  identity result, exactly scalar_mult_vfy's G.I cases.
 */
#include "internal.h"

#include <string.h>

enum cpace_stage {
	STAGE_NONE = 0,		/* wiped: every call but start refuses it */
	STAGE_STARTED,
	STAGE_FINISHED,
};

void pake_cpace_generator(uint8_t g[PAKE_ELEMENT_BYTES],
			  const struct pake_cpace_inputs *in)
{
	crypto_hash_sha512_state h;
	struct pake_sink sink = { .hash = &h };
	uint8_t digest[PAKE_HASH_BYTES];

	crypto_hash_sha512_init(&h);
	pake_sink_generator_string(&sink, in);
	crypto_hash_sha512_final(&h, digest);
	crypto_core_ristretto255_from_hash(g, digest);
	/* The generator is as secret as the PRS. */
	sodium_memzero(digest, sizeof(digest));
	sodium_memzero(&h, sizeof(h));
}

int pake_cpace_start_det(struct pake_cpace_state *st,
			 enum pake_cpace_role role,
			 const struct pake_cpace_inputs *in,
			 const uint8_t scalar[PAKE_SCALAR_BYTES],
			 struct pake_cpace_message *own)
{
	uint8_t g[PAKE_ELEMENT_BYTES];
	int rc;

	sodium_memzero(st, sizeof(*st));
	if (role != PAKE_CPACE_INITIATOR && role != PAKE_CPACE_RESPONDER &&
	    role != PAKE_CPACE_SYMMETRIC)
		return PAKE_ERR_INVALID;
	pake_cpace_generator(g, in);
	/* Fails only for a zero scalar (or a generator that is the identity,
	 * which needs a SHA-512 preimage). */
	rc = pake_scalarmult(own->bytes, scalar, g);
	sodium_memzero(g, sizeof(g));
	if (rc != 0)
		return PAKE_ERR_INVALID;
	memcpy(st->scalar, scalar, sizeof(st->scalar));
	st->own = *own;
	st->role = (uint8_t)role;
	st->stage = STAGE_STARTED;
	return PAKE_OK;
}

int pake_cpace_start(struct pake_cpace_state *st, enum pake_cpace_role role,
		     const struct pake_cpace_inputs *in,
		     struct pake_cpace_message *own)
{
	uint8_t scalar[PAKE_SCALAR_BYTES];
	int rc;

	/* sample_scalar() as §8.3 recommends: 252 random bits, always below
	 * the group order, so unlike crypto_core_ristretto255_scalar_random()
	 * it needs no rejection loop (nor the getrandom() calls of one). Zero
	 * has probability 2^-252 and is drawn again. */
	do {
		randombytes_buf(scalar, sizeof(scalar));
		scalar[PAKE_SCALAR_BYTES - 1] &= 0x0f;
	} while (sodium_is_zero(scalar, sizeof(scalar)));
	rc = pake_cpace_start_det(st, role, in, scalar, own);
	sodium_memzero(scalar, sizeof(scalar));
	return rc;
}

/* The transcript in the session's order: A's message first for the
 * initiator-responder setting, ordered concatenation for the symmetric. */
static void put_transcript(struct pake_sink *s,
			   const struct pake_cpace_state *st,
			   struct pake_str own_ad,
			   const struct pake_cpace_message *peer,
			   struct pake_str peer_ad)
{
	struct pake_str own_y = PAKE_STR(st->own.bytes, PAKE_ELEMENT_BYTES);
	struct pake_str peer_y = PAKE_STR(peer->bytes, PAKE_ELEMENT_BYTES);

	if (st->role == PAKE_CPACE_RESPONDER)
		pake_sink_transcript(s, false, peer_y, peer_ad, own_y, own_ad);
	else
		pake_sink_transcript(s, st->role == PAKE_CPACE_SYMMETRIC,
				     own_y, own_ad, peer_y, peer_ad);
}

/* ISK = H(lv_cat(DSI || "_ISK", sid, K) || transcript) and
 * sid_output = H("CPaceSidOutput" || transcript). */
static void session_outputs(struct pake_cpace_keys *out,
			    const struct pake_cpace_state *st,
			    struct pake_str sid,
			    const uint8_t k[PAKE_ELEMENT_BYTES],
			    struct pake_str own_ad,
			    const struct pake_cpace_message *peer,
			    struct pake_str peer_ad)
{
	crypto_hash_sha512_state h;
	struct pake_sink sink = { .hash = &h };

	crypto_hash_sha512_init(&h);
	pake_sink_lv(&sink, PAKE_LIT(PAKE_CPACE_DSI "_ISK"));
	pake_sink_lv(&sink, sid);
	pake_sink_lv(&sink, PAKE_STR(k, PAKE_ELEMENT_BYTES));
	put_transcript(&sink, st, own_ad, peer, peer_ad);
	crypto_hash_sha512_final(&h, out->isk);

	crypto_hash_sha512_init(&h);
	pake_sink_put(&sink, PAKE_LIT("CPaceSidOutput"));
	put_transcript(&sink, st, own_ad, peer, peer_ad);
	crypto_hash_sha512_final(&h, out->sid_output);
	sodium_memzero(&h, sizeof(h));
}

/* T = MAC(mac_key, lv_cat(Y, AD)) */
static void confirmation_tag(uint8_t tag[PAKE_CPACE_TAG_BYTES],
			     const uint8_t mac_key[PAKE_HASH_BYTES],
			     const uint8_t y[PAKE_ELEMENT_BYTES],
			     struct pake_str ad)
{
	crypto_auth_hmacsha512_state mac;
	struct pake_sink sink = { .mac = &mac };

	crypto_auth_hmacsha512_init(&mac, mac_key, PAKE_HASH_BYTES);
	pake_sink_lv(&sink, PAKE_STR(y, PAKE_ELEMENT_BYTES));
	pake_sink_lv(&sink, ad);
	crypto_auth_hmacsha512_final(&mac, tag);
	sodium_memzero(&mac, sizeof(mac));
}

/* mac_key = H("CPaceMac" || sid || ISK); our tag goes out, the peer's is
 * kept for verify(). */
static void confirmation_tags(struct pake_cpace_state *st,
			      struct pake_cpace_keys *out, struct pake_str sid,
			      struct pake_str own_ad,
			      const struct pake_cpace_message *peer,
			      struct pake_str peer_ad)
{
	static const char label[] = "CPaceMac";
	crypto_hash_sha512_state h;
	uint8_t mac_key[PAKE_HASH_BYTES];

	crypto_hash_sha512_init(&h);
	crypto_hash_sha512_update(&h, (const uint8_t *)label,
				  sizeof(label) - 1);
	if (sid.len)
		crypto_hash_sha512_update(&h, sid.ptr, sid.len);
	crypto_hash_sha512_update(&h, out->isk, sizeof(out->isk));
	crypto_hash_sha512_final(&h, mac_key);
	confirmation_tag(out->tag.bytes, mac_key, st->own.bytes, own_ad);
	confirmation_tag(st->peer_tag.bytes, mac_key, peer->bytes, peer_ad);
	sodium_memzero(mac_key, sizeof(mac_key));
	sodium_memzero(&h, sizeof(h));
}

int pake_cpace_finish(struct pake_cpace_state *st, struct pake_str sid,
		      struct pake_str own_ad,
		      const struct pake_cpace_message *peer,
		      struct pake_str peer_ad, struct pake_cpace_keys *out)
{
	uint8_t k[PAKE_ELEMENT_BYTES];
	int rc = PAKE_OK;

	if (st->stage != STAGE_STARTED)
		rc = PAKE_ERR_INVALID;
	/* Our own message coming back would make both tags equal when the
	 * ADs are: refuse the reflection outright. */
	else if (sodium_memcmp(peer->bytes, st->own.bytes,
			       PAKE_ELEMENT_BYTES) == 0)
		rc = PAKE_ERR_MALFORMED;
	else if (pake_scalarmult(k, st->scalar, peer->bytes) != 0)
		rc = PAKE_ERR_MALFORMED;
	if (rc != PAKE_OK) {
		sodium_memzero(st, sizeof(*st));
		return rc;
	}
	session_outputs(out, st, sid, k, own_ad, peer, peer_ad);
	confirmation_tags(st, out, sid, own_ad, peer, peer_ad);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(st->scalar, sizeof(st->scalar));
	st->stage = STAGE_FINISHED;
	return PAKE_OK;
}

int pake_cpace_verify(struct pake_cpace_state *st,
		      const struct pake_cpace_tag *peer_tag)
{
	int rc = PAKE_OK;

	if (st->stage != STAGE_FINISHED)
		rc = PAKE_ERR_INVALID;
	else if (sodium_memcmp(peer_tag->bytes, st->peer_tag.bytes,
			       PAKE_CPACE_TAG_BYTES) != 0)
		rc = PAKE_ERR_AUTH;
	sodium_memzero(st, sizeof(*st));
	return rc;
}
