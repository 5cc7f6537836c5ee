/*  anchord - pake/pake.h: the one interface of the PAKE library.
 *
 *  OPAQUE (RFC 9807, ristretto255-SHA512, 3DH), its OPRF (RFC 9497 mode 0,
 *  ristretto255-SHA512) and CPace (draft-irtf-cfrg-cpace-21,
 *  ristretto255/SHA-512), with the primitives they are built from:
 *  HKDF-SHA-512, expand_message_xmd (RFC 9380) and hash-to-ristretto255.
 *
 *  The library is pure: no I/O, no globals, no heap (except what
 *  crypto_pwhash takes for the Argon2id KSF), nothing underneath but libc
 *  and libsodium. The caller runs sodium_init() first.
 *
 *  Conventions
 *  - Every function that can fail returns an enum pake_status: 0 is success,
 *    PAKE_ERR_MALFORMED means a received message does not decode (wrong
 *    length, bad encoding, an identity element), PAKE_ERR_AUTH means the
 *    peer failed to prove knowledge of the password or code (or a message
 *    was altered in a way only a MAC can notice), PAKE_ERR_INVALID means an
 *    argument of the caller's own is unusable (a length limit, a bad key or
 *    record, a state used out of order).
 *  - Messages are fixed-size structs of bytes; fill one from the wire with
 *    its *_from_bytes() function, which checks the length.
 *  - States hold secrets. The final call on a state wipes it, whatever its
 *    result; a state abandoned earlier should be wiped with sodium_memzero().
 *  - Functions ending in _det take the randomness as an argument. They exist
 *    to reproduce test vectors; everything else must use the plain versions.
 */
#pragma once

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ common */

enum pake_status {
	PAKE_OK = 0,
	PAKE_ERR_MALFORMED = -1,	/* a received message does not decode */
	PAKE_ERR_AUTH = -2,		/* authentication failed */
	PAKE_ERR_INVALID = -3,		/* the caller's own input is unusable */
	PAKE_ERR_RESOURCE = -4,		/* the KSF could not get its memory */
};

/** A read-only byte string; ptr may be NULL when len is 0. */
struct pake_str {
	const uint8_t *ptr;
	size_t len;
};

/** Build a struct pake_str from a pointer and a length. */
#define PAKE_STR(p, n) ((struct pake_str){ (const uint8_t *)(p), (n) })

#define PAKE_SCALAR_BYTES 32	/* Nsk, Nok: a ristretto255 scalar */
#define PAKE_ELEMENT_BYTES 32	/* Npk, Noe: a ristretto255 encoding */
#define PAKE_HASH_BYTES 64	/* Nh, Nx, Nm: SHA-512 */
#define PAKE_NONCE_BYTES 32	/* Nn */
#define PAKE_SEED_BYTES 32	/* Nseed */

/** A short English description of a pake_status value. */
const char *pake_strerror(int status);

/* ------------------------------------------------------------------ primitives */

/**
 * pake_hkdf_extract() - HKDF-Extract with HMAC-SHA-512 (RFC 5869).
 * An empty salt acts as 64 zero bytes, as the RFC says.
 */
void pake_hkdf_extract(uint8_t prk[PAKE_HASH_BYTES], struct pake_str salt,
		       struct pake_str ikm);

/**
 * pake_hkdf_expand() - HKDF-Expand with HMAC-SHA-512 (RFC 5869).
 * Returns PAKE_ERR_INVALID when out_len exceeds 255 * 64.
 */
int pake_hkdf_expand(uint8_t *out, size_t out_len, struct pake_str prk,
		     struct pake_str info);

/**
 * pake_expand_message_xmd() - expand_message_xmd with SHA-512 (RFC 9380
 * §5.3.1). A DST longer than 255 bytes is first hashed as §5.3.3 says.
 * Returns PAKE_ERR_INVALID when out_len is 0 or above 255 * 64.
 */
int pake_expand_message_xmd(uint8_t *out, size_t out_len, struct pake_str msg,
			    struct pake_str dst);

/** pake_hash_to_group() - ristretto255 element from 64 xmd bytes (RFC 9497). */
void pake_hash_to_group(uint8_t element[PAKE_ELEMENT_BYTES],
			struct pake_str msg, struct pake_str dst);

/** pake_hash_to_scalar() - 64 xmd bytes reduced modulo the group order. */
void pake_hash_to_scalar(uint8_t scalar[PAKE_SCALAR_BYTES],
			 struct pake_str msg, struct pake_str dst);

/* ------------------------------------------------------------------ OPRF */

/*
 * RFC 9497, mode 0x00 (OPRF), suite ristretto255-SHA512. Elements and
 * scalars are their 32-byte encodings.
 */

/**
 * pake_oprf_derive_key_pair() - DeriveKeyPair(seed, info) (RFC 9497 §3.2.1).
 * @pk may be NULL when only the private key is wanted (it saves a scalar
 * multiplication). Returns PAKE_ERR_INVALID if info is longer than 65535
 * bytes or (with negligible probability) no counter gives a key.
 */
int pake_oprf_derive_key_pair(uint8_t sk[PAKE_SCALAR_BYTES],
			      uint8_t pk[PAKE_ELEMENT_BYTES],
			      const uint8_t seed[PAKE_SEED_BYTES],
			      struct pake_str info);

/**
 * pake_oprf_blind() - Blind(input): a fresh random blind and the blinded
 * element. Returns PAKE_ERR_INVALID if the input maps to the identity.
 */
int pake_oprf_blind(uint8_t blind[PAKE_SCALAR_BYTES],
		    uint8_t blinded[PAKE_ELEMENT_BYTES], struct pake_str input);

/** pake_oprf_blind_det() - Blind(input) with a given non-zero blind. */
int pake_oprf_blind_det(const uint8_t blind[PAKE_SCALAR_BYTES],
			uint8_t blinded[PAKE_ELEMENT_BYTES],
			struct pake_str input);

/**
 * pake_oprf_blind_evaluate() - BlindEvaluate(sk, blinded) on the server.
 * Returns PAKE_ERR_MALFORMED if @blinded does not decode or is the identity.
 */
int pake_oprf_blind_evaluate(uint8_t evaluated[PAKE_ELEMENT_BYTES],
			     const uint8_t sk[PAKE_SCALAR_BYTES],
			     const uint8_t blinded[PAKE_ELEMENT_BYTES]);

/**
 * pake_oprf_finalize() - Finalize(input, blind, evaluated): the 64-byte
 * OPRF output. Returns PAKE_ERR_MALFORMED if @evaluated does not decode or
 * is the identity, PAKE_ERR_INVALID if input exceeds 65535 bytes.
 */
int pake_oprf_finalize(uint8_t output[PAKE_HASH_BYTES], struct pake_str input,
		       const uint8_t blind[PAKE_SCALAR_BYTES],
		       const uint8_t evaluated[PAKE_ELEMENT_BYTES]);
