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
 *    record, a state used out of order), PAKE_ERR_RESOURCE means Argon2id
 *    could not get its memory.
 *  - Every received element is validated by the scalar multiplication that
 *    uses it: a non-canonical encoding (bit 255 included, which libsodium
 *    1.0.18 alone would ignore) or an identity result is refused.
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

/* ------------------------------------------------------------------ hashing */

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
 * Returns PAKE_ERR_INVALID for an empty DST, or when out_len is 0 or
 * above 255 * 64.
 */
int pake_expand_message_xmd(uint8_t *out, size_t out_len, struct pake_str msg,
			    struct pake_str dst);

/**
 * pake_hash_to_group() - HashToGroup of RFC 9497 §4.1: the ristretto255
 * element derived from 64 bytes of expand_message_xmd. Returns
 * PAKE_ERR_INVALID for an empty DST.
 */
int pake_hash_to_group(uint8_t element[PAKE_ELEMENT_BYTES],
		       struct pake_str msg, struct pake_str dst);

/**
 * pake_hash_to_scalar() - HashToScalar of RFC 9497 §4.1: 64 bytes of
 * expand_message_xmd reduced modulo the group order. Returns
 * PAKE_ERR_INVALID for an empty DST.
 */
int pake_hash_to_scalar(uint8_t scalar[PAKE_SCALAR_BYTES],
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

/* ------------------------------------------------------------------ OPAQUE */

/*
 * RFC 9807, OPAQUE-3DH with ristretto255-SHA512 (Nn = Nseed = 32, Nh = Nm =
 * Nx = 64, Npk = Nsk = Noe = Nok = 32).
 *
 * Registration:  client_register_start -> request
 *                server_register(request) -> response
 *                client_register_finish(response) -> record, export_key
 *                server: record_check(record), then store it
 * Login:         client_login_start -> KE1
 *                server_login_start(record or NULL, KE1) -> KE2
 *                client_login_finish(KE2) -> KE3, session_key, export_key
 *                server_login_finish(KE3) -> session_key
 */

#define PAKE_OPAQUE_SEED_BYTES 64	/* oprf_seed */
#define PAKE_OPAQUE_REQUEST_BYTES 32
#define PAKE_OPAQUE_RESPONSE_BYTES 64
#define PAKE_OPAQUE_RECORD_BYTES 192
#define PAKE_OPAQUE_KE1_BYTES 96
#define PAKE_OPAQUE_KE2_BYTES 320
#define PAKE_OPAQUE_KE3_BYTES 64
#define PAKE_OPAQUE_KEY_BYTES 64	/* session_key, export_key */

/* The Argon2id KSF of this library (ENROLLMENT.md): crypto_pwhash,
 * 64-byte output, salt of 16 zero bytes, p = 1 (fixed by libsodium). */
#define PAKE_OPAQUE_ARGON2ID_OPSLIMIT 3ULL
#define PAKE_OPAQUE_ARGON2ID_MEMLIMIT 67108864UL	/* 64 MiB */

/** blinded_message */
struct pake_opaque_registration_request {
	uint8_t bytes[PAKE_OPAQUE_REQUEST_BYTES];
};

/** evaluated_message || server_public_key */
struct pake_opaque_registration_response {
	uint8_t bytes[PAKE_OPAQUE_RESPONSE_BYTES];
};

/** client_public_key || masking_key || envelope_nonce || auth_tag */
struct pake_opaque_registration_record {
	uint8_t bytes[PAKE_OPAQUE_RECORD_BYTES];
};

/** blinded_message || client_nonce || client_public_keyshare */
struct pake_opaque_ke1 {
	uint8_t bytes[PAKE_OPAQUE_KE1_BYTES];
};

/** evaluated_message || masking_nonce || masked_response[128] ||
 *  server_nonce || server_public_keyshare || server_mac */
struct pake_opaque_ke2 {
	uint8_t bytes[PAKE_OPAQUE_KE2_BYTES];
};

/** client_mac */
struct pake_opaque_ke3 {
	uint8_t bytes[PAKE_OPAQUE_KE3_BYTES];
};

/** Copy a received message, refusing any other length (PAKE_ERR_MALFORMED). */
int pake_opaque_registration_request_from_bytes(
	struct pake_opaque_registration_request *msg, const uint8_t *buf,
	size_t len);
int pake_opaque_registration_response_from_bytes(
	struct pake_opaque_registration_response *msg, const uint8_t *buf,
	size_t len);
int pake_opaque_registration_record_from_bytes(
	struct pake_opaque_registration_record *msg, const uint8_t *buf,
	size_t len);
int pake_opaque_ke1_from_bytes(struct pake_opaque_ke1 *msg, const uint8_t *buf,
			       size_t len);
int pake_opaque_ke2_from_bytes(struct pake_opaque_ke2 *msg, const uint8_t *buf,
			       size_t len);
int pake_opaque_ke3_from_bytes(struct pake_opaque_ke3 *msg, const uint8_t *buf,
			       size_t len);

/** The key-stretching function the client applies to the OPRF output. */
enum pake_ksf {
	PAKE_KSF_ARGON2ID = 0,	/* the parameters above; the default */
	PAKE_KSF_IDENTITY,	/* Stretch(x) = x: test vectors only */
};

/**
 * struct pake_opaque_params - what both sides of one deployment agree on.
 * @context:         the RFC's Context; enters the login transcript only.
 * @client_identity: empty means absent: the client's public key stands in.
 * @server_identity: empty means absent: the server's public key stands in.
 * @ksf:             the client's key-stretching function (the server
 *                   ignores it).
 * Each string is at most 65535 bytes (PAKE_ERR_INVALID otherwise).
 */
struct pake_opaque_params {
	struct pake_str context;
	struct pake_str client_identity;
	struct pake_str server_identity;
	enum pake_ksf ksf;
};

/** The server's long-term secrets, generated once (see keygen). */
struct pake_opaque_server_keys {
	uint8_t private_key[PAKE_SCALAR_BYTES];
	uint8_t public_key[PAKE_ELEMENT_BYTES];
	uint8_t oprf_seed[PAKE_OPAQUE_SEED_BYTES];
};

/** pake_opaque_server_keygen() - a fresh AKE key pair and oprf_seed. */
void pake_opaque_server_keygen(struct pake_opaque_server_keys *keys);

/**
 * pake_opaque_server_keys_check() - check keys loaded from storage: the
 * private key is a canonical non-zero scalar and the public key matches it.
 * Returns PAKE_ERR_INVALID otherwise.
 */
int pake_opaque_server_keys_check(const struct pake_opaque_server_keys *keys);

/** Client state between register_start and register_finish. */
struct pake_opaque_client_registration {
	crypto_hash_sha512_state finalize;	/* Finalize(): the password */
	uint8_t blind[PAKE_SCALAR_BYTES];
	uint8_t armed;
};

/**
 * pake_opaque_client_register_start() - CreateRegistrationRequest.
 * The password is absorbed into @st and need not be kept. Returns
 * PAKE_ERR_INVALID for a password over 65535 bytes.
 */
int pake_opaque_client_register_start(
	struct pake_opaque_client_registration *st, struct pake_str password,
	struct pake_opaque_registration_request *request);

/** As pake_opaque_client_register_start() with a given blind. */
int pake_opaque_client_register_start_det(
	struct pake_opaque_client_registration *st, struct pake_str password,
	const uint8_t blind[PAKE_SCALAR_BYTES],
	struct pake_opaque_registration_request *request);

/**
 * pake_opaque_server_register() - CreateRegistrationResponse for the user
 * @credential_id. Returns PAKE_ERR_MALFORMED for a bad request.
 */
int pake_opaque_server_register(
	const struct pake_opaque_server_keys *keys,
	struct pake_str credential_id,
	const struct pake_opaque_registration_request *request,
	struct pake_opaque_registration_response *response);

/**
 * pake_opaque_client_register_finish() - FinalizeRegistrationRequest: the
 * record to upload and the export key. Uses @params' identities and KSF.
 * Returns PAKE_ERR_MALFORMED for a bad response, PAKE_ERR_RESOURCE if the
 * KSF fails. Wipes @st.
 */
int pake_opaque_client_register_finish(
	struct pake_opaque_client_registration *st,
	const struct pake_opaque_params *params,
	const struct pake_opaque_registration_response *response,
	struct pake_opaque_registration_record *record,
	uint8_t export_key[PAKE_OPAQUE_KEY_BYTES]);

/** As pake_opaque_client_register_finish() with a given envelope nonce. */
int pake_opaque_client_register_finish_det(
	struct pake_opaque_client_registration *st,
	const struct pake_opaque_params *params,
	const struct pake_opaque_registration_response *response,
	const uint8_t envelope_nonce[PAKE_NONCE_BYTES],
	struct pake_opaque_registration_record *record,
	uint8_t export_key[PAKE_OPAQUE_KEY_BYTES]);

/**
 * pake_opaque_record_check() - the server's check of an uploaded record:
 * its client public key must be a valid non-identity element. Returns
 * PAKE_ERR_MALFORMED otherwise.
 */
int pake_opaque_record_check(
	const struct pake_opaque_registration_record *record);

/**
 * pake_opaque_fake_record() - the record that stands in for an unknown
 * user (RFC 9807 §10.9), derived from the oprf_seed and @credential_id so
 * that one unknown user always gets the same answer: a client public key
 * nobody knows the private key of (hash-to-group), a masking key, and an
 * envelope of zeros. server_login_start() uses it when given no record;
 * it is public so that a caller may store it instead.
 */
void pake_opaque_fake_record(const struct pake_opaque_server_keys *keys,
			     struct pake_str credential_id,
			     struct pake_opaque_registration_record *record);

/** Client state between login_start and login_finish. */
struct pake_opaque_client_login {
	crypto_hash_sha512_state finalize;	/* Finalize(): the password */
	uint8_t blind[PAKE_SCALAR_BYTES];
	uint8_t keyshare_private[PAKE_SCALAR_BYTES];
	struct pake_opaque_ke1 ke1;
	uint8_t armed;
};

/** The client's randomness for one login (for the _det variant). */
struct pake_opaque_client_login_random {
	uint8_t blind[PAKE_SCALAR_BYTES];
	uint8_t nonce[PAKE_NONCE_BYTES];
	uint8_t keyshare_seed[PAKE_SEED_BYTES];
};

/**
 * pake_opaque_client_login_start() - GenerateKE1. The password is absorbed
 * into @st. Returns PAKE_ERR_INVALID for a password over 65535 bytes.
 */
int pake_opaque_client_login_start(struct pake_opaque_client_login *st,
				   struct pake_str password,
				   struct pake_opaque_ke1 *ke1);

/** As pake_opaque_client_login_start() with given randomness. */
int pake_opaque_client_login_start_det(
	struct pake_opaque_client_login *st, struct pake_str password,
	const struct pake_opaque_client_login_random *rnd,
	struct pake_opaque_ke1 *ke1);

/**
 * pake_opaque_client_login_finish() - GenerateKE3: recover the envelope,
 * authenticate the server, and produce KE3, the session key and the export
 * key. Returns PAKE_ERR_MALFORMED if KE2 carries a bad element,
 * PAKE_ERR_AUTH for a wrong password, an unknown user or an altered KE2,
 * PAKE_ERR_RESOURCE if the KSF fails. Wipes @st.
 */
int pake_opaque_client_login_finish(struct pake_opaque_client_login *st,
				    const struct pake_opaque_params *params,
				    const struct pake_opaque_ke2 *ke2,
				    struct pake_opaque_ke3 *ke3,
				    uint8_t session_key[PAKE_OPAQUE_KEY_BYTES],
				    uint8_t export_key[PAKE_OPAQUE_KEY_BYTES]);

/** Server state between login_start and login_finish. */
struct pake_opaque_server_login {
	uint8_t expected_client_mac[PAKE_HASH_BYTES];
	uint8_t session_key[PAKE_OPAQUE_KEY_BYTES];
	uint8_t armed;
};

/** The server's randomness for one login (for the _det variant). */
struct pake_opaque_server_login_random {
	uint8_t masking_nonce[PAKE_NONCE_BYTES];
	uint8_t nonce[PAKE_NONCE_BYTES];
	uint8_t keyshare_seed[PAKE_SEED_BYTES];
};

/**
 * pake_opaque_server_login_start() - GenerateKE2 for the user
 * @credential_id. @record is the stored record, or NULL for an unknown user:
 * then the answer comes from pake_opaque_fake_record() and has the same
 * size and shape. The fake record is derived on every call, so the two
 * cases cost the same time. Returns PAKE_ERR_MALFORMED for a bad KE1,
 * PAKE_ERR_INVALID for a bad record or parameters.
 */
int pake_opaque_server_login_start(
	struct pake_opaque_server_login *st,
	const struct pake_opaque_server_keys *keys,
	const struct pake_opaque_params *params, struct pake_str credential_id,
	const struct pake_opaque_registration_record *record,
	const struct pake_opaque_ke1 *ke1, struct pake_opaque_ke2 *ke2);

/** As pake_opaque_server_login_start() with given randomness. */
int pake_opaque_server_login_start_det(
	struct pake_opaque_server_login *st,
	const struct pake_opaque_server_keys *keys,
	const struct pake_opaque_params *params, struct pake_str credential_id,
	const struct pake_opaque_registration_record *record,
	const struct pake_opaque_ke1 *ke1,
	const struct pake_opaque_server_login_random *rnd,
	struct pake_opaque_ke2 *ke2);

/**
 * pake_opaque_server_login_finish() - ServerFinish: check KE3 (in constant
 * time) and only then release the session key. Returns PAKE_ERR_AUTH if
 * the client failed. Wipes @st.
 */
int pake_opaque_server_login_finish(struct pake_opaque_server_login *st,
				    const struct pake_opaque_ke3 *ke3,
				    uint8_t session_key[PAKE_OPAQUE_KEY_BYTES]);

/* ------------------------------------------------------------------ CPace */

/*
 * draft-irtf-cfrg-cpace-21, CPACE-RISTR255-SHA512, DSI "CPaceRistretto255",
 * with the key confirmation of its §10.4 (HMAC-SHA-512).
 *
 * Each side: start(PRS, CI, sid) -> own message Y
 *            finish(sid, own AD, peer Y, peer AD) -> ISK, sid_output, own tag
 *            verify(peer tag)
 * The initiator's (A's) AD is ADa, the responder's (B's) is ADb. A side
 * should send its tag only after verifying the peer's when it answers
 * second.
 */

#define PAKE_CPACE_MESSAGE_BYTES 32
#define PAKE_CPACE_TAG_BYTES 64
#define PAKE_CPACE_ISK_BYTES 64

/** Which transcript the session uses. */
enum pake_cpace_role {
	PAKE_CPACE_INITIATOR,	/* A, initiator-responder transcript */
	PAKE_CPACE_RESPONDER,	/* B, initiator-responder transcript */
	PAKE_CPACE_SYMMETRIC,	/* either side, ordered concatenation */
};

/** Ya or Yb. */
struct pake_cpace_message {
	uint8_t bytes[PAKE_CPACE_MESSAGE_BYTES];
};

/** Ta or Tb. */
struct pake_cpace_tag {
	uint8_t bytes[PAKE_CPACE_TAG_BYTES];
};

/** Copy a received message or tag, refusing any other length. */
int pake_cpace_message_from_bytes(struct pake_cpace_message *msg,
				  const uint8_t *buf, size_t len);
int pake_cpace_tag_from_bytes(struct pake_cpace_tag *tag, const uint8_t *buf,
			      size_t len);

/** The session inputs of start: PRS (secret), CI (secret), sid (public). */
struct pake_cpace_inputs {
	struct pake_str prs;
	struct pake_str ci;
	struct pake_str sid;
};

/** What finish gives: ISK, sid_output (§10.6) and this side's tag. */
struct pake_cpace_keys {
	uint8_t isk[PAKE_CPACE_ISK_BYTES];
	uint8_t sid_output[PAKE_HASH_BYTES];
	struct pake_cpace_tag tag;
};

/** The state of one side of a CPace session. */
struct pake_cpace_state {
	uint8_t scalar[PAKE_SCALAR_BYTES];
	struct pake_cpace_message own;
	struct pake_cpace_tag peer_tag;	/* the tag the peer must send */
	uint8_t role;
	uint8_t stage;
};

/** pake_cpace_generator() - calculate_generator: g from PRS, CI and sid. */
void pake_cpace_generator(uint8_t g[PAKE_ELEMENT_BYTES],
			  const struct pake_cpace_inputs *in);

/**
 * pake_cpace_start() - sample a scalar and compute this side's message.
 * Returns PAKE_ERR_INVALID for an unknown role.
 */
int pake_cpace_start(struct pake_cpace_state *st, enum pake_cpace_role role,
		     const struct pake_cpace_inputs *in,
		     struct pake_cpace_message *own);

/** As pake_cpace_start() with a given scalar (canonical, non-zero). */
int pake_cpace_start_det(struct pake_cpace_state *st,
			 enum pake_cpace_role role,
			 const struct pake_cpace_inputs *in,
			 const uint8_t scalar[PAKE_SCALAR_BYTES],
			 struct pake_cpace_message *own);

/**
 * pake_cpace_finish() - K = scalar_mult_vfy(y, peer), then ISK, sid_output
 * and this side's tag. Returns PAKE_ERR_MALFORMED (abort) if the peer's
 * message does not decode, gives the identity, or is our own message
 * reflected; PAKE_ERR_INVALID when called out of order. K never leaves.
 */
int pake_cpace_finish(struct pake_cpace_state *st, struct pake_str sid,
		      struct pake_str own_ad,
		      const struct pake_cpace_message *peer,
		      struct pake_str peer_ad, struct pake_cpace_keys *out);

/**
 * pake_cpace_verify() - check the peer's tag in constant time. Returns
 * PAKE_ERR_AUTH if it is wrong (wrong code, altered message or AD).
 * Wipes @st.
 */
int pake_cpace_verify(struct pake_cpace_state *st,
		      const struct pake_cpace_tag *peer_tag);

/*
 * The draft's string utilities (appendix A). Each returns the length of
 * its full result and writes it to @out as far as @cap allows, like
 * snprintf: the output is complete when the return value is <= cap, and
 * @out may be NULL to ask for the length.
 */

/** prepend_len(s) = LEB128(len s) || s */
size_t pake_cpace_prepend_len(uint8_t *out, size_t cap, struct pake_str s);
/** lv_cat(parts[0], ..., parts[n - 1]) */
size_t pake_cpace_lv_cat(uint8_t *out, size_t cap,
			 const struct pake_str *parts, size_t n);
/** lexiographically_larger(a, b): a > b, a proper prefix being smaller. */
bool pake_cpace_lexicographically_larger(struct pake_str a, struct pake_str b);
/** o_cat(a, b) = "oc" || larger || smaller */
size_t pake_cpace_o_cat(uint8_t *out, size_t cap, struct pake_str a,
			struct pake_str b);
/** transcript_ir = lv_cat(Ya, ADa) || lv_cat(Yb, ADb) */
size_t pake_cpace_transcript_ir(uint8_t *out, size_t cap, struct pake_str ya,
				struct pake_str ada, struct pake_str yb,
				struct pake_str adb);
/** transcript_oc = o_cat(lv_cat(Ya, ADa), lv_cat(Yb, ADb)) */
size_t pake_cpace_transcript_oc(uint8_t *out, size_t cap, struct pake_str ya,
				struct pake_str ada, struct pake_str yb,
				struct pake_str adb);
/** generator_string(DSI, PRS, CI, sid, 128) of CPaceRistretto255. */
size_t pake_cpace_generator_string(uint8_t *out, size_t cap,
				   const struct pake_cpace_inputs *in);
