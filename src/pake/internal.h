/*  anchord - pake/internal.h: what the files of src/pake/ share.
 *
 *  Inputs of hashes and MACs are passed as arrays of byte strings
 *  (struct pake_str) so that concatenations never need a buffer.
 */
#pragma once

#include "pake.h"

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAKE_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal without its terminating NUL. */
#define PAKE_LIT(s) PAKE_STR(s, sizeof(s) - 1)

/* Layout of the OPAQUE messages (RFC 9807 §4-6). */
enum {
	REQ_BLINDED = 0,
	RESP_EVALUATED = 0,
	RESP_SERVER_PK = 32,
	REC_CLIENT_PK = 0,
	REC_MASKING_KEY = 32,
	REC_ENVELOPE = 96,		/* nonce[32] || auth_tag[64] */
	REC_ENVELOPE_TAG = 128,
	ENVELOPE_BYTES = 96,
	KE1_BLINDED = 0,
	KE1_NONCE = 32,
	KE1_KEYSHARE = 64,
	KE2_EVALUATED = 0,
	KE2_MASKING_NONCE = 32,
	KE2_MASKED = 64,		/* masked server_pk || envelope */
	KE2_MASKED_BYTES = 128,
	KE2_NONCE = 192,
	KE2_KEYSHARE = 224,
	KE2_MAC = 256,			/* all before it enters the preamble */
};

/**
 * pake_scalarmult() - crypto_scalarmult_ristretto255() that also refuses
 * encodings with bit 255 set. libsodium 1.0.18's decoder ignores that bit
 * (later releases reject it), so without this check every element would
 * have a second, non-canonical encoding (RFC 9496 §4.3.1). Returns 0, or
 * -1 for a bad encoding or an identity result. All scalar multiplications
 * of the library go through here.
 */
static inline int pake_scalarmult(uint8_t out[PAKE_ELEMENT_BYTES],
				  const uint8_t scalar[PAKE_SCALAR_BYTES],
				  const uint8_t element[PAKE_ELEMENT_BYTES])
{
	if (element[PAKE_ELEMENT_BYTES - 1] & 0x80)
		return -1;
	return crypto_scalarmult_ristretto255(out, scalar, element);
}

/* ------------------------------------------------------------------ kdf.c */

/** HMAC-SHA-512 of @msg[0..n) concatenated, under a key of any length. */
void pake_hmac(uint8_t out[PAKE_HASH_BYTES], struct pake_str key,
	       const struct pake_str *msg, size_t n);

/** HKDF-Expand whose info is the concatenation of @info[0..n). */
int pake_hkdf_expand_v(uint8_t *out, size_t out_len, struct pake_str prk,
		       const struct pake_str *info, size_t n);

/** Write @v as a big-endian 16-bit number (I2OSP(v, 2)). */
static inline void pake_be16(uint8_t out[2], size_t v)
{
	out[0] = (uint8_t)(v >> 8);
	out[1] = (uint8_t)v;
}

/* ------------------------------------------------------------------ h2c.c */

/** expand_message_xmd(SHA-512) whose message is @msg[0..n) concatenated. */
int pake_xmd_v(uint8_t *out, size_t out_len, const struct pake_str *msg,
	       size_t n, struct pake_str dst);

/** HashToScalar whose message is @msg[0..n) concatenated. */
int pake_hash_to_scalar_v(uint8_t scalar[PAKE_SCALAR_BYTES],
			  const struct pake_str *msg, size_t n,
			  struct pake_str dst);

/* ------------------------------------------------------------------ oprf.c */

/** The input-dependent start of Finalize(): u16(len input) || input. */
int pake_oprf_finalize_begin(crypto_hash_sha512_state *h,
			     struct pake_str input);

/** The rest of Finalize() once the evaluated element has arrived. */
int pake_oprf_finalize_end(crypto_hash_sha512_state *h,
			   const uint8_t blind[PAKE_SCALAR_BYTES],
			   const uint8_t evaluated[PAKE_ELEMENT_BYTES],
			   uint8_t output[PAKE_HASH_BYTES]);

/* ------------------------------------------------------------------ opaque */

/** The identities a transcript uses, absent ones replaced by public keys. */
struct opaque_ids {
	struct pake_str client;
	struct pake_str server;
};

/** The secrets a randomized password and an envelope nonce give. */
struct opaque_envelope_keys {
	uint8_t auth_key[PAKE_HASH_BYTES];
	uint8_t export_key[PAKE_OPAQUE_KEY_BYTES];
	uint8_t client_private_key[PAKE_SCALAR_BYTES];
	uint8_t client_public_key[PAKE_ELEMENT_BYTES];
};

/** The keys of the 3DH key schedule. */
struct opaque_ake_keys {
	uint8_t km2[PAKE_HASH_BYTES];
	uint8_t km3[PAKE_HASH_BYTES];
	uint8_t session_key[PAKE_OPAQUE_KEY_BYTES];
};

/** Whether the lengths and the KSF of @params are usable. */
bool pake_opaque_params_ok(const struct pake_opaque_params *params);
/** Whether a stored public key decodes and is not the identity. */
bool pake_opaque_element_ok(const uint8_t element[PAKE_ELEMENT_BYTES]);
/** The identities, with absent ones replaced by the public keys. */
struct opaque_ids pake_opaque_ids(const struct pake_opaque_params *params,
				  const uint8_t *client_pk,
				  const uint8_t *server_pk);
/** The OPRF key of one credential, from the oprf_seed. */
int pake_opaque_oprf_key(uint8_t key[PAKE_SCALAR_BYTES],
			 const struct pake_opaque_server_keys *keys,
			 struct pake_str credential_id);
/** DeriveDiffieHellmanKeyPair(seed); @pk may be NULL. */
int pake_opaque_dh_key_pair(uint8_t sk[PAKE_SCALAR_BYTES],
			    uint8_t pk[PAKE_ELEMENT_BYTES],
			    const uint8_t seed[PAKE_SEED_BYTES]);
/** Extract("", oprf_output || Stretch(oprf_output)) with the chosen KSF. */
int pake_opaque_randomized_password(uint8_t rpw[PAKE_HASH_BYTES],
				    const uint8_t oprf_output[PAKE_HASH_BYTES],
				    enum pake_ksf ksf);
/** Expand(randomized_password, "MaskingKey", Nh) */
void pake_opaque_masking_key(uint8_t masking_key[PAKE_HASH_BYTES],
			     const uint8_t rpw[PAKE_HASH_BYTES]);
/** The keys of Store()/Recover(); the public key only if asked for. */
int pake_opaque_envelope_keys(struct opaque_envelope_keys *k,
			      const uint8_t rpw[PAKE_HASH_BYTES],
			      const uint8_t nonce[PAKE_NONCE_BYTES],
			      bool need_public_key);
/** The envelope's MAC over the nonce and the cleartext credentials. */
void pake_opaque_auth_tag(uint8_t tag[PAKE_HASH_BYTES],
			  const uint8_t auth_key[PAKE_HASH_BYTES],
			  const uint8_t nonce[PAKE_NONCE_BYTES],
			  const uint8_t server_pk[PAKE_ELEMENT_BYTES],
			  const struct opaque_ids *ids);
/** XOR 128 bytes with the credential response pad (masks and unmasks). */
void pake_opaque_mask(uint8_t *inout,
		      const uint8_t masking_key[PAKE_HASH_BYTES],
		      const uint8_t masking_nonce[PAKE_NONCE_BYTES]);
/** Start SHA-512 over the 3DH preamble (KE2 up to its MAC). */
void pake_opaque_preamble(crypto_hash_sha512_state *h, struct pake_str context,
			  const struct opaque_ids *ids,
			  const struct pake_opaque_ke1 *ke1,
			  const struct pake_opaque_ke2 *ke2);
/** DeriveKeys(ikm = dh1 || dh2 || dh3, preamble): Km2, Km3, session key. */
void pake_opaque_ake_keys(struct opaque_ake_keys *k, const uint8_t ikm[96],
			  const crypto_hash_sha512_state *preamble);
/** server_mac and the client_mac that must answer it. */
void pake_opaque_macs(uint8_t server_mac[PAKE_HASH_BYTES],
		      uint8_t client_mac[PAKE_HASH_BYTES],
		      const struct opaque_ake_keys *k,
		      const crypto_hash_sha512_state *preamble);

/* ------------------------------------------------------------------ cpace */

/**
 * struct pake_sink - where a CPace string goes: into a buffer (as far as
 * cap allows), or into a SHA-512 (@hash) or HMAC-SHA-512 (@mac)
 * computation when one is set. @len counts every byte put, so the string
 * utilities and the protocol share one encoder.
 */
struct pake_sink {
	uint8_t *buf;
	size_t cap;
	size_t len;
	crypto_hash_sha512_state *hash;
	crypto_auth_hmacsha512_state *mac;
};

/** Put @x as it is. */
void pake_sink_put(struct pake_sink *s, struct pake_str x);
/** Put prepend_len(@x). */
void pake_sink_lv(struct pake_sink *s, struct pake_str x);
/** Put generator_string(DSI, PRS, CI, sid, 128). */
void pake_sink_generator_string(struct pake_sink *s,
				const struct pake_cpace_inputs *in);
/** Put transcript_ir, or transcript_oc when @ordered. */
void pake_sink_transcript(struct pake_sink *s, bool ordered,
			  struct pake_str ya, struct pake_str ada,
			  struct pake_str yb, struct pake_str adb);

/** The DSI of G_Ristretto255. */
#define PAKE_CPACE_DSI "CPaceRistretto255"
