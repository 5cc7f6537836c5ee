/*  anchord - enroll/proto.c: the anchor-enroll v1 protocol's building
 *  blocks, the same for the server and the client: codes, the PAKE inputs
 *  bound to the TLS exporter, the sealed bundle, the enrollment URI.
 */
#include "enroll/enroll.h"
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* ------------------------------------------------------------------ codes */

static void random_chars(char *out, size_t n)
{
	uint8_t r[ENROLL_CODE_SECRET_LEN];
	randombytes_buf(r, n);
	for (size_t i = 0; i < n; i++)
		out[i] = crockford[r[i] & 31];	/* 256 is a multiple of 32 */
	out[n] = '\0';
	sodium_memzero(r, sizeof(r));
}

void enroll_code_generate(struct enroll_code *c)
{
	random_chars(c->id, ENROLL_CODE_ID_LEN);
	random_chars(c->secret, ENROLL_CODE_SECRET_LEN);
}

/* A typed character as its canonical digit, or 0. */
static char canonical(int ch)
{
	ch = toupper((unsigned char)ch);
	if (ch == 'I' || ch == 'L')
		return '1';
	if (ch == 'O')
		return '0';
	return ch && strchr(crockford, ch) ? (char)ch : 0;
}

int enroll_code_parse(const char *text, struct enroll_code *out)
{
	char all[ENROLL_CODE_ID_LEN + ENROLL_CODE_SECRET_LEN];
	size_t n = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '-' || *p == ' ')
			continue;
		char c = canonical(*p);
		if (!c || n == sizeof(all))
			return -1;
		all[n++] = c;
	}
	if (n != sizeof(all))
		return -1;
	memcpy(out->id, all, ENROLL_CODE_ID_LEN);
	out->id[ENROLL_CODE_ID_LEN] = '\0';
	memcpy(out->secret, all + ENROLL_CODE_ID_LEN, ENROLL_CODE_SECRET_LEN);
	out->secret[ENROLL_CODE_SECRET_LEN] = '\0';
	sodium_memzero(all, sizeof(all));
	return 0;
}

bool enroll_code_id_valid(const char *text)
{
	if (strlen(text) != ENROLL_CODE_ID_LEN)
		return false;
	for (const char *p = text; *p; p++)
		if (!strchr(crockford, *p))
			return false;
	return true;
}

void enroll_code_format(const struct enroll_code *c, char *out)
{
	snprintf(out, ENROLL_CODE_TEXT_LEN + 1, "%s-%.4s-%.4s-%.4s", c->id,
		 c->secret, c->secret + 4, c->secret + 8);
}

/* ------------------------------------------------------------------ PAKE inputs */

size_t enroll_cpace_ci(uint8_t *out, size_t cap,
		       const uint8_t exporter[ENROLL_EXPORTER_BYTES])
{
	struct pake_str parts[] = {
		PAKE_STR(ENROLL_LABEL, sizeof(ENROLL_LABEL) - 1),
		PAKE_STR(exporter, ENROLL_EXPORTER_BYTES),
	};
	return pake_cpace_lv_cat(out, cap, parts, 2);
}

size_t enroll_cpace_adb(char *out, size_t cap, const char *adn)
{
	int n = snprintf(out, cap, ENROLL_LABEL " server %s", adn);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void enroll_opaque_context(uint8_t out[ENROLL_OPAQUE_CONTEXT_BYTES],
			   const uint8_t exporter[ENROLL_EXPORTER_BYTES])
{
	memcpy(out, ENROLL_LABEL, sizeof(ENROLL_LABEL) - 1);
	memcpy(out + sizeof(ENROLL_LABEL) - 1, exporter, ENROLL_EXPORTER_BYTES);
}

struct pake_opaque_params enroll_opaque_params(
	uint8_t context[ENROLL_OPAQUE_CONTEXT_BYTES],
	const uint8_t exporter[ENROLL_EXPORTER_BYTES], enum pake_ksf ksf)
{
	enroll_opaque_context(context, exporter);
	return (struct pake_opaque_params){
		.context = PAKE_STR(context, ENROLL_OPAQUE_CONTEXT_BYTES),
		.ksf = ksf,
	};
}

int enroll_user_fold(const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	if (n == 0 || n > ENROLL_MAX_USER || n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == ':')
			return -1;
		out[i] = (char)(c < 0x80 ? tolower(c) : c);
	}
	out[n] = '\0';
	return 0;
}

bool enroll_device_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > ENROLL_MAX_DEVICE || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

/* ------------------------------------------------------------------ the bundle */

void enroll_bundle_key(uint8_t key[ENROLL_KEY_BYTES], const uint8_t *ikm,
		       size_t ikm_len)
{
	uint8_t prk[PAKE_HASH_BYTES];
	pake_hkdf_extract(prk, PAKE_STR(ENROLL_LABEL, sizeof(ENROLL_LABEL) - 1),
			  PAKE_STR(ikm, ikm_len));
	pake_hkdf_expand(key, ENROLL_KEY_BYTES, PAKE_STR(prk, sizeof(prk)),
			 PAKE_STR("bundle", 6));
	sodium_memzero(prk, sizeof(prk));
}

int enroll_seal(uint8_t **out, size_t *out_len,
		const uint8_t key[ENROLL_KEY_BYTES],
		const uint8_t exporter[ENROLL_EXPORTER_BYTES],
		const uint8_t *plain, size_t len)
{
	uint8_t *box = malloc(ENROLL_NONCE_BYTES + len + ENROLL_TAG_BYTES);
	if (!box)
		return -1;
	randombytes_buf(box, ENROLL_NONCE_BYTES);
	unsigned long long clen;
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		box + ENROLL_NONCE_BYTES, &clen, plain, len, exporter,
		ENROLL_EXPORTER_BYTES, NULL, box, key);
	*out = box;
	*out_len = ENROLL_NONCE_BYTES + (size_t)clen;
	return 0;
}

int enroll_open(char **out, size_t *out_len,
		const uint8_t key[ENROLL_KEY_BYTES],
		const uint8_t exporter[ENROLL_EXPORTER_BYTES],
		const uint8_t *sealed, size_t len)
{
	if (len < ENROLL_NONCE_BYTES + ENROLL_TAG_BYTES)
		return -1;
	size_t max = len - ENROLL_NONCE_BYTES - ENROLL_TAG_BYTES;
	char *plain = malloc(max + 1);
	if (!plain)
		return -1;
	unsigned long long plen;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    (uint8_t *)plain, &plen, NULL, sealed + ENROLL_NONCE_BYTES,
		    len - ENROLL_NONCE_BYTES, exporter, ENROLL_EXPORTER_BYTES,
		    sealed, key) != 0) {
		free(plain);
		return -1;
	}
	plain[plen] = '\0';
	*out = plain;
	*out_len = (size_t)plen;
	return 0;
}

/* ------------------------------------------------------------------ encodings */

char *enroll_b64(const uint8_t *data, size_t len)
{
	const int v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
	size_t cap = sodium_base64_ENCODED_LEN(len, v);
	char *s = malloc(cap);
	if (s)
		sodium_bin2base64(s, cap, data, len, v);
	return s;
}

long enroll_unb64(const char *text, uint8_t *out, size_t cap)
{
	size_t len;
	const char *end;
	if (sodium_base642bin(out, cap, text, strlen(text), NULL, &len, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    *end != '\0')
		return -1;
	return (long)len;
}

/* ------------------------------------------------------------------ the URI */

static int uri_fail(char *why, size_t whylen, const char *text)
{
	snprintf(why, whylen, "%s", text);
	return -1;
}

/* HOST[:PORT] up to the first '/'. */
static int uri_authority(const char **p, struct enroll_uri *out, char *why,
			 size_t whylen)
{
	const char *s = *p, *host_end, *port = NULL;
	size_t auth_len = strcspn(s, "/?#");
	if (s[0] == '[') {
		host_end = memchr(s, ']', auth_len);
		if (!host_end)
			return uri_fail(why, whylen, "unclosed '[' in the host");
		if (host_end + 1 < s + auth_len) {
			if (host_end[1] != ':')
				return uri_fail(why, whylen, "bad host");
			port = host_end + 2;
		}
		s++;
	} else {
		port = memchr(s, ':', auth_len);
		host_end = port ? port : s + auth_len;
		if (port)
			port++;
	}
	size_t host_len = (size_t)(host_end - s);
	if (host_len == 0 || host_len >= sizeof(out->host))
		return uri_fail(why, whylen, "missing or overlong host");
	memcpy(out->host, s, host_len);
	out->host[host_len] = '\0';
	out->port = 443;
	if (port) {
		char digits[8];
		size_t n = (size_t)(*p + auth_len - port);
		uint64_t v;
		if (n == 0 || n >= sizeof(digits))
			return uri_fail(why, whylen, "bad port");
		memcpy(digits, port, n);
		digits[n] = '\0';
		if (util_parse_uint(digits, 1, 65535, &v) != 0)
			return uri_fail(why, whylen, "bad port");
		out->port = (uint16_t)v;
	}
	*p += auth_len;
	return 0;
}

/* One name=value of the query; values are plain (nothing to unescape in
 * a code or a base64url pin). */
static int uri_param(const char *name, size_t nlen, const char *value,
		     size_t vlen, struct enroll_uri *out, bool *have_code,
		     char *why, size_t whylen)
{
	char v[128];
	if (vlen >= sizeof(v))
		return uri_fail(why, whylen, "overlong query value");
	memcpy(v, value, vlen);
	v[vlen] = '\0';
	if (nlen == 4 && memcmp(name, "code", 4) == 0) {
		if (enroll_code_parse(v, &out->code) != 0)
			return uri_fail(why, whylen, "malformed code");
		*have_code = true;
	} else if (nlen == 3 && memcmp(name, "pin", 3) == 0) {
		if (enroll_unb64(v, out->pin, sizeof(out->pin)) != 32)
			return uri_fail(why, whylen, "malformed pin");
		out->has_pin = true;
	}
	sodium_memzero(v, sizeof(v));
	return 0;
}

int enroll_uri_parse(const char *text, struct enroll_uri *out, char *why,
		     size_t whylen)
{
	static const char scheme[] = "anchor://";
	memset(out, 0, sizeof(*out));
	if (strncasecmp(text, scheme, sizeof(scheme) - 1) != 0)
		return uri_fail(why, whylen, "not an anchor:// URI");
	const char *p = text + sizeof(scheme) - 1;
	if (uri_authority(&p, out, why, whylen) != 0)
		return -1;
	if (strncmp(p, "/enroll?", 8) != 0)
		return uri_fail(why, whylen, "the path must be /enroll?...");
	p += 8;
	bool have_code = false;
	while (*p && *p != '#') {
		size_t len = strcspn(p, "&#");
		const char *eq = memchr(p, '=', len);
		if (eq && uri_param(p, (size_t)(eq - p), eq + 1,
				    len - (size_t)(eq - p) - 1, out,
				    &have_code, why, whylen) != 0)
			return -1;
		p += len;
		if (*p == '&')
			p++;
	}
	if (!have_code)
		return uri_fail(why, whylen, "no code in the URI");
	return 0;
}

int enroll_uri_format(char *out, size_t cap, const char *host, uint16_t port,
		      const struct enroll_code *code, const uint8_t *pin)
{
	char text[ENROLL_CODE_TEXT_LEN + 1], portbuf[8] = "";
	enroll_code_format(code, text);
	if (port != 443)
		snprintf(portbuf, sizeof(portbuf), ":%u", port);
	bool v6 = strchr(host, ':') != NULL;
	char *pin64 = pin ? enroll_b64(pin, 32) : NULL;
	if (pin && !pin64)
		return -1;
	int n = snprintf(out, cap, "anchor://%s%s%s%s/enroll?code=%s%s%s",
			 v6 ? "[" : "", host, v6 ? "]" : "", portbuf, text,
			 pin64 ? "&pin=" : "", pin64 ? pin64 : "");
	free(pin64);
	sodium_memzero(text, sizeof(text));
	return n > 0 && (size_t)n < cap ? n : -1;
}

/* ------------------------------------------------------------------ server secrets */

/* A secret file of exactly len bytes in the state directory, made with
 * fill() when it does not exist yet. */
static int secret_file(const char *state_dir, const char *name, uint8_t *buf,
		       size_t len, void (*fill)(uint8_t *, size_t), char *err,
		       size_t errlen)
{
	char path[4096];
	if (util_path_join(path, sizeof(path), state_dir, name) != 0) {
		snprintf(err, errlen, "%s/%s: path too long", state_dir, name);
		return -1;
	}
	uint8_t *data = NULL;
	size_t n = 0;
	int rc = util_read_file(path, len + 1, &data, &n);
	if (rc == 0 && n == len) {
		memcpy(buf, data, len);
		sodium_memzero(data, n);
		free(data);
		return 0;
	}
	if (data)
		sodium_memzero(data, n);
	free(data);
	if (rc == 0 || rc != -ENOENT) {
		snprintf(err, errlen, "%s: %s", path,
			 rc == 0 ? "wrong size (damaged?)" : strerror(-rc));
		return -1;
	}
	fill(buf, len);
	rc = util_write_file_atomic(path, buf, len, 0600);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return -1;
	}
	return 0;
}

static void fill_opaque_keys(uint8_t *buf, size_t len)
{
	struct pake_opaque_server_keys k;
	(void)len;
	pake_opaque_server_keygen(&k);
	memcpy(buf, &k, sizeof(k));
	sodium_memzero(&k, sizeof(k));
}

int enroll_server_keys_load(const char *state_dir,
			    struct pake_opaque_server_keys *keys, char *err,
			    size_t errlen)
{
	if (secret_file(state_dir, "opaque.key", (uint8_t *)keys, sizeof(*keys),
			fill_opaque_keys, err, errlen) != 0)
		return -1;
	if (pake_opaque_server_keys_check(keys) != PAKE_OK) {
		snprintf(err, errlen, "%s/opaque.key: not a valid key pair",
			 state_dir);
		sodium_memzero(keys, sizeof(*keys));
		return -1;
	}
	return 0;
}

static void fill_random(uint8_t *buf, size_t len)
{
	randombytes_buf(buf, len);
}

int enroll_codes_key_load(const char *state_dir,
			  uint8_t key[ENROLL_KEY_BYTES], char *err,
			  size_t errlen)
{
	return secret_file(state_dir, "codes.key", key, ENROLL_KEY_BYTES,
			   fill_random, err, errlen);
}

void enroll_code_seal(uint8_t out[ENROLL_SEALED_SECRET_BYTES],
		      const uint8_t key[ENROLL_KEY_BYTES],
		      const struct enroll_code *c)
{
	randombytes_buf(out, ENROLL_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		out + ENROLL_NONCE_BYTES, NULL, (const uint8_t *)c->secret,
		ENROLL_CODE_SECRET_LEN, (const uint8_t *)c->id,
		ENROLL_CODE_ID_LEN, NULL, out, key);
}

int enroll_code_unseal(struct enroll_code *c,
		       const uint8_t key[ENROLL_KEY_BYTES],
		       const uint8_t *sealed, size_t len)
{
	if (len != ENROLL_SEALED_SECRET_BYTES ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt(
		    (uint8_t *)c->secret, NULL, NULL,
		    sealed + ENROLL_NONCE_BYTES, len - ENROLL_NONCE_BYTES,
		    (const uint8_t *)c->id, ENROLL_CODE_ID_LEN, sealed,
		    key) != 0)
		return -1;
	c->secret[ENROLL_CODE_SECRET_LEN] = '\0';
	return 0;
}
