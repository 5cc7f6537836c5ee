/*  anchord - pake/opaque_client.c: the client's side of OPAQUE login
 *  (RFC 9807 §6: GenerateKE1, GenerateKE3).
 */
#include "internal.h"

#include <string.h>

#define DH_BYTES PAKE_ELEMENT_BYTES

/* What RecoverCredentials() yields besides the randomized password. */
struct recovered {
	uint8_t server_pk[PAKE_ELEMENT_BYTES];
	uint8_t envelope[ENVELOPE_BYTES];	/* nonce || auth_tag */
	struct opaque_envelope_keys k;
	struct opaque_ids ids;
};

int pake_opaque_client_login_start_det(
	struct pake_opaque_client_login *st, struct pake_str password,
	const struct pake_opaque_client_login_random *rnd,
	struct pake_opaque_ke1 *ke1)
{
	int rc;

	sodium_memzero(st, sizeof(*st));
	rc = pake_oprf_finalize_begin(&st->finalize, password);
	if (rc == PAKE_OK)
		rc = pake_oprf_blind_det(rnd->blind, ke1->bytes + KE1_BLINDED,
					 password);
	if (rc == PAKE_OK)
		rc = pake_opaque_dh_key_pair(st->keyshare_private,
					     ke1->bytes + KE1_KEYSHARE,
					     rnd->keyshare_seed);
	if (rc != PAKE_OK) {
		sodium_memzero(st, sizeof(*st));
		return rc;
	}
	memcpy(ke1->bytes + KE1_NONCE, rnd->nonce, PAKE_NONCE_BYTES);
	memcpy(st->blind, rnd->blind, sizeof(st->blind));
	st->ke1 = *ke1;
	st->armed = 1;
	return PAKE_OK;
}

int pake_opaque_client_login_start(struct pake_opaque_client_login *st,
				   struct pake_str password,
				   struct pake_opaque_ke1 *ke1)
{
	struct pake_opaque_client_login_random rnd;
	int rc;

	crypto_core_ristretto255_scalar_random(rnd.blind);
	randombytes_buf(rnd.nonce, sizeof(rnd.nonce));
	randombytes_buf(rnd.keyshare_seed, sizeof(rnd.keyshare_seed));
	rc = pake_opaque_client_login_start_det(st, password, &rnd, ke1);
	sodium_memzero(&rnd, sizeof(rnd));
	return rc;
}

/* Unmask the credential response, then Recover() the envelope. A wrong
 * password, an unknown user (fake record) and an altered masked response
 * all end at the auth tag, indistinguishably. */
static int recover(struct recovered *r, const uint8_t rpw[PAKE_HASH_BYTES],
		   const struct pake_opaque_params *params,
		   const struct pake_opaque_ke2 *ke2)
{
	uint8_t masking_key[PAKE_HASH_BYTES], tag[PAKE_HASH_BYTES];
	uint8_t unmasked[KE2_MASKED_BYTES];
	int rc;

	pake_opaque_masking_key(masking_key, rpw);
	memcpy(unmasked, ke2->bytes + KE2_MASKED, sizeof(unmasked));
	pake_opaque_mask(unmasked, masking_key,
			 ke2->bytes + KE2_MASKING_NONCE);
	memcpy(r->server_pk, unmasked, PAKE_ELEMENT_BYTES);
	memcpy(r->envelope, unmasked + PAKE_ELEMENT_BYTES, ENVELOPE_BYTES);
	rc = pake_opaque_envelope_keys(&r->k, rpw, r->envelope,
				       params->client_identity.len == 0);
	if (rc == PAKE_OK) {
		r->ids = pake_opaque_ids(params, r->k.client_public_key,
					 r->server_pk);
		pake_opaque_auth_tag(tag, r->k.auth_key, r->envelope,
				     r->server_pk, &r->ids);
		if (sodium_memcmp(tag, r->envelope + PAKE_NONCE_BYTES,
				  sizeof(tag)) != 0)
			rc = PAKE_ERR_AUTH;
	}
	sodium_memzero(masking_key, sizeof(masking_key));
	sodium_memzero(unmasked, sizeof(unmasked));
	return rc;
}

/* AuthClientFinalize(): dh2 and dh3 (dh1 is already in @ikm), the key
 * schedule, the server's MAC, and KE3. */
static int authenticate(struct pake_opaque_client_login *st,
			const struct pake_opaque_params *params,
			const struct pake_opaque_ke2 *ke2,
			const struct recovered *r, uint8_t ikm[3 * DH_BYTES],
			struct pake_opaque_ke3 *ke3,
			uint8_t session_key[PAKE_OPAQUE_KEY_BYTES])
{
	crypto_hash_sha512_state preamble;
	struct opaque_ake_keys k;
	uint8_t server_mac[PAKE_HASH_BYTES];
	int rc = PAKE_OK;

	/* server_pk passed the envelope's MAC; it only fails to decode if
	 * registration stored a bad one, which register_finish refuses. */
	if (pake_scalarmult(ikm + DH_BYTES, st->keyshare_private,
			    r->server_pk) != 0 ||
	    pake_scalarmult(ikm + 2 * DH_BYTES, r->k.client_private_key,
			    ke2->bytes + KE2_KEYSHARE) != 0)
		return PAKE_ERR_MALFORMED;
	pake_opaque_preamble(&preamble, params->context, &r->ids, &st->ke1,
			     ke2);
	pake_opaque_ake_keys(&k, ikm, &preamble);
	pake_opaque_macs(server_mac, ke3->bytes, &k, &preamble);
	if (sodium_memcmp(server_mac, ke2->bytes + KE2_MAC,
			  sizeof(server_mac)) != 0)
		rc = PAKE_ERR_AUTH;
	else
		memcpy(session_key, k.session_key, PAKE_OPAQUE_KEY_BYTES);
	sodium_memzero(&k, sizeof(k));
	return rc;
}

int pake_opaque_client_login_finish(struct pake_opaque_client_login *st,
				    const struct pake_opaque_params *params,
				    const struct pake_opaque_ke2 *ke2,
				    struct pake_opaque_ke3 *ke3,
				    uint8_t session_key[PAKE_OPAQUE_KEY_BYTES],
				    uint8_t export_key[PAKE_OPAQUE_KEY_BYTES])
{
	uint8_t ikm[3 * DH_BYTES], output[PAKE_HASH_BYTES];
	uint8_t rpw[PAKE_HASH_BYTES];
	struct recovered r;
	int rc = PAKE_OK;

	if (!st->armed || !pake_opaque_params_ok(params))
		rc = PAKE_ERR_INVALID;
	/* dh1 first: a bad server keyshare is refused before the KSF runs. */
	else if (pake_scalarmult(ikm, st->keyshare_private,
				 ke2->bytes + KE2_KEYSHARE) != 0)
		rc = PAKE_ERR_MALFORMED;
	if (rc == PAKE_OK)
		rc = pake_oprf_finalize_end(&st->finalize, st->blind,
					    ke2->bytes + KE2_EVALUATED, output);
	if (rc == PAKE_OK)
		rc = pake_opaque_randomized_password(rpw, output, params->ksf);
	if (rc == PAKE_OK)
		rc = recover(&r, rpw, params, ke2);
	if (rc == PAKE_OK)
		rc = authenticate(st, params, ke2, &r, ikm, ke3, session_key);
	if (rc == PAKE_OK)
		memcpy(export_key, r.k.export_key, PAKE_OPAQUE_KEY_BYTES);
	else
		sodium_memzero(ke3, sizeof(*ke3));
	sodium_memzero(ikm, sizeof(ikm));
	sodium_memzero(output, sizeof(output));
	sodium_memzero(rpw, sizeof(rpw));
	sodium_memzero(&r, sizeof(r));
	sodium_memzero(st, sizeof(*st));
	return rc;
}
