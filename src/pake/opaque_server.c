/*  anchord - pake/opaque_server.c: the server's side of OPAQUE login
 *  (RFC 9807 §6: GenerateKE2, ServerFinish).
 *
 *  The work per login is four variable-base scalar multiplications (the
 *  OPRF evaluation and dh1..dh3) and one fixed-base one (the keyshare);
 *  received elements are validated by those very multiplications.
 */
#include "internal.h"

#include <string.h>

#define DH_BYTES PAKE_ELEMENT_BYTES

/* CreateCredentialResponse(): evaluate the OPRF, then mask the server's
 * public key and the envelope. */
static int credential_response(
	const struct pake_opaque_server_keys *keys,
	struct pake_str credential_id,
	const struct pake_opaque_registration_record *rec,
	const struct pake_opaque_ke1 *ke1,
	const uint8_t masking_nonce[PAKE_NONCE_BYTES],
	struct pake_opaque_ke2 *ke2)
{
	uint8_t oprf_key[PAKE_SCALAR_BYTES];
	uint8_t *masked = ke2->bytes + KE2_MASKED;
	int rc;

	rc = pake_opaque_oprf_key(oprf_key, keys, credential_id);
	if (rc == PAKE_OK)
		rc = pake_oprf_blind_evaluate(ke2->bytes + KE2_EVALUATED,
					      oprf_key,
					      ke1->bytes + KE1_BLINDED);
	sodium_memzero(oprf_key, sizeof(oprf_key));
	if (rc != PAKE_OK)
		return rc;
	memcpy(ke2->bytes + KE2_MASKING_NONCE, masking_nonce, PAKE_NONCE_BYTES);
	memcpy(masked, keys->public_key, PAKE_ELEMENT_BYTES);
	memcpy(masked + PAKE_ELEMENT_BYTES, rec->bytes + REC_ENVELOPE,
	       ENVELOPE_BYTES);
	pake_opaque_mask(masked, rec->bytes + REC_MASKING_KEY, masking_nonce);
	return PAKE_OK;
}

/* ikm = dh1 || dh2 || dh3 = eph * X || sk * X || eph * client_pk, where X
 * is the client's keyshare. A bad keyshare is the client's fault, a bad
 * client public key the record's. */
static int server_ikm(uint8_t ikm[3 * DH_BYTES],
		      const uint8_t eph[PAKE_SCALAR_BYTES],
		      const struct pake_opaque_server_keys *keys,
		      const struct pake_opaque_registration_record *rec,
		      const struct pake_opaque_ke1 *ke1)
{
	const uint8_t *keyshare = ke1->bytes + KE1_KEYSHARE;

	if (pake_scalarmult(ikm, eph, keyshare) != 0 ||
	    pake_scalarmult(ikm + DH_BYTES, keys->private_key, keyshare) != 0)
		return PAKE_ERR_MALFORMED;
	if (pake_scalarmult(ikm + 2 * DH_BYTES, eph,
			    rec->bytes + REC_CLIENT_PK) != 0)
		return PAKE_ERR_INVALID;
	return PAKE_OK;
}

/* AuthServerRespond(): keyshare, 3DH, key schedule and server MAC; the
 * expected client MAC and the session key wait in @st for KE3. */
static int auth_response(struct pake_opaque_server_login *st,
			 const struct pake_opaque_server_keys *keys,
			 const struct pake_opaque_params *params,
			 const struct pake_opaque_registration_record *rec,
			 const struct pake_opaque_ke1 *ke1,
			 const struct pake_opaque_server_login_random *rnd,
			 struct pake_opaque_ke2 *ke2)
{
	crypto_hash_sha512_state preamble;
	uint8_t eph[PAKE_SCALAR_BYTES], ikm[3 * DH_BYTES];
	struct opaque_ake_keys k;
	struct opaque_ids ids;
	int rc;

	memcpy(ke2->bytes + KE2_NONCE, rnd->nonce, PAKE_NONCE_BYTES);
	rc = pake_opaque_dh_key_pair(eph, ke2->bytes + KE2_KEYSHARE,
				     rnd->keyshare_seed);
	if (rc == PAKE_OK)
		rc = server_ikm(ikm, eph, keys, rec, ke1);
	if (rc == PAKE_OK) {
		ids = pake_opaque_ids(params, rec->bytes + REC_CLIENT_PK,
				      keys->public_key);
		pake_opaque_preamble(&preamble, params->context, &ids, ke1,
				     ke2);
		pake_opaque_ake_keys(&k, ikm, &preamble);
		pake_opaque_macs(ke2->bytes + KE2_MAC, st->expected_client_mac,
				 &k, &preamble);
		memcpy(st->session_key, k.session_key, sizeof(st->session_key));
		sodium_memzero(&k, sizeof(k));
	}
	sodium_memzero(eph, sizeof(eph));
	sodium_memzero(ikm, sizeof(ikm));
	return rc;
}

int pake_opaque_server_login_start_det(
	struct pake_opaque_server_login *st,
	const struct pake_opaque_server_keys *keys,
	const struct pake_opaque_params *params, struct pake_str credential_id,
	const struct pake_opaque_registration_record *record,
	const struct pake_opaque_ke1 *ke1,
	const struct pake_opaque_server_login_random *rnd,
	struct pake_opaque_ke2 *ke2)
{
	struct pake_opaque_registration_record fake;
	const struct pake_opaque_registration_record *rec;
	int rc;

	sodium_memzero(st, sizeof(*st));
	if (!pake_opaque_params_ok(params))
		return PAKE_ERR_INVALID;
	/* Derived whether needed or not, so that an unknown user costs the
	 * same time as a known one (RFC 9807 §10.9). */
	pake_opaque_fake_record(keys, credential_id, &fake);
	rec = record ? record : &fake;
	rc = credential_response(keys, credential_id, rec, ke1,
				 rnd->masking_nonce, ke2);
	if (rc == PAKE_OK)
		rc = auth_response(st, keys, params, rec, ke1, rnd, ke2);
	sodium_memzero(&fake, sizeof(fake));
	if (rc != PAKE_OK) {
		sodium_memzero(st, sizeof(*st));
		sodium_memzero(ke2, sizeof(*ke2));
		return rc;
	}
	st->armed = 1;
	return PAKE_OK;
}

int pake_opaque_server_login_start(
	struct pake_opaque_server_login *st,
	const struct pake_opaque_server_keys *keys,
	const struct pake_opaque_params *params, struct pake_str credential_id,
	const struct pake_opaque_registration_record *record,
	const struct pake_opaque_ke1 *ke1, struct pake_opaque_ke2 *ke2)
{
	struct pake_opaque_server_login_random rnd;
	int rc;

	randombytes_buf(&rnd, sizeof(rnd));
	rc = pake_opaque_server_login_start_det(st, keys, params, credential_id,
						record, ke1, &rnd, ke2);
	sodium_memzero(&rnd, sizeof(rnd));
	return rc;
}

int pake_opaque_server_login_finish(struct pake_opaque_server_login *st,
				    const struct pake_opaque_ke3 *ke3,
				    uint8_t session_key[PAKE_OPAQUE_KEY_BYTES])
{
	int rc = PAKE_OK;

	if (!st->armed)
		rc = PAKE_ERR_INVALID;
	else if (sodium_memcmp(ke3->bytes, st->expected_client_mac,
			       sizeof(st->expected_client_mac)) != 0)
		rc = PAKE_ERR_AUTH;
	else
		memcpy(session_key, st->session_key, PAKE_OPAQUE_KEY_BYTES);
	sodium_memzero(st, sizeof(*st));
	return rc;
}
