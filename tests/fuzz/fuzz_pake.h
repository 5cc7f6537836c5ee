/*  anchord - tests/fuzz/fuzz_pake.h: the fixture the PAKE fuzz targets share.
 *
 *  One deterministic world, built once: server keys, a registered user, a
 *  login (KE1, KE2, KE3 with the states between them) and a CPace session
 *  (Ya, Yb, Ta, Tb with the states). Each target takes the message it
 *  fuzzes as the fixture's valid message XOR the input, so an all-zero
 *  input is the honest message and every other input is a tampered one.
 *  That lets the targets check more than "no crash": the return code must
 *  be exactly the one the tampering calls for, else the target aborts.
 *  The *_from_bytes() parser sees every input as it is and must accept
 *  exactly the right length; the protocol then gets the input's first
 *  bytes, zero-padded to the message size, as the XOR delta, so that every
 *  input, whatever its length, reaches the code under test.
 *
 *  Seeds (tests/fuzz/corpus/fuzz_pake_<name>/): "honest" (all zeros: the
 *  valid message), single-bit flips in each field of the message, and a
 *  "short" input one byte too small; for Ya/Yb, the changed, empty and
 *  honest AD as well.
 */
#pragma once

#include "pake/pake.h"

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                   \
	do {                            \
		if (!(cond))            \
			abort();        \
	} while (0)

struct fixture {
	struct pake_opaque_server_keys keys;
	struct pake_opaque_params params;
	struct pake_str password, user;
	/* registration */
	struct pake_opaque_client_registration reg_client;	/* started */
	struct pake_opaque_registration_request request;
	struct pake_opaque_registration_response response;
	struct pake_opaque_registration_record record;
	uint8_t envelope_nonce[32];
	/* login */
	struct pake_opaque_client_login client;			/* KE1 sent */
	struct pake_opaque_server_login server;			/* KE2 sent */
	struct pake_opaque_server_login_random server_random;
	struct pake_opaque_ke1 ke1;
	struct pake_opaque_ke2 ke2;
	struct pake_opaque_ke3 ke3;
	uint8_t session_key[64];
	/* CPace, initiator A and responder B */
	struct pake_cpace_inputs cpace;
	struct pake_str ada, adb;
	struct pake_cpace_state a_started, b_started;
	struct pake_cpace_state a_finished, b_finished;
	struct pake_cpace_message ya, yb;
	struct pake_cpace_keys a_keys, b_keys;
};

static struct fixture fx;

/* A fixed scalar per label: the fixture must not depend on the clock. */
static inline void fixed_scalar(uint8_t out[32], const char *label)
{
	REQUIRE(pake_hash_to_scalar(out, PAKE_STR(label, strlen(label)),
				    PAKE_STR("pake-fuzz", 9)) == PAKE_OK);
}

static inline void fixture_keys(void)
{
	uint8_t seed[32];

	memset(seed, 0x42, sizeof(seed));
	REQUIRE(pake_oprf_derive_key_pair(fx.keys.private_key,
					  fx.keys.public_key, seed,
					  PAKE_STR("fuzz keys", 9)) == PAKE_OK);
	memset(fx.keys.oprf_seed, 0x17, sizeof(fx.keys.oprf_seed));
	fx.params.context = PAKE_STR("pake fuzz context", 17);
	fx.params.ksf = PAKE_KSF_IDENTITY;
	fx.password = PAKE_STR("fuzz password", 13);
	fx.user = PAKE_STR("fuzz user", 9);
}

static inline void fixture_registration(void)
{
	struct pake_opaque_client_registration st;
	uint8_t blind[32], export_key[64];

	fixed_scalar(blind, "registration blind");
	memset(fx.envelope_nonce, 0x33, sizeof(fx.envelope_nonce));
	REQUIRE(pake_opaque_client_register_start_det(&fx.reg_client,
		fx.password, blind, &fx.request) == PAKE_OK);
	REQUIRE(pake_opaque_server_register(&fx.keys, fx.user, &fx.request,
					    &fx.response) == PAKE_OK);
	st = fx.reg_client;
	REQUIRE(pake_opaque_client_register_finish_det(&st, &fx.params,
		&fx.response, fx.envelope_nonce, &fx.record, export_key) ==
		PAKE_OK);
}

static inline void fixture_login(void)
{
	struct pake_opaque_client_login_random crnd;
	struct pake_opaque_client_login client;
	struct pake_opaque_server_login server;
	uint8_t key[64], export_key[64];

	fixed_scalar(crnd.blind, "login blind");
	memset(crnd.nonce, 0x55, sizeof(crnd.nonce));
	memset(crnd.keyshare_seed, 0x66, sizeof(crnd.keyshare_seed));
	memset(&fx.server_random, 0x77, sizeof(fx.server_random));
	REQUIRE(pake_opaque_client_login_start_det(&fx.client, fx.password,
						   &crnd, &fx.ke1) == PAKE_OK);
	REQUIRE(pake_opaque_server_login_start_det(&fx.server, &fx.keys,
		&fx.params, fx.user, &fx.record, &fx.ke1, &fx.server_random,
		&fx.ke2) == PAKE_OK);
	client = fx.client;
	REQUIRE(pake_opaque_client_login_finish(&client, &fx.params, &fx.ke2,
		&fx.ke3, fx.session_key, export_key) == PAKE_OK);
	server = fx.server;
	REQUIRE(pake_opaque_server_login_finish(&server, &fx.ke3, key) ==
		PAKE_OK);
	REQUIRE(memcmp(key, fx.session_key, 64) == 0);
}

static inline void fixture_cpace(void)
{
	static const uint8_t sid[16] = { 0xf0, 0x0d };
	uint8_t ya[32], yb[32];

	fx.cpace.prs = PAKE_STR("FUZZCODE1234", 12);
	fx.cpace.ci = PAKE_STR("\x08" "fuzz-ci!", 9);
	fx.cpace.sid = PAKE_STR(sid, sizeof(sid));
	fx.ada = PAKE_STR("fuzz client", 11);
	fx.adb = PAKE_STR("fuzz server", 11);
	fixed_scalar(ya, "cpace a");
	fixed_scalar(yb, "cpace b");
	REQUIRE(pake_cpace_start_det(&fx.a_started, PAKE_CPACE_INITIATOR,
				     &fx.cpace, ya, &fx.ya) == PAKE_OK);
	REQUIRE(pake_cpace_start_det(&fx.b_started, PAKE_CPACE_RESPONDER,
				     &fx.cpace, yb, &fx.yb) == PAKE_OK);
	fx.a_finished = fx.a_started;
	fx.b_finished = fx.b_started;
	REQUIRE(pake_cpace_finish(&fx.a_finished, fx.cpace.sid, fx.ada, &fx.yb,
				  fx.adb, &fx.a_keys) == PAKE_OK);
	REQUIRE(pake_cpace_finish(&fx.b_finished, fx.cpace.sid, fx.adb, &fx.ya,
				  fx.ada, &fx.b_keys) == PAKE_OK);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	REQUIRE(sodium_init() >= 0);
	fixture_keys();
	fixture_registration();
	fixture_login();
	fixture_cpace();
	return 0;
}

/* Whether 32 bytes decode as an element the library accepts. */
static inline bool decodes(const uint8_t *e)
{
	return !(e[31] & 0x80) && crypto_core_ristretto255_is_valid_point(e) &&
	       !sodium_is_zero(e, 32);
}

/* Require that the parser's verdict @rc on a @size-byte input be the
 * right one for an @n-byte message. */
static inline void parsed(int rc, size_t size, size_t n)
{
	REQUIRE(rc == (size == n ? PAKE_OK : PAKE_ERR_MALFORMED));
}

/* out = valid XOR (the first n bytes of data, zero-padded); returns
 * whether that delta is zero, i.e. whether out is the honest message. */
static inline bool tamper(uint8_t *out, const uint8_t *valid,
			  const uint8_t *data, size_t size, size_t n)
{
	uint8_t delta = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		out[i] = valid[i] ^ (i < size ? data[i] : 0);
		delta |= out[i] ^ valid[i];
	}
	return delta == 0;
}

/* A record the server would accept but that was not made from the
 * fixture's password and OPRF key: the fixture client's login with it
 * must fail authentication. */
static inline void login_must_fail(
	const struct pake_opaque_registration_record *record)
{
	struct pake_opaque_client_login client = fx.client;
	struct pake_opaque_server_login server;
	struct pake_opaque_ke2 ke2;
	struct pake_opaque_ke3 ke3;
	uint8_t key[64], export_key[64];

	REQUIRE(pake_opaque_server_login_start_det(&server, &fx.keys,
		&fx.params, fx.user, record, &fx.ke1, &fx.server_random,
		&ke2) == PAKE_OK);
	REQUIRE(pake_opaque_client_login_finish(&client, &fx.params, &ke2, &ke3,
		key, export_key) == PAKE_ERR_AUTH);
}
