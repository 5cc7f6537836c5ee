/*  anchord - tests/fuzz/fuzz_frame.c: DNS over TCP framing.
 *  The first byte picks a chunk size and a buffer budget (none, or a
 *  small one); the rest is the byte stream. The budget must hold, and be
 *  given back whole. */
#include "net/internal.h"

#include <stdlib.h>

static bool count(void *ctx, const uint8_t *msg, size_t len)
{
	if (len == 0 || len > 65535)
		abort();
	(*(size_t *)ctx) += len;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] % 17 + 1;
	size_t used = 0, limit = (size_t)(data[0] >> 5) * 700;
	struct net_framer f = { .budget_used = limit ? &used : NULL,
				.budget_limit = limit };
	size_t total = 0;
	for (size_t off = 1; off < size; off += chunk) {
		size_t n = MIN(chunk, size - off);
		if (net_framer_feed(&f, data + off, n, count, &total) != 0)
			break;
		if (used > limit || (limit && used != f.cap))
			abort();	/* the budget is what the buffer holds */
	}
	if (total > size)
		abort();
	net_framer_reset(&f);
	if (used != 0)
		abort();
	return 0;
}
