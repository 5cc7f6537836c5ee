/*  anchord - tests/bench/bench_domains.c: domain sets with a million names
 *  (make bench-policy).
 *
 *  Writes a blocklist of BLOCKED random-ish names (2 to 4 labels under
 *  common top-level domains) twice, in plain-domain format (subtree
 *  entries) and in hosts format (exact names), loads each with
 *  policy_domains_load, and reports the time that takes, the memory the
 *  set holds (its own count, and the growth of the resident set size), and
 *  the cost of a lookup:
 *    miss       www.<random>.<tld>, 3 to 5 labels: what most traffic
 *               looks like to a blocklist
 *    listed     a blocked name itself
 *    below      a name 1 to 2 labels below a blocked one (a hit for the
 *               subtrees, a miss for the exact names)
 *  Queries are wire names in one array, read in order; the table is read
 *  at random, as real traffic would. Names come from a fixed seed: every
 *  run sees the same set. Times are CPU time, the best of ROUNDS.
 */
#include "policy/policy.h"

#include <malloc.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCKED 1000000
#define QUERIES 1000000
#define ROUNDS 3		/* the best of; a shared machine is noisy */

static const char *const tlds[] = {
	"com", "com", "com", "com", "net", "net", "org", "io", "info", "xyz",
	"ru", "de", "co.uk", "top", "online", "site", "app", "fr", "cn", "br",
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: fast and, with a fixed seed, the same names each run */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static unsigned below(unsigned n)
{
	return (unsigned)(rng() % n);
}

/* CPU time, not wall time: the machines that run this are shared, and a
 * run that waits for a core should not count the wait. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0, resident = 0;
	if (f) {
		if (fscanf(f, "%lu %lu", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* A label of 3 to 14 characters, mostly letters, some digits and
 * hyphens inside (as ad and tracker hosts have). */
static char *random_label(char *p)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz"
				    "abcdefghijklmnopqrstuvwxyz0123456789-";
	unsigned len = 3 + below(12);
	for (unsigned i = 0; i < len; i++) {
		char c = chars[below(sizeof(chars) - 1)];
		*p++ = (c == '-' && (i == 0 || i == len - 1)) ? 'x' : c;
	}
	return p;
}

/* labels random labels, then a top-level domain. */
static void random_name(char *out, unsigned labels)
{
	char *p = out;
	for (unsigned i = 0; i < labels; i++) {
		p = random_label(p);
		*p++ = '.';
	}
	strcpy(p, tlds[below(ARRAY_SIZE(tlds))]);
}

/* Wire names back to back. */
struct queries {
	uint8_t *buf;
	size_t len, cap;
	size_t count;
};

static void push_wire(struct queries *q, const char *text)
{
	if (q->len + 256 > q->cap) {
		q->cap = q->cap ? q->cap * 2 : 1 << 20;
		q->buf = realloc(q->buf, q->cap);
		if (!q->buf) {
			perror("bench_domains");
			exit(1);
		}
	}
	uint8_t *out = q->buf + q->len;
	size_t p = 0;
	while (*text) {
		const char *dot = strchr(text, '.');
		size_t n = dot ? (size_t)(dot - text) : strlen(text);
		out[p++] = (uint8_t)n;
		memcpy(out + p, text, n);
		p += n;
		text += n + (dot ? 1 : 0);
	}
	out[p++] = 0;
	q->len += p;
	q->count++;
}

static size_t wire_len(const uint8_t *name)
{
	size_t n = 0;
	while (name[n])
		n += name[n] + 1u;
	return n + 1;
}

/* Best nanoseconds per lookup over ROUNDS, and how many matched. */
static double time_lookups(const struct policy_domains *d,
			   const struct queries *q, size_t *matched)
{
	double best = 1e9;
	for (int round = 0; round < ROUNDS; round++) {
		size_t hits = 0;
		double t = now();
		for (const uint8_t *n = q->buf; n < q->buf + q->len;
		     n += wire_len(n))
			hits += policy_domains_match(d, n);
		t = now() - t;
		best = MIN(best, t * 1e9 / (double)q->count);
		*matched = hits;
	}
	return best;
}

/* The blocklist, in one format or the other. */
static void write_blocklist(const char *path, char **names, bool hosts)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fprintf(f, "# bench_domains: %d names\n", BLOCKED);
	for (size_t i = 0; i < BLOCKED; i++)
		fprintf(f, "%s%s\n", hosts ? "0.0.0.0 " : "", names[i]);
	if (fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

struct result {
	double load_s;
	size_t lines, count, memory, rss_growth;
	double ns[3];
	size_t matched[3];
};

static void measure(const char *path, const struct queries q[3],
		    struct result *r)
{
	size_t rss_before = rss_bytes();
	struct policy_domains *d = policy_domains_new();
	struct policy_load_report report;
	char err[256];
	double t = now();
	if (policy_domains_load(d, path, &report, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_domains: %s\n", err);
		exit(1);
	}
	r->load_s = now() - t;
	r->rss_growth = rss_bytes() - rss_before;
	r->lines = report.lines;
	r->count = policy_domains_count(d);
	r->memory = policy_domains_memory(d);
	for (int i = 0; i < 3; i++)
		r->ns[i] = time_lookups(d, &q[i], &r->matched[i]);
	policy_domains_free(d);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	util_hash_init();
	/* A fixed threshold: glibc would raise it when the first set's big
	 * blocks are freed, and the second set would then grow inside the
	 * heap, where the tables it outgrew stay resident. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	char **names = malloc(BLOCKED * sizeof(*names));
	if (!names)
		return 1;
	char text[512];
	for (size_t i = 0; i < BLOCKED; i++) {
		/* 2 to 4 labels in all, the top-level domain included */
		random_name(text, 1 + below(3));
		names[i] = strdup(text);
	}

	/* miss, hit on the name, hit below it */
	struct queries q[3] = { { 0 } };
	for (size_t i = 0; i < QUERIES; i++) {
		snprintf(text, sizeof(text), "www.");
		random_name(text + 4, 1 + below(3));	/* 3 to 5 labels */
		push_wire(&q[0], text);
		push_wire(&q[1], names[below(BLOCKED)]);
		char *p = random_label(text);
		if (below(2)) {
			*p++ = '.';
			p = random_label(p);
		}
		snprintf(p, sizeof(text) - (size_t)(p - text), ".%s",
			 names[below(BLOCKED)]);
		push_wire(&q[2], text);
	}

	char path[64];
	snprintf(path, sizeof(path), "/tmp/anchord-bench-domains-%d",
		 (int)getpid());
	struct result plain, hosts;
	write_blocklist(path, names, false);
	measure(path, q, &plain);
	write_blocklist(path, names, true);
	measure(path, q, &hosts);
	unlink(path);

	printf("domain sets, %d random names of 2 to 4 labels "
	       "(CPU time, best of %d)\n", BLOCKED, ROUNDS);
	printf("  %-30s %16s %16s\n", "", "plain (subtrees)", "hosts (exact)");
	printf("  %-30s %16zu %16zu\n", "entries", plain.count, hosts.count);
	printf("  %-30s %13.0f ms %13.0f ms\n", "load (policy_domains_load)",
	       plain.load_s * 1e3, hosts.load_s * 1e3);
	printf("  %-30s %13.0f ns %13.0f ns\n", "  per line",
	       plain.load_s * 1e9 / (double)plain.lines,
	       hosts.load_s * 1e9 / (double)hosts.lines);
	printf("  %-30s %12.1f MiB %12.1f MiB\n", "policy_domains_memory",
	       (double)plain.memory / 1048576, (double)hosts.memory / 1048576);
	printf("  %-30s %16.1f %16.1f\n", "  bytes per entry",
	       (double)plain.memory / (double)plain.count,
	       (double)hosts.memory / (double)hosts.count);
	printf("  %-30s %16.1f %16.1f\n", "RSS growth, bytes per entry",
	       (double)plain.rss_growth / (double)plain.count,
	       (double)hosts.rss_growth / (double)hosts.count);
	static const char *const kinds[3] = {
		"lookup: miss, www.<x>.<tld>", "lookup: a listed name",
		"lookup: 1-2 labels below one",
	};
	for (int i = 0; i < 3; i++)
		printf("  %-30s %13.0f ns %13.0f ns\n", kinds[i], plain.ns[i],
		       hosts.ns[i]);
	for (int i = 0; i < 3; i++)
		printf("  %-30s %16.4f %16.4f\n",
		       i == 0 ? "  share matched (same order)" : "",
		       (double)plain.matched[i] / QUERIES,
		       (double)hosts.matched[i] / QUERIES);

	for (size_t i = 0; i < BLOCKED; i++)
		free(names[i]);
	free(names);
	for (int i = 0; i < 3; i++)
		free(q[i].buf);
	return 0;
}
