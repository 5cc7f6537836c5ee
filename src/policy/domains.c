/*  anchord - policy/domains.c: sets of domain names, exact and subtree.
 *
 *  One open-addressing table with linear probing, keyed by the name in wire
 *  format without its root label (the "key"). A slot is 8 bytes: a 32-bit
 *  tag from the hash, so that a probe almost never reads a name that is not
 *  the one sought, and where the name lies in a byte arena (a length byte,
 *  then the key). The root is kept out of the table, in a flag.
 *
 *  A lookup hashes the query name and those of its ancestors that could
 *  match (entries of that many labels exist) and probes once for each: its
 *  cost grows with the labels of the query, never with the size of the
 *  set. With a million names the table no longer fits in a cache, and a
 *  read of it costs a trip to memory; so a small filter in front of it (one
 *  byte per slot) answers most misses, the common case, and every step
 *  runs over all suffixes with the memory it will need prefetched, so that
 *  the trips of one lookup overlap. tests/bench/bench_domains.c measures.
 *
 *  The names come from lists downloaded from third parties, so the hash is
 *  the keyed util_hash: no list can be crafted to make its names collide.
 *  The key is chosen once at start (util_hash_init), before any set exists.
 */
#include "policy/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAME_WIRE_MAX 255		/* RFC 1035, the root label included */
#define KEY_MAX (NAME_WIRE_MAX - 1)	/* the name without its root label */
#define LABEL_MAX 63
#define LABELS_MAX (KEY_MAX / 2)	/* a label takes two bytes at least */
#define TABLE_MIN_SLOTS 64
/* A filter of one byte per slot: 2 MiB for a million names, small enough
 * to stay in the cache where the table (16 MiB) cannot. */
#define SLOTS_PER_FILTER_WORD 8
/* An arena offset shares a 32-bit slot word with the subtree flag. */
#define ARENA_MAX ((size_t)1 << 31)
#define ARENA_MIN 4096
#define READ_CHUNK 65536

enum root_entry { ROOT_NONE = 0, ROOT_EXACT, ROOT_SUBTREE };

struct domain_slot {
	uint32_t tag;		/* the upper half of the key's hash */
	uint32_t ref;		/* arena offset << 1 | subtree; 0: empty */
};

struct policy_domains {
	struct domain_slot *slots;
	size_t mask;		/* slot count - 1 (a power of two) */
	uint64_t *filter;	/* one word per SLOTS_PER_FILTER_WORD slots */
	size_t used;		/* names in the table */
	uint8_t *arena;		/* byte 0 is never used, so no ref is 0 */
	size_t arena_len, arena_cap;
	enum root_entry root;
	/* Bit n: some entry has n labels (any entry; subtree entries). A
	 * lookup skips the suffixes no entry could match: a list of hosts
	 * (exact names) costs one probe, not one per label. */
	uint64_t labels_any[2], labels_subtree[2];
};

static inline uint8_t lower(uint8_t c)
{
	/* DNS ignores the case of ASCII letters, of those only (RFC 4343). */
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* SipHash-2-4, 20 to 30 ns for a short name on a slow machine: about a
 * third of a miss with a million entries, the rest is memory. A faster
 * keyed hash saved nothing measurable there. */
static inline uint64_t key_hash(const uint8_t *key, size_t len)
{
	return util_hash(key, len);
}

static inline const uint8_t *slot_key(const struct policy_domains *d,
				      const struct domain_slot *s)
{
	return d->arena + (s->ref >> 1);	/* length byte, then the key */
}

static inline bool slot_subtree(const struct domain_slot *s)
{
	return s->ref & 1;
}

static inline void set_bit(uint64_t bits[2], size_t n)
{
	bits[n >> 6] |= (uint64_t)1 << (n & 63);
}

static inline bool has_bit(const uint64_t bits[2], size_t n)
{
	return bits[n >> 6] >> (n & 63) & 1;
}

/* ---------------------------------------------------------- the table */

struct policy_domains *policy_domains_new(void)
{
	struct policy_domains *d = calloc(1, sizeof(*d));
	if (d)
		d->arena_len = 1;
	return d;
}

void policy_domains_free(struct policy_domains *d)
{
	if (!d)
		return;
	free(d->slots);
	free(d->filter);
	free(d->arena);
	free(d);
}

size_t policy_domains_count(const struct policy_domains *d)
{
	return d->used + (d->root != ROOT_NONE);
}

size_t policy_domains_memory(const struct policy_domains *d)
{
	size_t slots = d->slots ? d->mask + 1 : 0;
	return sizeof(*d) + slots * sizeof(struct domain_slot) +
	       slots / SLOTS_PER_FILTER_WORD * sizeof(uint64_t) + d->arena_cap;
}

/* The filter: a word for each group of slots (a key's word is that of its
 * home slot) with two bits set by each key homed there, taken from the
 * tag's bits, which the index does not use. A key whose two bits are not
 * both set is absent, and the table is not read: most lookups are of names
 * no list holds. About 2 to 3 in 100 absent keys pass anyway. */
static inline const uint64_t *filter_word(const struct policy_domains *d,
					  uint64_t hash)
{
	return &d->filter[(hash & d->mask) / SLOTS_PER_FILTER_WORD];
}

static inline uint64_t filter_bits(uint64_t hash)
{
	return (uint64_t)1 << (hash >> 32 & 63) |
	       (uint64_t)1 << (hash >> 38 & 63);
}

static inline bool filter_passes(const struct policy_domains *d,
				 uint64_t hash)
{
	uint64_t bits = filter_bits(hash);
	return (*filter_word(d, hash) & bits) == bits;
}

static inline void filter_add(struct policy_domains *d, uint64_t hash)
{
	*(uint64_t *)filter_word(d, hash) |= filter_bits(hash);
}

/* The slot that holds key, or the empty slot where it would go. The table
 * is never full (see table_add), so the walk ends. */
static struct domain_slot *probe(const struct policy_domains *d,
				 const uint8_t *key, size_t len, uint64_t hash)
{
	uint32_t tag = (uint32_t)(hash >> 32);
	for (size_t i = hash & d->mask;; i = (i + 1) & d->mask) {
		struct domain_slot *s = &d->slots[i];
		if (s->ref == 0)
			return s;
		if (s->tag != tag)
			continue;
		const uint8_t *stored = slot_key(d, s);
		if (stored[0] == len && memcmp(stored + 1, key, len) == 0)
			return s;
	}
}

/* Put a slot of the old table into the new one: its key is known to be
 * absent, so the first empty slot will do. */
static void reinsert(struct policy_domains *d, struct domain_slot s)
{
	const uint8_t *stored = slot_key(d, &s);
	uint64_t hash = key_hash(stored + 1, stored[0]);
	size_t i = hash & d->mask;
	while (d->slots[i].ref != 0)
		i = (i + 1) & d->mask;
	d->slots[i] = s;
	filter_add(d, hash);
}

/* Double the slots. The old tags do not hold the bits of the new index,
 * so each key is hashed again from the arena. */
static int grow(struct policy_domains *d)
{
	size_t old_count = d->slots ? d->mask + 1 : 0;
	size_t count = old_count ? old_count * 2 : TABLE_MIN_SLOTS;
	struct domain_slot *slots = calloc(count, sizeof(*slots));
	uint64_t *filter = calloc(count / SLOTS_PER_FILTER_WORD,
				  sizeof(*filter));
	if (!slots || !filter) {
		free(slots);
		free(filter);
		return -1;
	}
	struct domain_slot *old = d->slots;
	free(d->filter);
	d->slots = slots;
	d->filter = filter;
	d->mask = count - 1;
	for (size_t i = 0; i < old_count; i++)
		if (old[i].ref != 0)
			reinsert(d, old[i]);
	free(old);
	return 0;
}

/* Grow by half, not double: the arena is most of the memory of a big set,
 * and what it never fills is waste. Returns the offset of the copy. */
static int arena_append(struct policy_domains *d, const uint8_t *key,
			size_t len, uint32_t *offset)
{
	size_t need = d->arena_len + 1 + len;
	if (need > ARENA_MAX)
		return -1;
	if (need > d->arena_cap) {
		size_t cap = MAX(d->arena_cap + d->arena_cap / 2, ARENA_MIN);
		cap = MIN(MAX(cap, need), ARENA_MAX);
		uint8_t *arena = realloc(d->arena, cap);
		if (!arena)
			return -1;
		d->arena = arena;
		d->arena_cap = cap;
	}
	*offset = (uint32_t)d->arena_len;
	d->arena[d->arena_len] = (uint8_t)len;
	memcpy(d->arena + d->arena_len + 1, key, len);
	d->arena_len = need;
	return 0;
}

/* Give back what the arena holds beyond its names, once a list is in:
 * a set is built once and then read for hours. */
static void arena_trim(struct policy_domains *d)
{
	if (d->arena_cap == d->arena_len || !d->arena)
		return;
	uint8_t *arena = realloc(d->arena, d->arena_len);
	if (arena) {
		d->arena = arena;
		d->arena_cap = d->arena_len;
	}
}

static int table_add(struct policy_domains *d, const uint8_t *key, size_t len,
		     size_t labels, bool subtree)
{
	/* At most three quarters full: a miss then ends after a few slots,
	 * within one or two cache lines. */
	size_t slots = d->slots ? d->mask + 1 : 0;
	if ((d->used + 1) * 4 > slots * 3 && grow(d) != 0)
		return -1;
	uint64_t hash = key_hash(key, len);
	struct domain_slot *s = probe(d, key, len, hash);
	if (s->ref != 0) {
		s->ref |= subtree;	/* exact + subtree = subtree */
	} else {
		uint32_t offset;
		if (arena_append(d, key, len, &offset) != 0)
			return -1;
		s->tag = (uint32_t)(hash >> 32);
		s->ref = offset << 1 | subtree;
		filter_add(d, hash);
		d->used++;
	}
	set_bit(d->labels_any, labels);
	if (subtree)
		set_bit(d->labels_subtree, labels);
	return 0;
}

static void root_add(struct policy_domains *d, bool subtree)
{
	enum root_entry e = subtree ? ROOT_SUBTREE : ROOT_EXACT;
	if (e > d->root)
		d->root = e;
}

/* ---------------------------------------------------------- wire names */

/* The labels of a wire name: where each starts, and whether any byte is
 * an upper-case letter. Returns the key's length (the name without its
 * root label), or -1 when the name breaks the limits of RFC 1035. */
static int split_labels(const uint8_t *name, size_t starts[LABELS_MAX],
			size_t *n_labels, bool *upper)
{
	size_t len = 0, n = 0;
	unsigned upper_seen = 0;
	while (name[len] != 0) {
		size_t label = name[len];
		if (label > LABEL_MAX || len + 1 + label > KEY_MAX)
			return -1;
		starts[n++] = len;
		for (size_t i = 1; i <= label; i++)
			upper_seen |= (uint8_t)(name[len + i] - 'A') < 26;
		len += 1 + label;
	}
	*n_labels = n;
	*upper = upper_seen != 0;
	return (int)len;
}

static void copy_lower(uint8_t *key, const uint8_t *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		key[i] = lower(name[i]);	/* length bytes (< 64) too */
}

int policy_domains_add(struct policy_domains *d, const uint8_t *name,
		       enum policy_match how)
{
	uint8_t key[KEY_MAX];
	size_t starts[LABELS_MAX], n_labels;
	bool upper;
	int len = split_labels(name, starts, &n_labels, &upper);
	if (len < 0)
		return -1;
	bool subtree = how == POLICY_MATCH_SUBTREE;
	if (len == 0) {
		root_add(d, subtree);
		return 0;
	}
	copy_lower(key, name, (size_t)len);
	return table_add(d, key, (size_t)len, n_labels, subtree);
}

/* The suffixes of a name of n_labels labels (by the index of their first
 * label) that an entry could match: the name itself, by an entry of either
 * kind, and its ancestors, by subtree entries only, in both cases of a
 * label count some entry has. */
static size_t suffixes_to_probe(const struct policy_domains *d,
				size_t n_labels, size_t out[LABELS_MAX])
{
	size_t n = 0;
	for (size_t i = 0; i < n_labels; i++)
		if (has_bit(i == 0 ? d->labels_any : d->labels_subtree,
			    n_labels - i))
			out[n++] = i;
	return n;
}

/* Whether an entry matches one of the suffixes of key (of len bytes, its
 * labels starting at starts) that firsts names. Each step runs over all
 * suffixes before the next starts, with the memory it will need
 * prefetched: the trips to memory of one lookup overlap. */
static bool probe_suffixes(const struct policy_domains *d, const uint8_t *key,
			   size_t len, const size_t *starts, size_t *firsts,
			   size_t n)
{
	uint64_t hashes[LABELS_MAX];
	for (size_t i = 0; i < n; i++) {
		size_t at = starts[firsts[i]];
		hashes[i] = key_hash(key + at, len - at);
		__builtin_prefetch(filter_word(d, hashes[i]));
	}
	size_t passed = 0;
	for (size_t i = 0; i < n; i++) {
		if (!filter_passes(d, hashes[i]))
			continue;
		__builtin_prefetch(&d->slots[hashes[i] & d->mask]);
		firsts[passed] = firsts[i];
		hashes[passed++] = hashes[i];
	}
	for (size_t i = 0; i < passed; i++) {
		size_t at = starts[firsts[i]];
		const struct domain_slot *s =
			probe(d, key + at, len - at, hashes[i]);
		if (s->ref != 0 && (firsts[i] == 0 || slot_subtree(s)))
			return true;
	}
	return false;
}

bool policy_domains_match(const struct policy_domains *d,
			  const uint8_t *name)
{
	size_t starts[LABELS_MAX], n_labels;
	bool upper;
	int len = split_labels(name, starts, &n_labels, &upper);
	if (len < 0)
		return false;
	if (d->root == ROOT_SUBTREE || (d->root == ROOT_EXACT && len == 0))
		return true;
	if (len == 0 || d->used == 0)
		return false;
	/* The DNS layer hands over lower-cased names; other callers pay for
	 * a copy. */
	uint8_t lowered[KEY_MAX];
	const uint8_t *key = name;
	if (unlikely(upper)) {
		copy_lower(lowered, name, (size_t)len);
		key = lowered;
	}
	size_t firsts[LABELS_MAX];
	size_t n = suffixes_to_probe(d, n_labels, firsts);
	return probe_suffixes(d, key, (size_t)len, starts, firsts, n);
}

/* ---------------------------------------------------------- text names */

/* A name in text form, converted. */
struct text_name {
	uint8_t key[KEY_MAX];
	size_t len;		/* 0: the root */
	size_t labels;
	bool wildcard;		/* written "*.name" */
};

/* Convert text[0..tlen) ("Example.COM", "*.example.com.", ".") to a key.
 * Returns 0, or -1 with the reason in why. Host names have letters, digits
 * and hyphens; the underscore is allowed too, as lists carry names such as
 * _dmarc.example.com that DNS serves. */
static int parse_text_name(const char *text, size_t tlen,
			   struct text_name *out, char *why, size_t whylen)
{
	out->len = 0;
	out->labels = 0;
	out->wildcard = tlen >= 2 && text[0] == '*' && text[1] == '.';
	if (tlen == 1 && text[0] == '.')
		return 0;
	if (out->wildcard) {
		text += 2;
		tlen -= 2;
	}
	if (tlen > 0 && text[tlen - 1] == '.')
		tlen--;			/* the trailing dot is optional */
	if (tlen == 0) {
		snprintf(why, whylen, "empty name");
		return -1;
	}
	if (tlen + 1 > KEY_MAX) {	/* the first label's length byte */
		snprintf(why, whylen, "longer than 255 bytes");
		return -1;
	}
	size_t label_at = 0;		/* where the current length byte goes */
	for (size_t i = 0; i <= tlen; i++) {
		uint8_t c = i < tlen ? lower((uint8_t)text[i]) : '.';
		if (c == '.') {
			size_t label = i - label_at;
			if (label == 0 || label > LABEL_MAX) {
				snprintf(why, whylen, "%s", label == 0
					 ? "empty label"
					 : "label longer than 63 bytes");
				return -1;
			}
			out->key[label_at] = (uint8_t)label;
			out->labels++;
			label_at = i + 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_')) {
			if (c > ' ' && c < 0x7f)
				snprintf(why, whylen, "bad character '%c'", c);
			else
				snprintf(why, whylen, "bad byte 0x%02x", c);
			return -1;
		}
		out->key[i + 1] = c;
	}
	out->len = tlen + 1;
	return 0;
}

int policy_domains_add_text(struct policy_domains *d, const char *name,
			    enum policy_match how)
{
	struct text_name t;
	char why[64];
	if (parse_text_name(name, strlen(name), &t, why, sizeof(why)) != 0)
		return -1;
	bool subtree = t.wildcard || how == POLICY_MATCH_SUBTREE;
	if (t.len == 0) {
		root_add(d, subtree);
		return 0;
	}
	return table_add(d, t.key, t.len, t.labels, subtree);
}

/* ---------------------------------------------------------- lists */

/* Names of the machine itself that hosts files list for their own sake
 * (keys, so compared as bytes): blocking them would break the host. */
static const struct {
	const char *key;
	size_t len;
} host_own_names[] = {
#define KEY(k) { k, sizeof(k) - 1 }
	KEY("\x09" "localhost"),
	KEY("\x09" "localhost" "\x0b" "localdomain"),
	KEY("\x05" "local"),
	KEY("\x0d" "broadcasthost"),
	KEY("\x01" "0" "\x01" "0" "\x01" "0" "\x01" "0"),
#undef KEY
};

static bool host_own_name(const struct text_name *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(host_own_names); i++)
		if (t->len == host_own_names[i].len &&
		    memcmp(t->key, host_own_names[i].key, t->len) == 0)
			return true;
	/* ip6-localhost, ip6-loopback, ip6-allnodes, ip6-mcastprefix, ... */
	return t->key[0] + 1u == t->len && t->key[0] >= 4 &&
	       memcmp(t->key + 1, "ip6-", 4) == 0;
}

/* An IPv4 or IPv6 address, with an optional zone ("fe80::1%lo0"). */
static bool is_address(const char *token, size_t len)
{
	char text[INET6_ADDRSTRLEN + 16];
	if (len >= sizeof(text))
		return false;
	memcpy(text, token, len);
	text[len] = '\0';
	char *zone = strchr(text, '%');
	if (zone)
		*zone = '\0';
	uint8_t addr[16];
	return inet_pton(AF_INET, text, addr) == 1 ||
	       inet_pton(AF_INET6, text, addr) == 1;
}

static inline bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The next token of [*p, end): its start and length, or NULL at the end. */
static const char *next_token(const char **p, const char *end, size_t *len)
{
	const char *s = *p;
	while (s < end && is_blank(*s))
		s++;
	if (s == end)
		return NULL;
	const char *e = s;
	while (e < end && !is_blank(*e))
		e++;
	*p = e;
	*len = (size_t)(e - s);
	return s;
}

/* Reads lines out of chunks of bytes, of whatever size they come. */
struct loader {
	struct policy_domains *d;
	struct policy_load_report *report;
	char line[POLICY_LINE_MAX];
	size_t len;
	bool too_long;		/* the current line overflowed; wait for '\n' */
};

__attribute__((format(printf, 2, 3)))
static void skip_line(struct loader *ld, const char *fmt, ...)
{
	struct policy_load_report *r = ld->report;
	if (r->skipped++ > 0)
		return;
	r->first_bad_line = (unsigned)MIN(r->lines, (size_t)UINT32_MAX);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->first_bad, sizeof(r->first_bad), fmt, ap);
	va_end(ap);
}

/* A token as the report shows it: cut short, and with '?' for bytes that
 * would garble a log line or a terminal. */
#define TOKEN_SHOWN 41
static const char *printable(char out[TOKEN_SHOWN], const char *token,
			     size_t len)
{
	size_t n = MIN(len, (size_t)TOKEN_SHOWN - 1);
	for (size_t i = 0; i < n; i++)
		out[i] = token[i] > ' ' && token[i] < 0x7f ? token[i] : '?';
	out[n] = '\0';
	return out;
}

/* Add the names of [p, end), each an exact name or a subtree. All must be
 * valid, or none is added: a line is taken or skipped whole. Returns 0, or
 * -1 when out of memory. */
static int add_names(struct loader *ld, const char *p, const char *end,
		     bool subtree)
{
	struct text_name t;
	char why[64];
	const char *name, *scan = p;
	size_t nlen;
	while ((name = next_token(&scan, end, &nlen))) {
		if (parse_text_name(name, nlen, &t, why, sizeof(why)) != 0) {
			char shown[TOKEN_SHOWN];
			skip_line(ld, "\"%s\": %s",
				  printable(shown, name, nlen), why);
			return 0;
		}
		if (t.len == 0) {
			skip_line(ld, "the root: it would match every name");
			return 0;
		}
	}
	while ((name = next_token(&p, end, &nlen))) {
		parse_text_name(name, nlen, &t, why, sizeof(why));
		if (host_own_name(&t))
			continue;
		if (table_add(ld->d, t.key, t.len, t.labels,
			      subtree || t.wildcard) != 0)
			return -1;
		ld->report->added++;
	}
	return 0;
}

/* One line: "name", "*.name", or "address name...". */
static int parse_line(struct loader *ld, const char *line, size_t len)
{
	ld->report->lines++;
	if (ld->too_long) {
		skip_line(ld, "longer than %d bytes", POLICY_LINE_MAX);
		return 0;
	}
	const char *comment = memchr(line, '#', len);
	const char *end = comment ? comment : line + len;
	const char *p = line, *first, *second;
	size_t first_len, second_len;
	if (!(first = next_token(&p, end, &first_len)))
		return 0;		/* blank or a comment */
	const char *rest = p;
	second = next_token(&p, end, &second_len);
	if (is_address(first, first_len)) {
		if (!second) {
			skip_line(ld, "an address without a name");
			return 0;
		}
		return add_names(ld, rest, end, false);
	}
	if (second) {
		char shown[TOKEN_SHOWN];
		skip_line(ld, "\"%s\": not an address",
			  printable(shown, first, first_len));
		return 0;
	}
	return add_names(ld, first, end, true);
}

static int end_line(struct loader *ld)
{
	int ret = parse_line(ld, ld->line, ld->len);
	ld->len = 0;
	ld->too_long = false;
	return ret;
}

/* Feed bytes; each complete line is parsed. Returns 0, or -1 when out of
 * memory. */
static int loader_feed(struct loader *ld, const char *data, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		if (ld->too_long || take > sizeof(ld->line) - ld->len) {
			ld->too_long = true;
		} else {
			memcpy(ld->line + ld->len, data, take);
			ld->len += take;
		}
		if (!nl)
			return 0;
		if (end_line(ld) != 0)
			return -1;
		data += take + 1;
		n -= take + 1;
	}
	return 0;
}

/* The last line may lack its '\n'. */
static int loader_finish(struct loader *ld)
{
	return ld->len > 0 || ld->too_long ? end_line(ld) : 0;
}

static void loader_init(struct loader *ld, struct policy_domains *d,
			struct policy_load_report *report)
{
	memset(report, 0, sizeof(*report));
	ld->d = d;
	ld->report = report;
	ld->len = 0;
	ld->too_long = false;
}

int policy_domains_load_buffer(struct policy_domains *d, const char *data,
			       size_t len, struct policy_load_report *report)
{
	struct loader ld;
	loader_init(&ld, d, report);
	if (loader_feed(&ld, data, len) != 0 || loader_finish(&ld) != 0)
		return -1;
	arena_trim(d);
	return 0;
}

/* Read fd to its end through the loader. Returns 0 or an errno value. */
static int load_fd(struct loader *ld, int fd)
{
	char *chunk = malloc(READ_CHUNK);
	if (!chunk)
		return ENOMEM;
	int ret = 0;
	for (;;) {
		ssize_t n = read(fd, chunk, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? errno : 0;
			break;
		}
		if (loader_feed(ld, chunk, (size_t)n) != 0) {
			ret = ENOMEM;
			break;
		}
	}
	if (ret == 0 && loader_finish(ld) != 0)
		ret = ENOMEM;
	free(chunk);
	return ret;
}

int policy_domains_load(struct policy_domains *d, const char *path,
			struct policy_load_report *report, char *err,
			size_t errlen)
{
	struct policy_load_report unused;
	struct loader ld;
	loader_init(&ld, d, report ? report : &unused);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = fd < 0 ? errno : load_fd(&ld, fd);
	if (fd >= 0)
		close(fd);
	if (ret == 0) {
		arena_trim(d);
		return 0;
	}
	if (err && errlen > 0)
		snprintf(err, errlen, "%s: %s", path, strerror(ret));
	return -1;
}
