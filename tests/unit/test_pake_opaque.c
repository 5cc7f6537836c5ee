/*  anchord - tests/unit/test_pake_opaque.c: OPAQUE (RFC 9807) against its
 *  ristretto255 vectors (Real 1, Real 2, Fake 1), the intermediates
 *  recomputed from the public primitives, and the ways a login must fail.
 */
#include "pake_vectors.h"

#define VECTORS "opaque-ristretto255-sha512.json"

/* ------------------------------------------------------------- vectors */

static struct pake_opaque_params vector_params(json_t *vec)
{
	struct pake_opaque_params p = {
		.context = vec_bytes(vec, "config.Context"),
		.ksf = PAKE_KSF_IDENTITY,
	};
	json_t *in = vec_get(vec, "inputs");

	if (json_object_get(in, "client_identity"))
		p.client_identity = vec_bytes(in, "client_identity");
	if (json_object_get(in, "server_identity"))
		p.server_identity = vec_bytes(in, "server_identity");
	return p;
}

static void vector_keys(json_t *vec, struct pake_opaque_server_keys *keys)
{
	vec_fixed(vec, "inputs.server_private_key", keys->private_key, 32);
	vec_fixed(vec, "inputs.server_public_key", keys->public_key, 32);
	vec_fixed(vec, "inputs.oprf_seed", keys->oprf_seed, 64);
	assert_int_equal(pake_opaque_server_keys_check(keys), PAKE_OK);
}

/* Registration: request, response, record (upload) and export key. */
static void vector_register(json_t *vec, const struct pake_opaque_params *p,
			    const struct pake_opaque_server_keys *keys,
			    struct pake_opaque_registration_record *record)
{
	struct pake_opaque_client_registration st;
	struct pake_opaque_registration_request req;
	struct pake_opaque_registration_response resp;
	uint8_t blind[32], nonce[32], export_key[64];

	vec_fixed(vec, "inputs.blind_registration", blind, 32);
	vec_fixed(vec, "inputs.envelope_nonce", nonce, 32);
	assert_int_equal(pake_opaque_client_register_start_det(&st,
			 vec_bytes(vec, "inputs.password"), blind, &req),
			 PAKE_OK);
	vec_check(vec, "outputs.registration_request", req.bytes, 32);
	assert_int_equal(pake_opaque_server_register(keys,
			 vec_bytes(vec, "inputs.credential_identifier"), &req,
			 &resp), PAKE_OK);
	vec_check(vec, "outputs.registration_response", resp.bytes, 64);
	assert_int_equal(pake_opaque_client_register_finish_det(&st, p, &resp,
			 nonce, record, export_key), PAKE_OK);
	vec_check(vec, "outputs.registration_upload", record->bytes, 192);
	vec_check(vec, "outputs.export_key", export_key, 64);
	assert_int_equal(pake_opaque_record_check(record), PAKE_OK);
}

static void vector_client_random(json_t *vec,
				 struct pake_opaque_client_login_random *r)
{
	vec_fixed(vec, "inputs.blind_login", r->blind, 32);
	vec_fixed(vec, "inputs.client_nonce", r->nonce, 32);
	vec_fixed(vec, "inputs.client_keyshare_seed", r->keyshare_seed, 32);
}

static void vector_server_random(json_t *vec,
				 struct pake_opaque_server_login_random *r)
{
	vec_fixed(vec, "inputs.masking_nonce", r->masking_nonce, 32);
	vec_fixed(vec, "inputs.server_nonce", r->nonce, 32);
	vec_fixed(vec, "inputs.server_keyshare_seed", r->keyshare_seed, 32);
}

/* Login: KE1, KE2, KE3, both session keys and the export key. */
static void vector_login(json_t *vec, const struct pake_opaque_params *p,
			 const struct pake_opaque_server_keys *keys,
			 const struct pake_opaque_registration_record *record)
{
	struct pake_opaque_client_login client;
	struct pake_opaque_server_login server;
	struct pake_opaque_client_login_random crnd;
	struct pake_opaque_server_login_random srnd;
	struct pake_opaque_ke1 ke1;
	struct pake_opaque_ke2 ke2;
	struct pake_opaque_ke3 ke3;
	uint8_t client_key[64], server_key[64], export_key[64];

	vector_client_random(vec, &crnd);
	vector_server_random(vec, &srnd);
	assert_int_equal(pake_opaque_client_login_start_det(&client,
			 vec_bytes(vec, "inputs.password"), &crnd, &ke1),
			 PAKE_OK);
	vec_check(vec, "outputs.KE1", ke1.bytes, sizeof(ke1.bytes));
	assert_int_equal(pake_opaque_server_login_start_det(&server, keys, p,
			 vec_bytes(vec, "inputs.credential_identifier"), record,
			 &ke1, &srnd, &ke2), PAKE_OK);
	vec_check(vec, "outputs.KE2", ke2.bytes, sizeof(ke2.bytes));
	assert_int_equal(pake_opaque_client_login_finish(&client, p, &ke2, &ke3,
			 client_key, export_key), PAKE_OK);
	vec_check(vec, "outputs.KE3", ke3.bytes, sizeof(ke3.bytes));
	vec_check(vec, "outputs.session_key", client_key, 64);
	vec_check(vec, "outputs.export_key", export_key, 64);
	assert_int_equal(pake_opaque_server_login_finish(&server, &ke3,
			 server_key), PAKE_OK);
	vec_check(vec, "outputs.session_key", server_key, 64);
}

/* Expand-Label(secret, label, context, 64), built here from the RFC's
 * CustomLabel so that the library's key schedule is checked from outside. */
static void expand_label(uint8_t out[64], const uint8_t secret[64],
			 const char *label, struct pake_str context)
{
	uint8_t info[2 + 1 + 64 + 1 + 64];
	size_t n = 0, llen = strlen(label);

	info[n++] = 0;
	info[n++] = 64;
	info[n++] = (uint8_t)(7 + llen);
	memcpy(info + n, "OPAQUE-", 7);
	n += 7;
	memcpy(info + n, label, llen);
	n += llen;
	info[n++] = (uint8_t)context.len;
	if (context.len)
		memcpy(info + n, context.ptr, context.len);
	n += context.len;
	assert_int_equal(pake_hkdf_expand(out, 64, PAKE_STR(secret, 64),
					  PAKE_STR(info, n)), PAKE_OK);
}

static void concat_expand(uint8_t *out, size_t len, struct pake_str key,
			  const uint8_t *a, size_t alen, const char *label)
{
	uint8_t info[128];

	memcpy(info, a, alen);
	memcpy(info + alen, label, strlen(label));
	assert_int_equal(pake_hkdf_expand(out, len, key,
			 PAKE_STR(info, alen + strlen(label))), PAKE_OK);
}

/* Registration intermediates from the public OPRF and HKDF functions. */
static void vector_register_intermediates(json_t *vec)
{
	struct pake_str cid = vec_bytes(vec, "inputs.credential_identifier");
	struct pake_str rpw_s;
	uint8_t seed[64], key[32], y[64], ikm[128], rpw[64], out[64], pk[32];
	uint8_t blind[32], evaluated[32], nonce[32];

	vec_fixed(vec, "inputs.oprf_seed", seed, 64);
	concat_expand(out, 32, PAKE_STR(seed, 64), cid.ptr, cid.len, "OprfKey");
	vec_check(vec, "derived_not_official.oprf_seed_expand_output(seed for "
		  "DeriveKeyPair)", out, 32);
	assert_int_equal(pake_oprf_derive_key_pair(key, NULL, out,
			 PAKE_STR("OPAQUE-DeriveKeyPair", 20)), PAKE_OK);
	vec_check(vec, "intermediates.oprf_key", key, 32);

	vec_fixed(vec, "inputs.blind_registration", blind, 32);
	memcpy(evaluated, vec_bytes(vec, "outputs.registration_response").ptr,
	       32);
	assert_int_equal(pake_oprf_finalize(y,
			 vec_bytes(vec, "inputs.password"), blind, evaluated),
			 PAKE_OK);
	vec_check(vec,
		  "derived_not_official.oprf_output_registration(Finalize)",
		  y, 64);
	memcpy(ikm, y, 64);
	memcpy(ikm + 64, y, 64);	/* identity KSF */
	pake_hkdf_extract(rpw, PAKE_STR(NULL, 0), PAKE_STR(ikm, 128));
	vec_check(vec, "intermediates.randomized_password", rpw, 64);
	rpw_s = PAKE_STR(rpw, 64);
	assert_int_equal(pake_hkdf_expand(out, 64, rpw_s,
					  PAKE_STR("MaskingKey", 10)), PAKE_OK);
	vec_check(vec, "intermediates.masking_key", out, 64);
	vec_fixed(vec, "inputs.envelope_nonce", nonce, 32);
	concat_expand(out, 64, rpw_s, nonce, 32, "AuthKey");
	vec_check(vec, "intermediates.auth_key", out, 64);
	concat_expand(out, 32, rpw_s, nonce, 32, "PrivateKey");
	vec_check(vec, "derived_not_official.private_key_seed", out, 32);
	assert_int_equal(pake_oprf_derive_key_pair(key, pk, out,
			 PAKE_STR("OPAQUE-DeriveDiffieHellmanKeyPair", 33)),
			 PAKE_OK);
	vec_check(vec, "derived_not_official.client_private_key", key, 32);
	vec_check(vec, "intermediates.client_public_key", pk, 32);
	vec_check(vec, "intermediates.envelope",
		  vec_bytes(vec, "outputs.registration_upload").ptr + 96, 96);
}

static void keyshare(json_t *vec, const char *seed_path,
		     const char *private_path, const char *public_path)
{
	uint8_t seed[32], sk[32], pk[32];

	vec_fixed(vec, seed_path, seed, 32);
	assert_int_equal(pake_oprf_derive_key_pair(sk, pk, seed,
			 PAKE_STR("OPAQUE-DeriveDiffieHellmanKeyPair", 33)),
			 PAKE_OK);
	vec_check(vec, private_path, sk, 32);
	vec_check(vec, public_path, pk, 32);
}

/* Login intermediates: keyshares, pad, and the 3DH key schedule. */
static void vector_login_intermediates(json_t *vec)
{
	const char *d = "derived_not_official.";
	char path[128];
	uint8_t ikm[96], prk[64], hs[64], out[128], hash[64];
	struct pake_str preamble, transcript;
	const char *dh[] = { "dh1_esk_x_client_keyshare",
			     "dh2_ssk_x_client_keyshare",
			     "dh3_esk_x_client_public_key" };
	size_t i;

	keyshare(vec, "inputs.client_keyshare_seed",
		 "derived_not_official.client_keyshare_private",
		 "derived_not_official.client_public_keyshare");
	keyshare(vec, "inputs.server_keyshare_seed",
		 "derived_not_official.server_keyshare_private",
		 "derived_not_official.server_public_keyshare");
	concat_expand(out, 128, vec_bytes(vec, "intermediates.masking_key"),
		      vec_bytes(vec, "inputs.masking_nonce").ptr, 32,
		      "CredentialResponsePad");
	vec_check(vec, "derived_not_official.credential_response_pad", out,
		  128);

	preamble = vec_bytes(vec, "derived_not_official.preamble");
	crypto_hash_sha512(hash, preamble.ptr, preamble.len);
	vec_check(vec, "derived_not_official.preamble_hash_sha512", hash, 64);
	transcript = PAKE_STR(hash, 64);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", d, dh[i]);
		vec_fixed(vec, path, ikm + 32 * i, 32);
	}
	pake_hkdf_extract(prk, PAKE_STR(NULL, 0), PAKE_STR(ikm, 96));
	expand_label(hs, prk, "HandshakeSecret", transcript);
	vec_check(vec, "intermediates.handshake_secret", hs, 64);
	expand_label(out, prk, "SessionKey", transcript);
	vec_check(vec, "outputs.session_key", out, 64);
	expand_label(out, hs, "ServerMAC", PAKE_STR(NULL, 0));
	vec_check(vec, "intermediates.server_mac_key", out, 64);
	expand_label(out, hs, "ClientMAC", PAKE_STR(NULL, 0));
	vec_check(vec, "intermediates.client_mac_key", out, 64);
}

static void run_real_vector(size_t index)
{
	json_t *root = vec_load(VECTORS);
	json_t *vec = json_array_get(vec_get(root, "vectors"), index);
	struct pake_opaque_server_keys keys;
	struct pake_opaque_registration_record record;
	struct pake_opaque_params p;

	assert_non_null(vec);
	assert_string_equal(json_string_value(vec_get(vec, "config.Fake")),
			    "False");
	p = vector_params(vec);
	vector_keys(vec, &keys);
	vector_register(vec, &p, &keys, &record);
	vector_login(vec, &p, &keys, &record);
	vector_register_intermediates(vec);
	vector_login_intermediates(vec);
	json_decref(root);
}

static void test_real_vector_1(void **state)
{
	(void)state;
	run_real_vector(0);
}

static void test_real_vector_2(void **state)
{
	(void)state;
	run_real_vector(1);
}

/* Fake vector: the server answers KE1 from the fake record (the vector's
 * client public key and masking key, an all-zero envelope). */
static void test_fake_vector_1(void **state)
{
	json_t *root = vec_load(VECTORS);
	json_t *vec = json_array_get(vec_get(root, "vectors"), 2);
	struct pake_opaque_server_keys keys;
	struct pake_opaque_registration_record fake = { { 0 } };
	struct pake_opaque_server_login server;
	struct pake_opaque_server_login_random srnd;
	struct pake_opaque_params p;
	struct pake_opaque_ke1 ke1;
	struct pake_opaque_ke2 ke2;

	(void)state;
	assert_string_equal(json_string_value(vec_get(vec, "config.Fake")),
			    "True");
	p = vector_params(vec);
	vector_keys(vec, &keys);
	vector_server_random(vec, &srnd);
	vec_fixed(vec, "inputs.client_public_key", fake.bytes, 32);
	vec_fixed(vec, "inputs.masking_key", fake.bytes + 32, 64);
	vec_fixed(vec, "inputs.KE1", ke1.bytes, sizeof(ke1.bytes));
	assert_int_equal(pake_opaque_server_login_start_det(&server, &keys, &p,
			 vec_bytes(vec, "inputs.credential_identifier"), &fake,
			 &ke1, &srnd, &ke2), PAKE_OK);
	vec_check(vec, "outputs.KE2", ke2.bytes, sizeof(ke2.bytes));
	json_decref(root);
}

/* -------------------------------------------------------- a test world */

/* One server with one registered user, for the negative tests. */
struct world {
	struct pake_opaque_server_keys keys;
	struct pake_opaque_params params;
	struct pake_opaque_registration_record record;
	struct pake_str password;
	struct pake_str user;
};

static const char context[] = "anchor-enroll-v1 exporter";

static int world_register(struct world *w, struct pake_str password,
			  struct pake_opaque_registration_record *record)
{
	struct pake_opaque_client_registration st;
	struct pake_opaque_registration_request req;
	struct pake_opaque_registration_response resp;
	uint8_t export_key[64];
	int rc;

	assert_int_equal(pake_opaque_client_register_start(&st, password,
							   &req), PAKE_OK);
	rc = pake_opaque_server_register(&w->keys, w->user, &req, &resp);
	if (rc == PAKE_OK)
		rc = pake_opaque_client_register_finish(&st, &w->params, &resp,
							record, export_key);
	return rc;
}

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	pake_opaque_server_keygen(&w->keys);
	w->params.context = PAKE_STR(context, sizeof(context) - 1);
	w->params.ksf = PAKE_KSF_IDENTITY;
	w->password = PAKE_STR("correct horse", 13);
	w->user = PAKE_STR("alice", 5);
	assert_int_equal(world_register(w, w->password, &w->record), PAKE_OK);
}

/* A whole login; returns the first failure, or PAKE_OK with equal keys. */
static int world_login(const struct world *w, struct pake_str password,
		       const struct pake_opaque_registration_record *record)
{
	struct pake_opaque_client_login client;
	struct pake_opaque_server_login server;
	struct pake_opaque_ke1 ke1;
	struct pake_opaque_ke2 ke2;
	struct pake_opaque_ke3 ke3;
	uint8_t ck[64], sk[64], ek[64];
	int rc;

	assert_int_equal(pake_opaque_client_login_start(&client, password,
							&ke1), PAKE_OK);
	rc = pake_opaque_server_login_start(&server, &w->keys, &w->params,
					    w->user, record, &ke1, &ke2);
	if (rc == PAKE_OK)
		rc = pake_opaque_client_login_finish(&client, &w->params, &ke2,
						     &ke3, ck, ek);
	if (rc == PAKE_OK)
		rc = pake_opaque_server_login_finish(&server, &ke3, sk);
	if (rc == PAKE_OK)
		assert_memory_equal(ck, sk, 64);
	return rc;
}

/* Whether a 32-byte field decodes as a usable element. */
static bool decodes(const uint8_t *e)
{
	return !(e[31] & 0x80) && crypto_core_ristretto255_is_valid_point(e) &&
	       !sodium_is_zero(e, 32);
}

/* Flip bit (i % 8) of byte i. */
static void flip(uint8_t *msg, size_t i)
{
	msg[i] ^= (uint8_t)(1u << (i % 8));
}

/* ------------------------------------------------------ negative tests */

static void test_roundtrip_and_wrong_password(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	assert_int_equal(world_login(&w, w.password, &w.record), PAKE_OK);
	assert_int_equal(world_login(&w, PAKE_STR("correct horsf", 13),
				     &w.record), PAKE_ERR_AUTH);
	assert_int_equal(world_login(&w, PAKE_STR("", 0), &w.record),
			 PAKE_ERR_AUTH);
}

/* A flipped bit anywhere in KE1: a field that no longer decodes is
 * malformed at the server; anything else fails authentication. */
static void test_flipped_ke1(void **state)
{
	struct world w;
	size_t i;

	(void)state;
	world_init(&w);
	for (i = 0; i < PAKE_OPAQUE_KE1_BYTES; i++) {
		struct pake_opaque_client_login client;
		struct pake_opaque_server_login server;
		struct pake_opaque_ke1 ke1;
		struct pake_opaque_ke2 ke2;
		struct pake_opaque_ke3 ke3;
		uint8_t ck[64], ek[64];
		int rc, want;

		assert_int_equal(pake_opaque_client_login_start(&client,
				 w.password, &ke1), PAKE_OK);
		flip(ke1.bytes, i);
		want = (i < 32 && !decodes(ke1.bytes)) ||
		       (i >= 64 && !decodes(ke1.bytes + 64)) ?
		       PAKE_ERR_MALFORMED : PAKE_OK;
		rc = pake_opaque_server_login_start(&server, &w.keys, &w.params,
						    w.user, &w.record, &ke1,
						    &ke2);
		assert_int_equal(rc, want);
		if (rc != PAKE_OK)
			continue;
		assert_int_equal(pake_opaque_client_login_finish(&client,
				 &w.params, &ke2, &ke3, ck, ek), PAKE_ERR_AUTH);
		sodium_memzero(&server, sizeof(server));
	}
}

/* A flipped bit anywhere in KE2: malformed if the evaluated element or
 * the server keyshare stops decoding, an authentication failure else. */
static void test_flipped_ke2(void **state)
{
	struct world w;
	struct pake_opaque_client_login client, fresh;
	struct pake_opaque_server_login server;
	struct pake_opaque_ke1 ke1;
	struct pake_opaque_ke2 ke2, bad;
	struct pake_opaque_ke3 ke3;
	uint8_t ck[64], ek[64];
	size_t i;
	int want;

	(void)state;
	world_init(&w);
	assert_int_equal(pake_opaque_client_login_start(&fresh, w.password,
							&ke1), PAKE_OK);
	assert_int_equal(pake_opaque_server_login_start(&server, &w.keys,
			 &w.params, w.user, &w.record, &ke1, &ke2), PAKE_OK);
	for (i = 0; i < PAKE_OPAQUE_KE2_BYTES; i++) {
		bad = ke2;
		flip(bad.bytes, i);
		want = (i < 32 && !decodes(bad.bytes)) ||
		       (i >= 224 && i < 256 && !decodes(bad.bytes + 224)) ?
		       PAKE_ERR_MALFORMED : PAKE_ERR_AUTH;
		client = fresh;
		assert_int_equal(pake_opaque_client_login_finish(&client,
				 &w.params, &bad, &ke3, ck, ek), want);
	}
	client = fresh;
	assert_int_equal(pake_opaque_client_login_finish(&client, &w.params,
			 &ke2, &ke3, ck, ek), PAKE_OK);
}

static void test_flipped_ke3(void **state)
{
	struct world w;
	struct pake_opaque_client_login client;
	struct pake_opaque_server_login server, armed;
	struct pake_opaque_ke1 ke1;
	struct pake_opaque_ke2 ke2;
	struct pake_opaque_ke3 ke3, bad;
	uint8_t ck[64], sk[64], ek[64];
	size_t i;

	(void)state;
	world_init(&w);
	assert_int_equal(pake_opaque_client_login_start(&client, w.password,
							&ke1), PAKE_OK);
	assert_int_equal(pake_opaque_server_login_start(&armed, &w.keys,
			 &w.params, w.user, &w.record, &ke1, &ke2), PAKE_OK);
	assert_int_equal(pake_opaque_client_login_finish(&client, &w.params,
			 &ke2, &ke3, ck, ek), PAKE_OK);
	for (i = 0; i < PAKE_OPAQUE_KE3_BYTES; i++) {
		bad = ke3;
		flip(bad.bytes, i);
		server = armed;
		assert_int_equal(pake_opaque_server_login_finish(&server, &bad,
				 sk), PAKE_ERR_AUTH);
		/* The failed state is wiped: no second try. */
		assert_int_equal(pake_opaque_server_login_finish(&server, &ke3,
				 sk), PAKE_ERR_INVALID);
	}
	server = armed;
	assert_int_equal(pake_opaque_server_login_finish(&server, &ke3, sk),
			 PAKE_OK);
	assert_memory_equal(ck, sk, 64);
}

/* Registration has no MAC: a flipped request or response that still
 * decodes yields a record that cannot log in. */
static void test_flipped_registration(void **state)
{
	struct world w;
	size_t i;

	(void)state;
	world_init(&w);
	for (i = 0; i < PAKE_OPAQUE_REQUEST_BYTES + PAKE_OPAQUE_RESPONSE_BYTES;
	     i++) {
		struct pake_opaque_client_registration st;
		struct pake_opaque_registration_request req;
		struct pake_opaque_registration_response resp;
		struct pake_opaque_registration_record record;
		uint8_t ek[64];
		bool in_request = i < 32;
		int rc;

		assert_int_equal(pake_opaque_client_register_start(&st,
				 w.password, &req), PAKE_OK);
		if (in_request)
			flip(req.bytes, i);
		rc = pake_opaque_server_register(&w.keys, w.user, &req, &resp);
		if (in_request && !decodes(req.bytes)) {
			assert_int_equal(rc, PAKE_ERR_MALFORMED);
			continue;
		}
		assert_int_equal(rc, PAKE_OK);
		if (!in_request)
			flip(resp.bytes, i - 32);
		rc = pake_opaque_client_register_finish(&st, &w.params, &resp,
							&record, ek);
		if (!in_request && !decodes(resp.bytes + (i < 64 ? 0 : 32))) {
			assert_int_equal(rc, PAKE_ERR_MALFORMED);
			continue;
		}
		assert_int_equal(rc, PAKE_OK);
		assert_int_equal(world_login(&w, w.password, &record),
				 PAKE_ERR_AUTH);
	}
}

/* A flipped bit in the stored record: a client key that stops decoding is
 * refused by record_check (and by login as the caller's error); any other
 * change makes the login fail authentication. */
static void test_flipped_record(void **state)
{
	struct world w;
	struct pake_opaque_registration_record bad;
	size_t i;

	(void)state;
	world_init(&w);
	for (i = 0; i < PAKE_OPAQUE_RECORD_BYTES; i++) {
		bad = w.record;
		flip(bad.bytes, i);
		if (i < 32 && !decodes(bad.bytes)) {
			assert_int_equal(pake_opaque_record_check(&bad),
					 PAKE_ERR_MALFORMED);
			assert_int_equal(world_login(&w, w.password, &bad),
					 PAKE_ERR_INVALID);
			continue;
		}
		assert_int_equal(pake_opaque_record_check(&bad), PAKE_OK);
		assert_int_equal(world_login(&w, w.password, &bad),
				 PAKE_ERR_AUTH);
	}
}

/* The server's answer to @ke1 for the world's user, state thrown away. */
static int server_answer(const struct world *w,
			 const struct pake_opaque_ke1 *ke1,
			 struct pake_opaque_ke2 *ke2)
{
	struct pake_opaque_server_login st;

	return pake_opaque_server_login_start(&st, &w->keys, &w->params,
					      w->user, &w->record, ke1, ke2);
}

/* The client's verdict on @ke2, from a copy of @st. */
static int client_verdict(const struct world *w,
			  const struct pake_opaque_client_login *st,
			  const struct pake_opaque_ke2 *ke2)
{
	struct pake_opaque_client_login copy = *st;
	struct pake_opaque_ke3 ke3;
	uint8_t key[64], export_key[64];

	return pake_opaque_client_login_finish(&copy, &w->params, ke2, &ke3,
					       key, export_key);
}

/* Spoil the element at @off: make it the identity (all zeros), or set the
 * top bit that libsodium 1.0.18's decoder would ignore. */
static void spoil(uint8_t *msg, size_t off, bool identity)
{
	if (identity)
		memset(msg + off, 0, 32);
	else
		msg[off + 31] |= 0x80;
}

/* Both spoilt forms of every element of KE1 and KE2 are malformed. */
static void test_identity_and_noncanonical(void **state)
{
	static const size_t ke1_elements[] = { 0, 64 };
	static const size_t ke2_elements[] = { 0, 224 };
	struct world w;
	struct pake_opaque_client_login client;
	struct pake_opaque_ke1 ke1, bad1;
	struct pake_opaque_ke2 ke2, bad2;
	size_t i;
	int identity;

	(void)state;
	world_init(&w);
	assert_int_equal(pake_opaque_client_login_start(&client, w.password,
							&ke1), PAKE_OK);
	assert_int_equal(server_answer(&w, &ke1, &ke2), PAKE_OK);
	for (identity = 0; identity < 2; identity++) {
		for (i = 0; i < 2; i++) {
			bad1 = ke1;
			spoil(bad1.bytes, ke1_elements[i], identity);
			assert_int_equal(server_answer(&w, &bad1, &bad2),
					 PAKE_ERR_MALFORMED);
			bad2 = ke2;
			spoil(bad2.bytes, ke2_elements[i], identity);
			assert_int_equal(client_verdict(&w, &client, &bad2),
					 PAKE_ERR_MALFORMED);
		}
	}
	assert_int_equal(client_verdict(&w, &client, &ke2), PAKE_OK);
}

/* The same in registration: the request, the server's key in the
 * response, and the client key of a record. */
static void test_identity_in_registration(void **state)
{
	struct world w;
	struct pake_opaque_client_registration reg;
	struct pake_opaque_registration_request req;
	struct pake_opaque_registration_response resp;
	struct pake_opaque_registration_record rec;
	uint8_t export_key[64];
	int identity;

	(void)state;
	world_init(&w);
	for (identity = 0; identity < 2; identity++) {
		assert_int_equal(pake_opaque_client_register_start(&reg,
				 w.password, &req), PAKE_OK);
		assert_int_equal(pake_opaque_server_register(&w.keys, w.user,
				 &req, &resp), PAKE_OK);
		spoil(req.bytes, 0, identity);
		assert_int_equal(pake_opaque_server_register(&w.keys, w.user,
				 &req, &resp), PAKE_ERR_MALFORMED);
		spoil(resp.bytes, 32, identity);
		assert_int_equal(pake_opaque_client_register_finish(&reg,
				 &w.params, &resp, &rec, export_key),
				 PAKE_ERR_MALFORMED);
		rec = w.record;
		spoil(rec.bytes, 0, identity);
		assert_int_equal(pake_opaque_record_check(&rec),
				 PAKE_ERR_MALFORMED);
	}
}

/* An unknown user gets a KE2 of the same size and shape, the same one
 * each time (given the same randomness), and the client fails with
 * PAKE_ERR_AUTH exactly as with a wrong password. */
static void test_unknown_user(void **state)
{
	struct world w;
	struct pake_opaque_client_login client, fresh;
	struct pake_opaque_server_login server;
	struct pake_opaque_server_login_random srnd;
	struct pake_opaque_registration_record fake;
	struct pake_opaque_ke1 ke1;
	struct pake_opaque_ke2 real, unknown, again, other;
	struct pake_opaque_ke3 ke3;
	uint8_t ck[64], ek[64];

	(void)state;
	world_init(&w);
	randombytes_buf(&srnd, sizeof(srnd));
	assert_int_equal(pake_opaque_client_login_start(&fresh, w.password,
							&ke1), PAKE_OK);
	assert_int_equal(pake_opaque_server_login_start_det(&server, &w.keys,
			 &w.params, w.user, &w.record, &ke1, &srnd, &real),
			 PAKE_OK);
	assert_int_equal(pake_opaque_server_login_start_det(&server, &w.keys,
			 &w.params, PAKE_STR("mallory", 7), NULL, &ke1, &srnd,
			 &unknown), PAKE_OK);
	assert_int_equal(pake_opaque_server_login_start_det(&server, &w.keys,
			 &w.params, PAKE_STR("mallory", 7), NULL, &ke1, &srnd,
			 &again), PAKE_OK);
	assert_int_equal(pake_opaque_server_login_start_det(&server, &w.keys,
			 &w.params, PAKE_STR("trudy", 5), NULL, &ke1, &srnd,
			 &other), PAKE_OK);
	/* Same shape: the elements decode, nonces in place. */
	assert_int_equal(sizeof(unknown.bytes), sizeof(real.bytes));
	assert_true(decodes(unknown.bytes) && decodes(unknown.bytes + 224));
	assert_memory_equal(unknown.bytes + 32, real.bytes + 32, 32);
	assert_memory_equal(unknown.bytes + 192, real.bytes + 192, 64);
	assert_memory_not_equal(unknown.bytes + 64, real.bytes + 64, 128);
	assert_memory_not_equal(unknown.bytes + 256, real.bytes + 256, 64);
	/* Consistent per unknown user, different between them. */
	assert_memory_equal(unknown.bytes, again.bytes, sizeof(again.bytes));
	assert_memory_not_equal(unknown.bytes + 64, other.bytes + 64, 128);
	/* The stored form of the fake record answers identically. */
	pake_opaque_fake_record(&w.keys, PAKE_STR("mallory", 7), &fake);
	assert_int_equal(pake_opaque_record_check(&fake), PAKE_OK);
	assert_int_equal(pake_opaque_server_login_start_det(&server, &w.keys,
			 &w.params, PAKE_STR("mallory", 7), &fake, &ke1, &srnd,
			 &again), PAKE_OK);
	assert_memory_equal(unknown.bytes, again.bytes, sizeof(again.bytes));
	client = fresh;
	assert_int_equal(pake_opaque_client_login_finish(&client, &w.params,
			 &unknown, &ke3, ck, ek), PAKE_ERR_AUTH);
}

/* The Context and the identities bind the login: any mismatch fails. */
static void test_context_and_identity_binding(void **state)
{
	struct world w, other;
	struct pake_opaque_client_login client;
	struct pake_opaque_ke1 ke1;
	struct pake_opaque_ke2 ke2;
	int i;

	(void)state;
	world_init(&w);
	for (i = 0; i < 3; i++) {
		other = w;
		if (i == 0)
			other.params.context = PAKE_STR("another exporter", 16);
		else if (i == 1)
			other.params.client_identity = PAKE_STR("alice", 5);
		else
			other.params.server_identity = PAKE_STR("bob", 3);
		assert_int_equal(pake_opaque_client_login_start(&client,
				 w.password, &ke1), PAKE_OK);
		assert_int_equal(server_answer(&w, &ke1, &ke2), PAKE_OK);
		assert_int_equal(client_verdict(&other, &client, &ke2),
				 PAKE_ERR_AUTH);
		assert_int_equal(client_verdict(&w, &client, &ke2), PAKE_OK);
	}
}

/* The Argon2id KSF of the deployment: a round trip, and a record that
 * differs from the identity KSF's for the same password. */
static void test_argon2id(void **state)
{
	struct world w;
	struct pake_opaque_registration_record record;

	(void)state;
	world_init(&w);
	w.params.ksf = PAKE_KSF_ARGON2ID;
	assert_int_equal(world_register(&w, w.password, &record), PAKE_OK);
	assert_memory_not_equal(record.bytes, w.record.bytes, 96);
	assert_int_equal(world_login(&w, w.password, &record), PAKE_OK);
	w.params.ksf = PAKE_KSF_IDENTITY;
	assert_int_equal(world_login(&w, w.password, &record), PAKE_ERR_AUTH);
}

/* Lengths, states used out of order, and bad parameters. */
static void test_misuse(void **state)
{
	struct world w;
	struct pake_opaque_client_login client;
	struct pake_opaque_server_login server;
	struct pake_opaque_ke1 ke1;
	struct pake_opaque_ke2 ke2;
	struct pake_opaque_ke3 ke3;
	struct pake_opaque_server_keys keys;
	uint8_t buf[400] = { 0 }, ck[64], ek[64];
	static uint8_t long_password[65536];

	(void)state;
	world_init(&w);
	assert_int_equal(pake_opaque_ke1_from_bytes(&ke1, buf, 95),
			 PAKE_ERR_MALFORMED);
	assert_int_equal(pake_opaque_ke2_from_bytes(&ke2, buf, 321),
			 PAKE_ERR_MALFORMED);
	assert_int_equal(pake_opaque_ke3_from_bytes(&ke3, buf, 0),
			 PAKE_ERR_MALFORMED);
	assert_int_equal(pake_opaque_ke3_from_bytes(&ke3, buf, 64), PAKE_OK);
	assert_int_equal(pake_opaque_client_login_start(&client,
			 PAKE_STR(long_password, sizeof(long_password)), &ke1),
			 PAKE_ERR_INVALID);
	memset(&client, 0, sizeof(client));
	assert_int_equal(pake_opaque_client_login_finish(&client, &w.params,
			 &ke2, &ke3, ck, ek), PAKE_ERR_INVALID);
	memset(&server, 0, sizeof(server));
	assert_int_equal(pake_opaque_server_login_finish(&server, &ke3, ck),
			 PAKE_ERR_INVALID);
	w.params.ksf = (enum pake_ksf)7;
	assert_int_equal(pake_opaque_client_login_start(&client, w.password,
							&ke1), PAKE_OK);
	assert_int_equal(pake_opaque_server_login_start(&server, &w.keys,
			 &w.params, w.user, &w.record, &ke1, &ke2),
			 PAKE_ERR_INVALID);
	keys = w.keys;
	keys.public_key[0] ^= 1;
	assert_int_equal(pake_opaque_server_keys_check(&keys),
			 PAKE_ERR_INVALID);
	keys = w.keys;
	memset(keys.private_key, 0xff, 32);
	assert_int_equal(pake_opaque_server_keys_check(&keys),
			 PAKE_ERR_INVALID);
	assert_string_equal(pake_strerror(PAKE_ERR_AUTH),
			    "authentication failed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_vector_1),
		cmocka_unit_test(test_real_vector_2),
		cmocka_unit_test(test_fake_vector_1),
		cmocka_unit_test(test_roundtrip_and_wrong_password),
		cmocka_unit_test(test_flipped_ke1),
		cmocka_unit_test(test_flipped_ke2),
		cmocka_unit_test(test_flipped_ke3),
		cmocka_unit_test(test_flipped_registration),
		cmocka_unit_test(test_flipped_record),
		cmocka_unit_test(test_identity_and_noncanonical),
		cmocka_unit_test(test_identity_in_registration),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_context_and_identity_binding),
		cmocka_unit_test(test_argon2id),
		cmocka_unit_test(test_misuse),
	};

	return cmocka_run_group_tests(tests, vec_setup, NULL);
}
