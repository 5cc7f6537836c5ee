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

/** HMAC-SHA-512 of the concatenation of @msg[0..n) under a key of any length. */
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
void pake_hash_to_scalar_v(uint8_t scalar[PAKE_SCALAR_BYTES],
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
