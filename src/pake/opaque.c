/*  anchord - pake/opaque.c: what both sides of OPAQUE (RFC 9807) compute:
 *  key derivations, the envelope, the credential-response mask, the 3DH
 *  key schedule, and the keys and fake records of the server.
 */
#include "internal.h"

#include <string.h>

#define OPAQUE_MAX_STRING 65535
#define MASK_PAD_BYTES (PAKE_ELEMENT_BYTES + ENVELOPE_BYTES)

static const char info_oprf_key[] = "OPAQUE-DeriveKeyPair";
static const char info_dh_key[] = "OPAQUE-DeriveDiffieHellmanKeyPair";

bool pake_opaque_params_ok(const struct pake_opaque_params *params)
{
	return params->context.len <= OPAQUE_MAX_STRING &&
	       params->client_identity.len <= OPAQUE_MAX_STRING &&
	       params->server_identity.len <= OPAQUE_MAX_STRING &&
	       (params->ksf == PAKE_KSF_ARGON2ID ||
		params->ksf == PAKE_KSF_IDENTITY);
}

/* For an element that is stored rather than multiplied at once.
 * crypto_core_ristretto255_is_valid_point() accepts the identity's encoding
 * (all zeros), which no public key may be, and in libsodium 1.0.18 also
 * ignores bit 255 (see pake_scalarmult()). */
bool pake_opaque_element_ok(const uint8_t element[PAKE_ELEMENT_BYTES])
{
	return !(element[PAKE_ELEMENT_BYTES - 1] & 0x80) &&
	       crypto_core_ristretto255_is_valid_point(element) &&
	       !sodium_is_zero(element, PAKE_ELEMENT_BYTES);
}

struct opaque_ids pake_opaque_ids(const struct pake_opaque_params *params,
				  const uint8_t *client_pk,
				  const uint8_t *server_pk)
{
	struct opaque_ids ids = {
		.client = params->client_identity,
		.server = params->server_identity,
	};

	if (ids.client.len == 0)
		ids.client = PAKE_STR(client_pk, PAKE_ELEMENT_BYTES);
	if (ids.server.len == 0)
		ids.server = PAKE_STR(server_pk, PAKE_ELEMENT_BYTES);
	return ids;
}

/* seed = Expand(oprf_seed, credential_identifier || "OprfKey", Nok);
 * (oprf_key, _) = DeriveKeyPair(seed, "OPAQUE-DeriveKeyPair") */
int pake_opaque_oprf_key(uint8_t key[PAKE_SCALAR_BYTES],
			 const struct pake_opaque_server_keys *keys,
			 struct pake_str credential_id)
{
	const struct pake_str info[] = { credential_id, PAKE_LIT("OprfKey") };
	struct pake_str prk = PAKE_STR(keys->oprf_seed, PAKE_OPAQUE_SEED_BYTES);
	uint8_t seed[PAKE_SEED_BYTES];
	int rc;

	(void)pake_hkdf_expand_v(seed, sizeof(seed), prk, info,
				 PAKE_ARRAY_SIZE(info));
	rc = pake_oprf_derive_key_pair(key, NULL, seed,
				       PAKE_LIT(info_oprf_key));
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

/* DeriveDiffieHellmanKeyPair(seed); @pk may be NULL when not needed. */
int pake_opaque_dh_key_pair(uint8_t sk[PAKE_SCALAR_BYTES],
			    uint8_t pk[PAKE_ELEMENT_BYTES],
			    const uint8_t seed[PAKE_SEED_BYTES])
{
	return pake_oprf_derive_key_pair(sk, pk, seed, PAKE_LIT(info_dh_key));
}

static int stretch_argon2id(uint8_t out[PAKE_HASH_BYTES],
			    const uint8_t in[PAKE_HASH_BYTES])
{
	static const uint8_t salt[crypto_pwhash_SALTBYTES];

	if (crypto_pwhash(out, PAKE_HASH_BYTES, (const char *)in,
			  PAKE_HASH_BYTES, salt, PAKE_OPAQUE_ARGON2ID_OPSLIMIT,
			  PAKE_OPAQUE_ARGON2ID_MEMLIMIT,
			  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return PAKE_ERR_RESOURCE;
	return PAKE_OK;
}

/* randomized_password = Extract("", oprf_output || Stretch(oprf_output)) */
int pake_opaque_randomized_password(uint8_t rpw[PAKE_HASH_BYTES],
				    const uint8_t oprf_output[PAKE_HASH_BYTES],
				    enum pake_ksf ksf)
{
	uint8_t ikm[2 * PAKE_HASH_BYTES];
	int rc = PAKE_OK;

	memcpy(ikm, oprf_output, PAKE_HASH_BYTES);
	if (ksf == PAKE_KSF_IDENTITY)
		memcpy(ikm + PAKE_HASH_BYTES, oprf_output, PAKE_HASH_BYTES);
	else
		rc = stretch_argon2id(ikm + PAKE_HASH_BYTES, oprf_output);
	if (rc == PAKE_OK)
		pake_hkdf_extract(rpw, PAKE_STR(NULL, 0),
				  PAKE_STR(ikm, sizeof(ikm)));
	sodium_memzero(ikm, sizeof(ikm));
	return rc;
}

void pake_opaque_masking_key(uint8_t masking_key[PAKE_HASH_BYTES],
			     const uint8_t rpw[PAKE_HASH_BYTES])
{
	(void)pake_hkdf_expand(masking_key, PAKE_HASH_BYTES,
			       PAKE_STR(rpw, PAKE_HASH_BYTES),
			       PAKE_LIT("MaskingKey"));
}

/* Expand(randomized_password, envelope_nonce || label, length) */
static void envelope_expand(uint8_t *out, size_t len,
			    const uint8_t rpw[PAKE_HASH_BYTES],
			    const uint8_t nonce[PAKE_NONCE_BYTES],
			    struct pake_str label)
{
	const struct pake_str info[] = {
		PAKE_STR(nonce, PAKE_NONCE_BYTES), label,
	};

	(void)pake_hkdf_expand_v(out, len, PAKE_STR(rpw, PAKE_HASH_BYTES),
				 info, PAKE_ARRAY_SIZE(info));
}

/* auth_key, export_key and the client's key pair of Store() and Recover().
 * The public key costs a scalar multiplication and is only needed when
 * the client identity is absent (or for the record). */
int pake_opaque_envelope_keys(struct opaque_envelope_keys *k,
			      const uint8_t rpw[PAKE_HASH_BYTES],
			      const uint8_t nonce[PAKE_NONCE_BYTES],
			      bool need_public_key)
{
	uint8_t seed[PAKE_SEED_BYTES];
	int rc;

	envelope_expand(k->auth_key, sizeof(k->auth_key), rpw, nonce,
			PAKE_LIT("AuthKey"));
	envelope_expand(k->export_key, sizeof(k->export_key), rpw, nonce,
			PAKE_LIT("ExportKey"));
	envelope_expand(seed, sizeof(seed), rpw, nonce, PAKE_LIT("PrivateKey"));
	rc = pake_opaque_dh_key_pair(k->client_private_key, need_public_key ?
				     k->client_public_key : NULL, seed);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

/* auth_tag = MAC(auth_key, envelope_nonce || cleartext_credentials), with
 * cleartext_credentials = server_public_key || u16 || server_identity ||
 * u16 || client_identity */
void pake_opaque_auth_tag(uint8_t tag[PAKE_HASH_BYTES],
			  const uint8_t auth_key[PAKE_HASH_BYTES],
			  const uint8_t nonce[PAKE_NONCE_BYTES],
			  const uint8_t server_pk[PAKE_ELEMENT_BYTES],
			  const struct opaque_ids *ids)
{
	uint8_t server_len[2], client_len[2];
	const struct pake_str msg[] = {
		PAKE_STR(nonce, PAKE_NONCE_BYTES),
		PAKE_STR(server_pk, PAKE_ELEMENT_BYTES),
		PAKE_STR(server_len, 2), ids->server,
		PAKE_STR(client_len, 2), ids->client,
	};

	pake_be16(server_len, ids->server.len);
	pake_be16(client_len, ids->client.len);
	pake_hmac(tag, PAKE_STR(auth_key, PAKE_HASH_BYTES), msg,
		  PAKE_ARRAY_SIZE(msg));
}

/* XOR 128 bytes with Expand(masking_key, masking_nonce ||
 * "CredentialResponsePad", 128): masks on the server, unmasks on the client. */
void pake_opaque_mask(uint8_t *inout,
		      const uint8_t masking_key[PAKE_HASH_BYTES],
		      const uint8_t masking_nonce[PAKE_NONCE_BYTES])
{
	const struct pake_str info[] = {
		PAKE_STR(masking_nonce, PAKE_NONCE_BYTES),
		PAKE_LIT("CredentialResponsePad"),
	};
	uint8_t pad[MASK_PAD_BYTES];
	size_t i;

	(void)pake_hkdf_expand_v(pad, sizeof(pad),
				 PAKE_STR(masking_key, PAKE_HASH_BYTES), info,
				 PAKE_ARRAY_SIZE(info));
	for (i = 0; i < sizeof(pad); i++)
		inout[i] ^= pad[i];
	sodium_memzero(pad, sizeof(pad));
}

/* preamble = "OPAQUEv1-" || u16 || context || u16 || client_identity ||
 * KE1 || u16 || server_identity || credential_response || server_nonce ||
 * server_public_keyshare, i.e. KE2 without its MAC. */
void pake_opaque_preamble(crypto_hash_sha512_state *h, struct pake_str context,
			  const struct opaque_ids *ids,
			  const struct pake_opaque_ke1 *ke1,
			  const struct pake_opaque_ke2 *ke2)
{
	static const char prefix[] = "OPAQUEv1-";
	uint8_t len[2];

	crypto_hash_sha512_init(h);
	crypto_hash_sha512_update(h, (const uint8_t *)prefix,
				  sizeof(prefix) - 1);
	pake_be16(len, context.len);
	crypto_hash_sha512_update(h, len, sizeof(len));
	crypto_hash_sha512_update(h, context.ptr, context.len);
	pake_be16(len, ids->client.len);
	crypto_hash_sha512_update(h, len, sizeof(len));
	crypto_hash_sha512_update(h, ids->client.ptr, ids->client.len);
	crypto_hash_sha512_update(h, ke1->bytes, sizeof(ke1->bytes));
	pake_be16(len, ids->server.len);
	crypto_hash_sha512_update(h, len, sizeof(len));
	crypto_hash_sha512_update(h, ids->server.ptr, ids->server.len);
	crypto_hash_sha512_update(h, ke2->bytes, KE2_MAC);
}

/* Expand-Label(secret, label, context, Nx) with the CustomLabel
 * u16(Nx) || u8(len) || "OPAQUE-" || label || u8(len) || context. */
static void expand_label(uint8_t out[PAKE_HASH_BYTES],
			 const uint8_t secret[PAKE_HASH_BYTES],
			 struct pake_str label, struct pake_str context)
{
	static const char prefix[] = "OPAQUE-";
	uint8_t head[3], context_len = (uint8_t)context.len;
	const struct pake_str info[] = {
		PAKE_STR(head, sizeof(head)), PAKE_LIT(prefix), label,
		PAKE_STR(&context_len, 1), context,
	};

	pake_be16(head, PAKE_HASH_BYTES);
	head[2] = (uint8_t)(sizeof(prefix) - 1 + label.len);
	(void)pake_hkdf_expand_v(out, PAKE_HASH_BYTES,
				 PAKE_STR(secret, PAKE_HASH_BYTES), info,
				 PAKE_ARRAY_SIZE(info));
}

/* DeriveKeys(ikm, preamble) of the 3DH key schedule. */
void pake_opaque_ake_keys(struct opaque_ake_keys *k, const uint8_t ikm[96],
			  const crypto_hash_sha512_state *preamble)
{
	crypto_hash_sha512_state h = *preamble;
	uint8_t prk[PAKE_HASH_BYTES], hs[PAKE_HASH_BYTES];
	uint8_t digest[PAKE_HASH_BYTES];
	struct pake_str transcript = PAKE_STR(digest, sizeof(digest));

	crypto_hash_sha512_final(&h, digest);
	pake_hkdf_extract(prk, PAKE_STR(NULL, 0), PAKE_STR(ikm, 96));
	expand_label(hs, prk, PAKE_LIT("HandshakeSecret"), transcript);
	expand_label(k->session_key, prk, PAKE_LIT("SessionKey"), transcript);
	expand_label(k->km2, hs, PAKE_LIT("ServerMAC"), PAKE_STR(NULL, 0));
	expand_label(k->km3, hs, PAKE_LIT("ClientMAC"), PAKE_STR(NULL, 0));
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(hs, sizeof(hs));
}

/* server_mac = MAC(Km2, Hash(preamble));
 * client_mac = MAC(Km3, Hash(preamble || server_mac)) */
void pake_opaque_macs(uint8_t server_mac[PAKE_HASH_BYTES],
		      uint8_t client_mac[PAKE_HASH_BYTES],
		      const struct opaque_ake_keys *k,
		      const crypto_hash_sha512_state *preamble)
{
	crypto_hash_sha512_state h = *preamble;
	uint8_t digest[PAKE_HASH_BYTES];
	struct pake_str transcript = PAKE_STR(digest, sizeof(digest));
	struct pake_str km2 = PAKE_STR(k->km2, PAKE_HASH_BYTES);
	struct pake_str km3 = PAKE_STR(k->km3, PAKE_HASH_BYTES);

	crypto_hash_sha512_final(&h, digest);
	pake_hmac(server_mac, km2, &transcript, 1);
	h = *preamble;
	crypto_hash_sha512_update(&h, server_mac, PAKE_HASH_BYTES);
	crypto_hash_sha512_final(&h, digest);
	pake_hmac(client_mac, km3, &transcript, 1);
}

void pake_opaque_server_keygen(struct pake_opaque_server_keys *keys)
{
	crypto_core_ristretto255_scalar_random(keys->private_key);
	(void)crypto_scalarmult_ristretto255_base(keys->public_key,
						  keys->private_key);
	randombytes_buf(keys->oprf_seed, sizeof(keys->oprf_seed));
}

/* A scalar is canonical when reducing it changes nothing. */
static bool scalar_canonical_nonzero(const uint8_t s[PAKE_SCALAR_BYTES])
{
	uint8_t wide[2 * PAKE_SCALAR_BYTES] = { 0 }, reduced[PAKE_SCALAR_BYTES];
	bool ok;

	memcpy(wide, s, PAKE_SCALAR_BYTES);
	crypto_core_ristretto255_scalar_reduce(reduced, wide);
	ok = sodium_memcmp(reduced, s, PAKE_SCALAR_BYTES) == 0 &&
	     !sodium_is_zero(s, PAKE_SCALAR_BYTES);
	sodium_memzero(wide, sizeof(wide));
	sodium_memzero(reduced, sizeof(reduced));
	return ok;
}

int pake_opaque_server_keys_check(const struct pake_opaque_server_keys *keys)
{
	uint8_t pk[PAKE_ELEMENT_BYTES];

	if (!scalar_canonical_nonzero(keys->private_key) ||
	    crypto_scalarmult_ristretto255_base(pk, keys->private_key) != 0 ||
	    sodium_memcmp(pk, keys->public_key, sizeof(pk)) != 0)
		return PAKE_ERR_INVALID;
	return PAKE_OK;
}

int pake_opaque_record_check(
	const struct pake_opaque_registration_record *record)
{
	if (!pake_opaque_element_ok(record->bytes + REC_CLIENT_PK))
		return PAKE_ERR_MALFORMED;
	return PAKE_OK;
}

/*
 * The fake record of an unknown user. Its secrets come from a key of their
 * own, prk = Extract(label, oprf_seed), so that no output can coincide with
 * an OPRF key seed (those are expanded from oprf_seed itself). The client
 * public key is a hash-to-group element: a uniformly random element like a
 * real public key, whose private key nobody knows.
 */
void pake_opaque_fake_record(const struct pake_opaque_server_keys *keys,
			     struct pake_str credential_id,
			     struct pake_opaque_registration_record *record)
{
	uint8_t prk[PAKE_HASH_BYTES], wide[PAKE_HASH_BYTES];
	const struct pake_str mask_info[] = {
		credential_id, PAKE_LIT("FakeMaskingKey"),
	};
	const struct pake_str pk_info[] = {
		credential_id, PAKE_LIT("FakeClientPublicKey"),
	};

	pake_hkdf_extract(prk, PAKE_LIT("pake-opaque-fake-record-v1"),
			  PAKE_STR(keys->oprf_seed, PAKE_OPAQUE_SEED_BYTES));
	(void)pake_hkdf_expand_v(record->bytes + REC_MASKING_KEY,
				 PAKE_HASH_BYTES, PAKE_STR(prk, sizeof(prk)),
				 mask_info, PAKE_ARRAY_SIZE(mask_info));
	(void)pake_hkdf_expand_v(wide, sizeof(wide), PAKE_STR(prk, sizeof(prk)),
				 pk_info, PAKE_ARRAY_SIZE(pk_info));
	crypto_core_ristretto255_from_hash(record->bytes + REC_CLIENT_PK, wide);
	memset(record->bytes + REC_ENVELOPE, 0, ENVELOPE_BYTES);
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(wide, sizeof(wide));
}
