/*  anchord - util/hash.c: keyed hashing for tables filled from the network. */
#include "util/util.h"

#include <sodium.h>
#include <string.h>

static unsigned char hash_key[crypto_shorthash_KEYBYTES];

void util_hash_init(void)
{
	randombytes_buf(hash_key, sizeof(hash_key));
}

uint64_t util_hash(const void *data, size_t len)
{
	unsigned char out[crypto_shorthash_BYTES];
	crypto_shorthash(out, data, len, hash_key);
	uint64_t h;
	memcpy(&h, out, sizeof(h));
	return h;
}
