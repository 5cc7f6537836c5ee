/*  anchord - tests/fuzz/fuzz_blocklist.c: blocklists and domain sets.
 *
 *  The input is a blocklist, parsed by the loader policy_domains_load runs
 *  on a file's bytes; the report must be consistent, and lookups of a few
 *  names and of every token of the input must not fail. Each token is also
 *  an oracle: a name add_text takes must then match, as converted to wire
 *  format here, independently of domains.c. */
#include "policy/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define TOKENS_CHECKED 64

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	util_hash_init();
	return 0;
}

/* "*.Example.com." to wire as written (case kept): the text minus the
 * "*." and the trailing dot. Returns false when it does not fit. */
static bool to_wire(const char *text, uint8_t out[256])
{
	if (strncmp(text, "*.", 2) == 0)
		text += 2;
	size_t len = strlen(text), p = 0;
	if (len > 0 && text[len - 1] == '.')
		len--;
	while (len > 0) {
		const char *dot = memchr(text, '.', len);
		size_t n = dot ? (size_t)(dot - text) : len;
		if (n == 0 || n > 63 || p + 1 + n + 1 > 255)
			return false;
		out[p++] = (uint8_t)n;
		memcpy(out + p, text, n);
		p += n;
		text += n + (dot ? 1 : 0);
		len -= n + (dot ? 1 : 0);
	}
	out[p] = 0;
	return true;
}

static void check_report(const struct policy_load_report *r,
			 const struct policy_domains *d)
{
	if (r->skipped > r->lines || policy_domains_count(d) > r->added)
		abort();
	if ((r->skipped > 0) != (r->first_bad_line > 0) ||
	    r->first_bad_line > r->lines)
		abort();
	if (memchr(r->first_bad, '\0', sizeof(r->first_bad)) == NULL)
		abort();
}

/* Every token: look it up in the list's set, and add it alone to a set of
 * its own, where it must then be found. */
static void check_tokens(const struct policy_domains *list, const char *text)
{
	char *copy = strdup(text);
	if (!copy)
		return;
	uint8_t wire[256];
	static const char separators[] = " \t\r\n#";
	char *save = NULL;
	char *t = strtok_r(copy, separators, &save);
	for (int n = 0; t && n < TOKENS_CHECKED;
	     t = strtok_r(NULL, separators, &save), n++) {
		bool have_wire = to_wire(t, wire);
		if (have_wire)
			policy_domains_match(list, wire);
		struct policy_domains *one = policy_domains_new();
		if (!one)
			break;
		if (policy_domains_add_text(one, t, POLICY_MATCH_EXACT) == 0 &&
		    strcmp(t, ".") != 0 &&
		    (!have_wire || !policy_domains_match(one, wire)))
			abort();
		policy_domains_free(one);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_domains *d = policy_domains_new();
	if (!d)
		return 0;
	struct policy_load_report r;
	if (policy_domains_load_buffer(d, (const char *)data, size, &r) == 0) {
		check_report(&r, d);
		static const char *const names[] = {
			"\0", "\3com\0", "\7example\3com\0",
			"\3www\7example\3com\0", "\7EXAMPLE\3Com\0",
		};
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			policy_domains_match(d, (const uint8_t *)names[i]);
		/* The tokens, as C text: up to the first NUL byte. */
		char *text = malloc(size + 1);
		if (text) {
			memcpy(text, data, size);
			text[size] = '\0';
			check_tokens(d, text);
			free(text);
		}
	}
	policy_domains_free(d);
	return 0;
}
