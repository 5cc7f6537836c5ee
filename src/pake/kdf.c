/*  anchord - pake/kdf.c: HMAC-SHA-512 and HKDF-SHA-512 (RFC 2104, RFC 5869).
 *
 *  libsodium 1.0.18 has no HKDF, and its one-shot HMAC-SHA-512 takes
 *  32-byte keys only; the init/update/final form takes keys of any length,
 *  so everything here is built on that.
 */
#include "internal.h"

#include <string.h>

#define HKDF_MAX_BLOCKS 255

void pake_hmac(uint8_t out[PAKE_HASH_BYTES], struct pake_str key,
	       const struct pake_str *msg, size_t n)
{
	crypto_auth_hmacsha512_state st;
	size_t i;

	crypto_auth_hmacsha512_init(&st, key.ptr, key.len);
	for (i = 0; i < n; i++)
		crypto_auth_hmacsha512_update(&st, msg[i].ptr, msg[i].len);
	crypto_auth_hmacsha512_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void pake_hkdf_extract(uint8_t prk[PAKE_HASH_BYTES], struct pake_str salt,
		       struct pake_str ikm)
{
	/* HMAC pads its key with zeros, so an empty salt already equals the
	 * RFC's HashLen zeros; the array only avoids handing on NULL. */
	static const uint8_t no_salt[1];

	if (salt.len == 0)
		salt = PAKE_STR(no_salt, 0);
	pake_hmac(prk, salt, &ikm, 1);
}

int pake_hkdf_expand_v(uint8_t *out, size_t out_len, struct pake_str prk,
		       const struct pake_str *info, size_t n)
{
	crypto_auth_hmacsha512_state keyed, st;
	uint8_t t[PAKE_HASH_BYTES];
	uint8_t counter = 0;
	size_t done = 0, take, i;

	if (out_len > HKDF_MAX_BLOCKS * PAKE_HASH_BYTES)
		return PAKE_ERR_INVALID;
	/* Key once and copy the keyed state per block: re-keying would cost
	 * two more compressions each time. */
	crypto_auth_hmacsha512_init(&keyed, prk.ptr, prk.len);
	while (done < out_len) {
		st = keyed;
		if (counter)
			crypto_auth_hmacsha512_update(&st, t, sizeof(t));
		for (i = 0; i < n; i++)
			crypto_auth_hmacsha512_update(&st, info[i].ptr,
						      info[i].len);
		counter++;
		crypto_auth_hmacsha512_update(&st, &counter, 1);
		crypto_auth_hmacsha512_final(&st, t);
		take = out_len - done < sizeof(t) ? out_len - done : sizeof(t);
		memcpy(out + done, t, take);
		done += take;
	}
	sodium_memzero(&keyed, sizeof(keyed));
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(t, sizeof(t));
	return PAKE_OK;
}

int pake_hkdf_expand(uint8_t *out, size_t out_len, struct pake_str prk,
		     struct pake_str info)
{
	return pake_hkdf_expand_v(out, out_len, prk, &info, 1);
}
