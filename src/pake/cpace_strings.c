/*  anchord - pake/cpace_strings.c: the string functions of CPace
 *  (draft-irtf-cfrg-cpace-21 §6.3, appendix A): LEB128, prepend_len,
 *  lv_cat, ordered concatenation, the transcripts and generator_string.
 *
 *  Each is written once, against a sink that either fills a buffer (the
 *  public utilities, checked by the draft's vectors) or feeds SHA-512 (the
 *  protocol, which never builds the strings in memory).
 */
#include "internal.h"

#include <string.h>

#define LEB128_MAX_BYTES 10		/* a 64-bit length */
#define LV_PARTS 4			/* lv_cat(Y, AD) as byte strings */

static size_t leb128(uint8_t out[LEB128_MAX_BYTES], size_t value)
{
	size_t n = 0;

	do {
		out[n] = value & 0x7f;
		value >>= 7;
		if (value)
			out[n] |= 0x80;
		n++;
	} while (value);
	return n;
}

void pake_sink_put(struct pake_sink *s, struct pake_str x)
{
	if (x.len == 0)
		return;
	if (s->hash)
		crypto_hash_sha512_update(s->hash, x.ptr, x.len);
	else if (s->mac)
		crypto_auth_hmacsha512_update(s->mac, x.ptr, x.len);
	else if (x.len <= s->cap && s->len <= s->cap - x.len)
		memcpy(s->buf + s->len, x.ptr, x.len);
	s->len += x.len;
}

void pake_sink_lv(struct pake_sink *s, struct pake_str x)
{
	uint8_t len[LEB128_MAX_BYTES];

	pake_sink_put(s, PAKE_STR(len, leb128(len, x.len)));
	pake_sink_put(s, x);
}

/* lv_cat(Y, AD) as a list of byte strings, for comparing without copying;
 * @len holds the two length prefixes. */
static void lv_pair(struct pake_str parts[LV_PARTS],
		    uint8_t len[2][LEB128_MAX_BYTES], struct pake_str y,
		    struct pake_str ad)
{
	parts[0] = PAKE_STR(len[0], leb128(len[0], y.len));
	parts[1] = y;
	parts[2] = PAKE_STR(len[1], leb128(len[1], ad.len));
	parts[3] = ad;
}

/* The next byte of the concatenation of @parts, walking @at (part, offset). */
static bool next_byte(const struct pake_str *parts, size_t n, size_t at[2],
		      uint8_t *byte)
{
	while (at[0] < n && at[1] == parts[at[0]].len) {
		at[0]++;
		at[1] = 0;
	}
	if (at[0] == n)
		return false;
	*byte = parts[at[0]].ptr[at[1]++];
	return true;
}

/* lexiographically_larger() of two concatenations; they are public
 * (messages and associated data), so the comparison may branch. */
static bool parts_larger(const struct pake_str *a, size_t na,
			 const struct pake_str *b, size_t nb)
{
	size_t at_a[2] = { 0, 0 }, at_b[2] = { 0, 0 };
	uint8_t x, y;
	bool more_a, more_b;

	for (;;) {
		more_a = next_byte(a, na, at_a, &x);
		more_b = next_byte(b, nb, at_b, &y);
		if (!more_a || !more_b)
			return more_a;
		if (x != y)
			return x > y;
	}
}

void pake_sink_transcript(struct pake_sink *s, bool ordered,
			  struct pake_str ya, struct pake_str ada,
			  struct pake_str yb, struct pake_str adb)
{
	struct pake_str a[LV_PARTS], b[LV_PARTS];
	uint8_t len_a[2][LEB128_MAX_BYTES], len_b[2][LEB128_MAX_BYTES];
	const struct pake_str *first = a, *second = b;
	size_t i;

	lv_pair(a, len_a, ya, ada);
	lv_pair(b, len_b, yb, adb);
	if (ordered) {
		pake_sink_put(s, PAKE_LIT("oc"));
		if (!parts_larger(a, LV_PARTS, b, LV_PARTS)) {
			first = b;
			second = a;
		}
	}
	for (i = 0; i < LV_PARTS; i++)
		pake_sink_put(s, first[i]);
	for (i = 0; i < LV_PARTS; i++)
		pake_sink_put(s, second[i]);
}

/* lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid), where the padding makes
 * DSI and PRS fill the first 128-byte block of the hash. */
void pake_sink_generator_string(struct pake_sink *s,
				const struct pake_cpace_inputs *in)
{
	static const uint8_t zeros[128];
	uint8_t scratch[LEB128_MAX_BYTES];
	size_t dsi_len = sizeof(PAKE_CPACE_DSI) - 1;
	size_t used = 1 + leb128(scratch, in->prs.len) + in->prs.len +
		      leb128(scratch, dsi_len) + dsi_len;
	size_t zpad = used < sizeof(zeros) ? sizeof(zeros) - used : 0;

	pake_sink_lv(s, PAKE_LIT(PAKE_CPACE_DSI));
	pake_sink_lv(s, in->prs);
	pake_sink_lv(s, PAKE_STR(zeros, zpad));
	pake_sink_lv(s, in->ci);
	pake_sink_lv(s, in->sid);
}

static struct pake_sink buffer_sink(uint8_t *out, size_t cap)
{
	return (struct pake_sink){ .buf = out, .cap = out ? cap : 0 };
}

size_t pake_cpace_prepend_len(uint8_t *out, size_t cap, struct pake_str s)
{
	struct pake_sink sink = buffer_sink(out, cap);

	pake_sink_lv(&sink, s);
	return sink.len;
}

size_t pake_cpace_lv_cat(uint8_t *out, size_t cap,
			 const struct pake_str *parts, size_t n)
{
	struct pake_sink sink = buffer_sink(out, cap);
	size_t i;

	for (i = 0; i < n; i++)
		pake_sink_lv(&sink, parts[i]);
	return sink.len;
}

bool pake_cpace_lexicographically_larger(struct pake_str a, struct pake_str b)
{
	return parts_larger(&a, 1, &b, 1);
}

size_t pake_cpace_o_cat(uint8_t *out, size_t cap, struct pake_str a,
			struct pake_str b)
{
	struct pake_sink sink = buffer_sink(out, cap);
	bool a_first = parts_larger(&a, 1, &b, 1);

	pake_sink_put(&sink, PAKE_LIT("oc"));
	pake_sink_put(&sink, a_first ? a : b);
	pake_sink_put(&sink, a_first ? b : a);
	return sink.len;
}

size_t pake_cpace_transcript_ir(uint8_t *out, size_t cap, struct pake_str ya,
				struct pake_str ada, struct pake_str yb,
				struct pake_str adb)
{
	struct pake_sink sink = buffer_sink(out, cap);

	pake_sink_transcript(&sink, false, ya, ada, yb, adb);
	return sink.len;
}

size_t pake_cpace_transcript_oc(uint8_t *out, size_t cap, struct pake_str ya,
				struct pake_str ada, struct pake_str yb,
				struct pake_str adb)
{
	struct pake_sink sink = buffer_sink(out, cap);

	pake_sink_transcript(&sink, true, ya, ada, yb, adb);
	return sink.len;
}

size_t pake_cpace_generator_string(uint8_t *out, size_t cap,
				   const struct pake_cpace_inputs *in)
{
	struct pake_sink sink = buffer_sink(out, cap);

	pake_sink_generator_string(&sink, in);
	return sink.len;
}
