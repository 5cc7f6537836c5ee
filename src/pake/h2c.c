/*  anchord - pake/h2c.c: expand_message_xmd (RFC 9380 §5.3.1) with SHA-512,
 *  and the hash-to-ristretto255 and hash-to-scalar of RFC 9497 §4.1.
 *
 *  libsodium 1.0.18 has the element derivation (from_hash, RFC 9496 §4.3.4)
 *  and scalar reduction but not the expander in front of them.
 */
#include "internal.h"

#include <string.h>

#define XMD_BLOCK_BYTES 128		/* s_in_bytes of SHA-512 */
#define XMD_MAX_BLOCKS 255
#define XMD_MAX_OUT 65535
#define XMD_MAX_DST 255
#define H2C_WIDE_BYTES 64		/* xmd bytes per element or scalar */

/* DST_prime = DST || I2OSP(len(DST), 1), appended to every block hash. */
static void hash_dst_prime(crypto_hash_sha512_state *h, struct pake_str dst)
{
	uint8_t len = (uint8_t)dst.len;

	crypto_hash_sha512_update(h, dst.ptr, dst.len);
	crypto_hash_sha512_update(h, &len, 1);
}

/* A DST over 255 bytes is replaced by H("H2C-OVERSIZE-DST-" || DST). */
static struct pake_str short_dst(struct pake_str dst,
				 uint8_t buf[PAKE_HASH_BYTES])
{
	static const char oversize[] = "H2C-OVERSIZE-DST-";
	crypto_hash_sha512_state h;

	if (dst.len <= XMD_MAX_DST)
		return dst;
	crypto_hash_sha512_init(&h);
	crypto_hash_sha512_update(&h, (const uint8_t *)oversize,
				  sizeof(oversize) - 1);
	crypto_hash_sha512_update(&h, dst.ptr, dst.len);
	crypto_hash_sha512_final(&h, buf);
	return PAKE_STR(buf, PAKE_HASH_BYTES);
}

/* b_0 = H(Z_pad || msg || l_i_b_str || I2OSP(0, 1) || DST_prime) */
static void xmd_b0(uint8_t b0[PAKE_HASH_BYTES], const struct pake_str *msg,
		   size_t n, size_t out_len, struct pake_str dst)
{
	static const uint8_t z_pad[XMD_BLOCK_BYTES];
	crypto_hash_sha512_state h;
	uint8_t tail[3];
	size_t i;

	pake_be16(tail, out_len);
	tail[2] = 0;
	crypto_hash_sha512_init(&h);
	crypto_hash_sha512_update(&h, z_pad, sizeof(z_pad));
	for (i = 0; i < n; i++)
		crypto_hash_sha512_update(&h, msg[i].ptr, msg[i].len);
	crypto_hash_sha512_update(&h, tail, sizeof(tail));
	hash_dst_prime(&h, dst);
	crypto_hash_sha512_final(&h, b0);
}

/* b_i = H(strxor(b_0, b_(i-1)) || I2OSP(i, 1) || DST_prime), computed in
 * place over b_(i-1); the caller starts from zeros, so b_1 = H(b_0 || ...). */
static void xmd_bi(uint8_t bi[PAKE_HASH_BYTES],
		   const uint8_t b0[PAKE_HASH_BYTES], uint8_t i,
		   struct pake_str dst)
{
	crypto_hash_sha512_state h;
	uint8_t x[PAKE_HASH_BYTES];
	size_t j;

	for (j = 0; j < sizeof(x); j++)
		x[j] = b0[j] ^ bi[j];
	crypto_hash_sha512_init(&h);
	crypto_hash_sha512_update(&h, x, sizeof(x));
	crypto_hash_sha512_update(&h, &i, 1);
	hash_dst_prime(&h, dst);
	crypto_hash_sha512_final(&h, bi);
}

int pake_xmd_v(uint8_t *out, size_t out_len, const struct pake_str *msg,
	       size_t n, struct pake_str dst)
{
	uint8_t dst_buf[PAKE_HASH_BYTES], b0[PAKE_HASH_BYTES];
	uint8_t bi[PAKE_HASH_BYTES] = { 0 };
	size_t blocks = (out_len + PAKE_HASH_BYTES - 1) / PAKE_HASH_BYTES;
	size_t i, off, take;

	if (out_len == 0 || out_len > XMD_MAX_OUT || blocks > XMD_MAX_BLOCKS ||
	    dst.len == 0)
		return PAKE_ERR_INVALID;
	dst = short_dst(dst, dst_buf);
	xmd_b0(b0, msg, n, out_len, dst);
	for (i = 1, off = 0; i <= blocks; i++, off += take) {
		xmd_bi(bi, b0, (uint8_t)i, dst);
		take = out_len - off < sizeof(bi) ? out_len - off : sizeof(bi);
		memcpy(out + off, bi, take);
	}
	sodium_memzero(b0, sizeof(b0));
	sodium_memzero(bi, sizeof(bi));
	return PAKE_OK;
}

int pake_expand_message_xmd(uint8_t *out, size_t out_len, struct pake_str msg,
			    struct pake_str dst)
{
	return pake_xmd_v(out, out_len, &msg, 1, dst);
}

int pake_hash_to_scalar_v(uint8_t scalar[PAKE_SCALAR_BYTES],
			  const struct pake_str *msg, size_t n,
			  struct pake_str dst)
{
	uint8_t wide[H2C_WIDE_BYTES];
	int rc;

	/* 64 bytes never exceed the expander's limits; only the DST can. */
	rc = pake_xmd_v(wide, sizeof(wide), msg, n, dst);
	if (rc == PAKE_OK)
		crypto_core_ristretto255_scalar_reduce(scalar, wide);
	sodium_memzero(wide, sizeof(wide));
	return rc;
}

int pake_hash_to_scalar(uint8_t scalar[PAKE_SCALAR_BYTES],
			struct pake_str msg, struct pake_str dst)
{
	return pake_hash_to_scalar_v(scalar, &msg, 1, dst);
}

int pake_hash_to_group(uint8_t element[PAKE_ELEMENT_BYTES],
		       struct pake_str msg, struct pake_str dst)
{
	uint8_t wide[H2C_WIDE_BYTES];
	int rc;

	rc = pake_xmd_v(wide, sizeof(wide), &msg, 1, dst);
	if (rc == PAKE_OK)
		crypto_core_ristretto255_from_hash(element, wide);
	sodium_memzero(wide, sizeof(wide));
	return rc;
}
