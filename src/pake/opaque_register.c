/*  anchord - pake/opaque_register.c: OPAQUE registration (RFC 9807 §5). */
#include "internal.h"

#include <string.h>

int pake_opaque_client_register_start_det(
	struct pake_opaque_client_registration *st, struct pake_str password,
	const uint8_t blind[PAKE_SCALAR_BYTES],
	struct pake_opaque_registration_request *request)
{
	int rc;

	sodium_memzero(st, sizeof(*st));
	rc = pake_oprf_finalize_begin(&st->finalize, password);
	if (rc == PAKE_OK)
		rc = pake_oprf_blind_det(blind, request->bytes + REQ_BLINDED,
					 password);
	if (rc != PAKE_OK) {
		sodium_memzero(st, sizeof(*st));
		return rc;
	}
	memcpy(st->blind, blind, sizeof(st->blind));
	st->armed = 1;
	return PAKE_OK;
}

int pake_opaque_client_register_start(
	struct pake_opaque_client_registration *st, struct pake_str password,
	struct pake_opaque_registration_request *request)
{
	uint8_t blind[PAKE_SCALAR_BYTES];
	int rc;

	crypto_core_ristretto255_scalar_random(blind);
	rc = pake_opaque_client_register_start_det(st, password, blind,
						   request);
	sodium_memzero(blind, sizeof(blind));
	return rc;
}

int pake_opaque_server_register(
	const struct pake_opaque_server_keys *keys,
	struct pake_str credential_id,
	const struct pake_opaque_registration_request *request,
	struct pake_opaque_registration_response *response)
{
	uint8_t oprf_key[PAKE_SCALAR_BYTES];
	int rc;

	rc = pake_opaque_oprf_key(oprf_key, keys, credential_id);
	if (rc == PAKE_OK)
		rc = pake_oprf_blind_evaluate(response->bytes + RESP_EVALUATED,
					      oprf_key,
					      request->bytes + REQ_BLINDED);
	sodium_memzero(oprf_key, sizeof(oprf_key));
	if (rc != PAKE_OK)
		return rc;
	memcpy(response->bytes + RESP_SERVER_PK, keys->public_key,
	       PAKE_ELEMENT_BYTES);
	return PAKE_OK;
}

/* Store(): the envelope and the record, from the randomized password. */
static int store(const uint8_t rpw[PAKE_HASH_BYTES],
		 const uint8_t server_pk[PAKE_ELEMENT_BYTES],
		 const struct pake_opaque_params *params,
		 const uint8_t nonce[PAKE_NONCE_BYTES],
		 struct pake_opaque_registration_record *record,
		 uint8_t export_key[PAKE_OPAQUE_KEY_BYTES])
{
	struct opaque_envelope_keys k;
	struct opaque_ids ids;
	uint8_t *out = record->bytes;
	int rc;

	rc = pake_opaque_envelope_keys(&k, rpw, nonce, true);
	if (rc == PAKE_OK) {
		ids = pake_opaque_ids(params, k.client_public_key, server_pk);
		memcpy(out + REC_CLIENT_PK, k.client_public_key,
		       PAKE_ELEMENT_BYTES);
		pake_opaque_masking_key(out + REC_MASKING_KEY, rpw);
		memcpy(out + REC_ENVELOPE, nonce, PAKE_NONCE_BYTES);
		pake_opaque_auth_tag(out + REC_ENVELOPE_TAG, k.auth_key, nonce,
				     server_pk, &ids);
		memcpy(export_key, k.export_key, PAKE_OPAQUE_KEY_BYTES);
	}
	sodium_memzero(&k, sizeof(k));
	return rc;
}

int pake_opaque_client_register_finish_det(
	struct pake_opaque_client_registration *st,
	const struct pake_opaque_params *params,
	const struct pake_opaque_registration_response *response,
	const uint8_t envelope_nonce[PAKE_NONCE_BYTES],
	struct pake_opaque_registration_record *record,
	uint8_t export_key[PAKE_OPAQUE_KEY_BYTES])
{
	const uint8_t *server_pk = response->bytes + RESP_SERVER_PK;
	uint8_t output[PAKE_HASH_BYTES], rpw[PAKE_HASH_BYTES];
	int rc = PAKE_OK;

	if (!st->armed || !pake_opaque_params_ok(params))
		rc = PAKE_ERR_INVALID;
	else if (!pake_opaque_element_ok(server_pk))
		rc = PAKE_ERR_MALFORMED;
	if (rc == PAKE_OK)
		rc = pake_oprf_finalize_end(&st->finalize, st->blind,
					    response->bytes + RESP_EVALUATED,
					    output);
	if (rc == PAKE_OK)
		rc = pake_opaque_randomized_password(rpw, output, params->ksf);
	if (rc == PAKE_OK)
		rc = store(rpw, server_pk, params, envelope_nonce, record,
			   export_key);
	sodium_memzero(output, sizeof(output));
	sodium_memzero(rpw, sizeof(rpw));
	sodium_memzero(st, sizeof(*st));
	return rc;
}

int pake_opaque_client_register_finish(
	struct pake_opaque_client_registration *st,
	const struct pake_opaque_params *params,
	const struct pake_opaque_registration_response *response,
	struct pake_opaque_registration_record *record,
	uint8_t export_key[PAKE_OPAQUE_KEY_BYTES])
{
	uint8_t nonce[PAKE_NONCE_BYTES];

	randombytes_buf(nonce, sizeof(nonce));
	return pake_opaque_client_register_finish_det(st, params, response,
						      nonce, record,
						      export_key);
}
