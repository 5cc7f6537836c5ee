/*  anchord - policy/pep.c: the PEP export thread.
 *
 *  Worker threads queue facts (device D got address A for name N with TTL
 *  T); one thread takes them off in batches and, per batch, runs one
 *  libnftables transaction that creates the device's sets when first
 *  needed and puts A into D's set with a timeout. Then it tells the
 *  listener.
 *
 *  Why the element commands come in threes: on older kernels re-adding an
 *  element that exists is a silent no-op, so its timeout is not refreshed
 *  (nftables wiki, "Element timeouts": the element must be recreated).
 *  Kernel commit 4201f3938914 ("netfilter: nf_tables: set element timeout
 *  update support", reported as Linux 6.12) changed that. "add; delete;
 *  add" in one transaction recreates the element on every kernel: the first
 *  add makes sure the delete finds something, and the transaction is
 *  atomic, so packets never see the element missing.
 *
 *  Why the thread remembers expiries: with that commit a plain add replaces
 *  the timeout, a shorter one too (seen on 6.18), and recreating always
 *  does. An address may be behind several names of the device, so a short
 *  answer must not cut a long one: an element is written only when the new
 *  expiry lies beyond the one already written, and a rewrite keeps the
 *  later expiry. A write is trusted for a minute only: someone may flush
 *  the table, and only a failing write tells.
 */
#include "policy/policy.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PEP_QUEUE_DEFAULT 4096
#define PEP_MIN_TIMEOUT_DEFAULT 60
#define PEP_MAX_TIMEOUT_DEFAULT 86400
/* Facts per nftables transaction: bounds the command buffer and the time
 * the queue waits for the thread, yet amortises a transaction well. */
#define PEP_BATCH_MAX 256
/* With nothing queued the thread still wakes now and then, to forget the
 * expiries that have passed. */
#define PEP_IDLE_WAIT_MS 1000
#define PEP_PRUNE_EVERY_MS 60000
/* TTLs have one-second granularity: a cached answer handed out a moment
 * later may promise up to a second more without anything having changed. */
#define PEP_EXPIRY_SLACK_MS 1000
/* How long a written element is trusted to still be there. */
#define PEP_REWRITE_EVERY_MS 60000
#define PEP_GROUP "pep"

/* ------------------------------------------------------------------ addresses */

/* An address as a hash key: family 4 or 6 and its bytes (IPv4 in the
 * first four, the rest zero). */
struct pep_key {
	uint8_t family;
	uint8_t bytes[16];
};

/* IPv4-mapped IPv6 addresses become IPv4: a dual-stack device reaching
 * ::ffff:a.b.c.d sends IPv4 packets, and its rules are IPv4 rules. */
static bool pep_key_from(const struct util_addr *a, struct pep_key *key)
{
	memset(key, 0, sizeof(*key));
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&a->ss;
		key->family = 4;
		memcpy(key->bytes, &in->sin_addr, 4);
		return true;
	}
	if (a->ss.ss_family != AF_INET6)
		return false;
	const struct sockaddr_in6 *in6 = (const void *)&a->ss;
	if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		key->family = 4;
		memcpy(key->bytes, &in6->sin6_addr.s6_addr[12], 4);
	} else {
		key->family = 6;
		memcpy(key->bytes, &in6->sin6_addr, 16);
	}
	return true;
}

static void pep_key_text(const struct pep_key *key, char out[INET6_ADDRSTRLEN])
{
	if (!inet_ntop(key->family == 4 ? AF_INET : AF_INET6, key->bytes, out,
		       INET6_ADDRSTRLEN))
		out[0] = '\0';
}

/* "mud4_10_20_0_5": the prefix names the elements' family. */
static bool pep_set_name_of(const struct pep_key *device, int family,
			    char *out, size_t cap)
{
	char text[INET6_ADDRSTRLEN];
	pep_key_text(device, text);
	int n = snprintf(out, cap, "mud%d_%s", family, text);
	if (text[0] == '\0' || n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return false;
	}
	for (char *c = out; *c; c++)
		if (*c == '.' || *c == ':')
			*c = '_';
	return true;
}

void policy_pep_set_name(const struct util_addr *device, int family,
			 char *out, size_t cap)
{
	struct pep_key key;
	if (cap == 0)
		return;
	out[0] = '\0';
	if ((family != 4 && family != 6) || !pep_key_from(device, &key))
		return;
	pep_set_name_of(&key, family, out, cap);
}

/* ------------------------------------------------------------------ map */

/* Open addressing, linear probing, keyed SipHash (addresses come from the
 * network). No deletion: pruning rebuilds. */
struct pep_slot {
	struct pep_key key;
	bool used;
	bool doubtful;			/* the write may have been undone */
	uint64_t value;			/* an expiry, or an index */
	uint64_t stamp;			/* when the expiry was written */
};

struct pep_map {
	struct pep_slot *slots;
	size_t cap;			/* 0 or a power of two */
	size_t count;
};

static size_t pep_map_home(const struct pep_map *m, const struct pep_key *k)
{
	return (size_t)util_hash(k, sizeof(*k)) & (m->cap - 1);
}

static struct pep_slot *pep_map_slot(const struct pep_map *m,
				     const struct pep_key *k)
{
	size_t i = pep_map_home(m, k);
	while (m->slots[i].used && memcmp(&m->slots[i].key, k, sizeof(*k)) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static struct pep_slot *pep_map_find(const struct pep_map *m,
				     const struct pep_key *k)
{
	if (m->count == 0)
		return NULL;
	struct pep_slot *s = pep_map_slot(m, k);
	return s->used ? s : NULL;
}

static bool pep_map_resize(struct pep_map *m, size_t cap)
{
	struct pep_map bigger = { .cap = cap };
	bigger.slots = calloc(cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return false;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].used)
			*pep_map_slot(&bigger, &m->slots[i].key) = m->slots[i];
	bigger.count = m->count;
	free(m->slots);
	*m = bigger;
	return true;
}

/* The slot of k, added when missing (NULL when out of memory). Pointers
 * into the map stay valid until the next put. */
static struct pep_slot *pep_map_put(struct pep_map *m, const struct pep_key *k)
{
	if ((m->count + 1) * 2 > m->cap &&
	    !pep_map_resize(m, m->cap ? m->cap * 2 : 16))
		return NULL;
	struct pep_slot *s = pep_map_slot(m, k);
	if (!s->used) {
		*s = (struct pep_slot){ .key = *k, .used = true };
		m->count++;
	}
	return s;
}

static void pep_map_clear(struct pep_map *m)
{
	free(m->slots);
	*m = (struct pep_map){ 0 };
}

/* Drop the entries whose value is below floor (expiries in the past). */
static void pep_map_prune(struct pep_map *m, uint64_t floor)
{
	struct pep_map live = { 0 };
	for (size_t i = 0; i < m->cap; i++) {
		const struct pep_slot *s = &m->slots[i];
		if (!s->used || s->value < floor)
			continue;
		struct pep_slot *copy = pep_map_put(&live, &s->key);
		if (!copy) {
			pep_map_clear(&live);
			return;		/* keep the old one: still correct */
		}
		*copy = *s;
	}
	pep_map_clear(m);
	*m = live;
}

/* ------------------------------------------------------------------ text buffer */

struct pep_buf {
	char *data;
	size_t len, cap;
	bool failed;			/* out of memory: the text is cut */
};

static void pep_buf_printf(struct pep_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pep_buf_printf(struct pep_buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->len;
		int n = b->data ? vsnprintf(b->data + b->len, room, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t want = b->cap ? b->cap * 2 : 16384;
		char *bigger = want > b->cap ? realloc(b->data, want) : NULL;
		if (!bigger) {
			b->failed = true;
			return;
		}
		b->data = bigger;
		b->cap = want;
	}
}

static void pep_buf_reset(struct pep_buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

/* ------------------------------------------------------------------ the exporter */

/* What the thread knows about one device: its sets, and how long each
 * address it was given is already in them. */
struct pep_device {
	struct pep_key key;
	char text[INET6_ADDRSTRLEN];
	char set_name[2][POLICY_PEP_SET_NAME_MAX];	/* [0] IPv4, [1] IPv6 */
	bool set_made[2];
	struct pep_map expiries;	/* address -> monotonic ms */
};

/* One fact of the batch, checked and looked up. */
struct pep_item {
	bool valid;
	size_t device;			/* index in devices */
	struct pep_key address;
	uint32_t timeout;
};

struct policy_pep {
	/* Fixed at start. */
	bool nftables;
	char family[8];
	char table[64];
	uint32_t min_timeout, max_timeout;

	/* The queue: a ring the workers append to and the thread empties. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct policy_pep_fact *ring;
	size_t cap, head, count;
	bool stopping;

	/* Called under its own lock, so that clearing it is final. */
	pthread_mutex_t listener_lock;
	policy_pep_listener_fn listener;
	void *listener_ctx;

	_Atomic uint64_t facts, written, dropped, failed, errors;

	/* The thread's own. */
	pthread_t thread;
	struct nft_ctx *nft;
	char nft_error[256];		/* of the last failed run */
	bool table_unsure;		/* after an error: add it again */
	struct pep_map device_index;	/* device key -> index in devices */
	struct pep_device *devices;
	size_t n_devices, devices_cap;
	struct pep_buf cmd;
	uint64_t next_prune_ms;
	struct policy_pep_fact batch[PEP_BATCH_MAX];
	struct pep_item items[PEP_BATCH_MAX];
};

/* Release, paired with the acquire in policy_pep_stats: a caller that
 * sees a fact counted also sees its writes and events. */
static void pep_count(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_release);
}

/* ------------------------------------------------------------------ nftables */

/* Run commands as one transaction. Reading the buffers also empties them
 * (libnftables rewinds them), so they never grow; the first line of the
 * error text stays in p->nft_error. */
static bool pep_nft_run(struct policy_pep *p, const char *commands)
{
	bool ok = nft_run_cmd_from_buffer(p->nft, commands) == 0;
	const char *text = nft_ctx_get_error_buffer(p->nft);
	nft_ctx_get_output_buffer(p->nft);
	if (ok)
		return true;
	if (!text || !*text)
		text = "unknown error";
	if (strncmp(text, "Error: ", 7) == 0)
		text += 7;
	int n = (int)strcspn(text, "\n");
	snprintf(p->nft_error, sizeof(p->nft_error), "%.*s", n, text);
	return false;
}

/* After an error someone may have flushed or deleted the table: make table
 * and sets again (adding them is harmless when they exist) and doubt every
 * element written. The expiries stay: they are what the devices were told,
 * and rewrites must still not shorten them. */
static void pep_doubt_ruleset(struct policy_pep *p)
{
	p->table_unsure = true;
	for (size_t i = 0; i < p->n_devices; i++) {
		struct pep_device *d = &p->devices[i];
		d->set_made[0] = d->set_made[1] = false;
		for (size_t j = 0; j < d->expiries.cap; j++)
			d->expiries.slots[j].doubtful = true;
	}
}

static void pep_cmd_make_set(struct policy_pep *p, struct pep_device *d,
			     int set)
{
	pep_buf_printf(&p->cmd,
		       "add set %s %s %s { type %s; flags timeout; }\n",
		       p->family, p->table, d->set_name[set],
		       set == 0 ? "ipv4_addr" : "ipv6_addr");
	d->set_made[set] = true;
}

/* add; delete; add: see the top of the file. */
static void pep_cmd_put_element(struct policy_pep *p,
				const struct pep_device *d, int set,
				const char *address, uint32_t timeout)
{
	const char *name = d->set_name[set];
	pep_buf_printf(&p->cmd,
		       "add element %s %s %s { %s timeout %us }\n"
		       "delete element %s %s %s { %s }\n"
		       "add element %s %s %s { %s timeout %us }\n",
		       p->family, p->table, name, address, timeout,
		       p->family, p->table, name, address,
		       p->family, p->table, name, address, timeout);
}

/* Append what one fact needs. The device's state is updated as if the
 * transaction succeeds; when it fails, pep_doubt_ruleset takes care.
 *
 * An element already written for as long is skipped, unless that write is
 * in doubt or older than PEP_REWRITE_EVERY_MS: someone may have flushed
 * the set since, and only a write tells (an error, then the set is made
 * again). A rewrite keeps the later of the two expiries, so it never
 * shortens anything. */
static void pep_plan_item(struct policy_pep *p, const struct pep_item *it,
			  uint64_t now)
{
	struct pep_device *d = &p->devices[it->device];
	int set = it->address.family == 4 ? 0 : 1;
	uint64_t until = now + (uint64_t)it->timeout * 1000;
	const struct pep_slot *known = pep_map_find(&d->expiries, &it->address);
	if (known) {
		if (until <= known->value + PEP_EXPIRY_SLACK_MS &&
		    !known->doubtful &&
		    now - known->stamp < PEP_REWRITE_EVERY_MS)
			return;
		until = MAX(until, known->value);
	}
	uint64_t seconds = MIN((until - now + 999) / 1000, p->max_timeout);
	if (!d->set_made[set])
		pep_cmd_make_set(p, d, set);
	char text[INET6_ADDRSTRLEN];
	pep_key_text(&it->address, text);
	pep_cmd_put_element(p, d, set, text, (uint32_t)seconds);
	/* Out of memory here only costs a rewrite next time. */
	struct pep_slot *slot = pep_map_put(&d->expiries, &it->address);
	if (slot) {
		slot->value = until;
		slot->stamp = now;
		slot->doubtful = false;
	}
}

/* One transaction for the batch. True when it succeeded or there was
 * nothing to write. */
static bool pep_nft_batch(struct policy_pep *p, size_t n, uint64_t now)
{
	pep_buf_reset(&p->cmd);
	if (p->table_unsure)
		pep_buf_printf(&p->cmd, "add table %s %s\n", p->family,
			       p->table);
	for (size_t i = 0; i < n; i++)
		if (p->items[i].valid)
			pep_plan_item(p, &p->items[i], now);
	if (p->cmd.failed) {
		snprintf(p->nft_error, sizeof(p->nft_error), "out of memory");
		return false;
	}
	if (p->cmd.len == 0)
		return true;
	if (!pep_nft_run(p, p->cmd.data))
		return false;
	p->table_unsure = false;
	return true;
}

/* Write the batch; on an error assume the ruleset changed under us,
 * re-create table and sets, and try once more. */
static bool pep_nft_write(struct policy_pep *p, size_t n, uint64_t now)
{
	if (pep_nft_batch(p, n, now))
		return true;
	pep_count(&p->errors, 1);
	log_warning(PEP_GROUP, "nftables refused a batch (%s); re-creating "
		    "table %s %s and its sets", p->nft_error, p->family,
		    p->table);
	pep_doubt_ruleset(p);
	if (pep_nft_batch(p, n, now))
		return true;
	pep_count(&p->errors, 1);
	log_error(PEP_GROUP, "nftables refused a batch again (%s); %zu facts "
		  "not written", p->nft_error, n);
	pep_doubt_ruleset(p);
	return false;
}

/* ------------------------------------------------------------------ devices */

static bool pep_device_grow(struct policy_pep *p)
{
	if (p->n_devices < p->devices_cap)
		return true;
	size_t cap = p->devices_cap ? p->devices_cap * 2 : 16;
	struct pep_device *bigger = realloc(p->devices, cap * sizeof(*bigger));
	if (!bigger)
		return false;
	p->devices = bigger;
	p->devices_cap = cap;
	return true;
}

/* The index of the device's record, made on first sight. */
static bool pep_device_find(struct policy_pep *p, const struct pep_key *key,
			    size_t *index)
{
	const struct pep_slot *found = pep_map_find(&p->device_index, key);
	if (found) {
		*index = (size_t)found->value;
		return true;
	}
	struct pep_slot *slot;
	if (!pep_device_grow(p) || !(slot = pep_map_put(&p->device_index, key)))
		return false;
	slot->value = p->n_devices;
	struct pep_device *d = &p->devices[p->n_devices];
	*d = (struct pep_device){ .key = *key };
	pep_key_text(key, d->text);
	pep_set_name_of(key, 4, d->set_name[0], sizeof(d->set_name[0]));
	pep_set_name_of(key, 6, d->set_name[1], sizeof(d->set_name[1]));
	*index = p->n_devices++;
	return true;
}

static uint32_t pep_clamp(const struct policy_pep *p, uint32_t ttl)
{
	return MIN(MAX(ttl, p->min_timeout), p->max_timeout);
}

static void pep_prepare(struct policy_pep *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct policy_pep_fact *f = &p->batch[i];
		struct pep_item *it = &p->items[i];
		struct pep_key device;
		it->valid = pep_key_from(&f->device, &device) &&
			    pep_key_from(&f->address, &it->address) &&
			    pep_device_find(p, &device, &it->device);
		it->timeout = pep_clamp(p, f->ttl);
	}
}

static void pep_prune(struct policy_pep *p, uint64_t now)
{
	if (now < p->next_prune_ms)
		return;
	for (size_t i = 0; i < p->n_devices; i++)
		pep_map_prune(&p->devices[i].expiries, now);
	p->next_prune_ms = now + PEP_PRUNE_EVERY_MS;
}

/* ------------------------------------------------------------------ events */

/* Strings from the network or the store may not be UTF-8; JSON must be.
 * Bytes that are not ASCII become '?' then. */
static json_t *pep_json_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	json_t *j = json_stringn(s, n);
	if (j)
		return j;
	char ascii[256];
	n = MIN(n, sizeof(ascii));
	for (size_t i = 0; i < n; i++)
		ascii[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	return json_stringn(ascii, n);
}

static char *pep_event_line(const struct policy_pep *p,
			    const struct policy_pep_fact *f,
			    const struct pep_item *it)
{
	const struct pep_device *d = &p->devices[it->device];
	char address[INET6_ADDRSTRLEN];
	pep_key_text(&it->address, address);
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "event", json_string("pep"));
	json_object_set_new(o, "device", json_string(d->text));
	json_object_set_new(o, "device_name",
			    pep_json_text(f->device_name,
					  sizeof(f->device_name)));
	json_object_set_new(o, "address", json_string(address));
	json_object_set_new(o, "family", json_integer(it->address.family));
	json_object_set_new(o, "ttl", json_integer(f->ttl));
	json_object_set_new(o, "timeout", json_integer(it->timeout));
	json_object_set_new(o, "name", pep_json_text(f->name, sizeof(f->name)));
	if (p->nftables)
		json_object_set_new(o, "set",
				    json_string(d->set_name[it->address.family
							    == 4 ? 0 : 1]));
	char *line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return line;
}

static void pep_tell(struct policy_pep *p, size_t n)
{
	pthread_mutex_lock(&p->listener_lock);
	for (size_t i = 0; p->listener && i < n; i++) {
		if (!p->items[i].valid)
			continue;
		char *line = pep_event_line(p, &p->batch[i], &p->items[i]);
		if (line)
			p->listener(p->listener_ctx, line);
		free(line);
	}
	pthread_mutex_unlock(&p->listener_lock);
}

/* ------------------------------------------------------------------ the thread */

static void pep_process(struct policy_pep *p, size_t n)
{
	uint64_t now = util_now_ms();
	pep_prepare(p, n);
	size_t valid = 0;
	for (size_t i = 0; i < n; i++)
		valid += p->items[i].valid;
	bool written = !p->nftables || pep_nft_write(p, n, now);
	pep_tell(p, n);
	/* Counted last: whoever sees the count sees everything done. */
	pep_count(written ? &p->written : &p->failed, valid);
	pep_count(&p->failed, n - valid);
}

static struct timespec pep_deadline(unsigned ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

/* Wait for facts (or a while), then move up to a batch of them out of the
 * ring, so that the lock is held for copying only. *stop says the thread
 * is done: asked to stop, and nothing left. */
static size_t pep_take(struct policy_pep *p, bool *stop)
{
	pthread_mutex_lock(&p->lock);
	if (p->count == 0 && !p->stopping) {
		struct timespec until = pep_deadline(PEP_IDLE_WAIT_MS);
		pthread_cond_timedwait(&p->wake, &p->lock, &until);
	}
	size_t n = MIN(p->count, (size_t)PEP_BATCH_MAX);
	for (size_t i = 0; i < n; i++)
		p->batch[i] = p->ring[(p->head + i) % p->cap];
	p->head = (p->head + n) % p->cap;
	p->count -= n;
	*stop = p->stopping && n == 0;
	pthread_mutex_unlock(&p->lock);
	return n;
}

static void *pep_main(void *arg)
{
	struct policy_pep *p = arg;
	bool stop = false;
	while (!stop) {
		size_t n = pep_take(p, &stop);
		if (n > 0)
			pep_process(p, n);
		pep_prune(p, util_now_ms());
	}
	return NULL;
}

/* ------------------------------------------------------------------ the interface */

bool policy_pep_add(struct policy_pep *p, const struct policy_pep_fact *f)
{
	pep_count(&p->facts, 1);
	pthread_mutex_lock(&p->lock);
	bool queued = p->count < p->cap;
	if (queued) {
		p->ring[(p->head + p->count) % p->cap] = *f;
		/* The thread sleeps only on an empty ring. */
		if (p->count++ == 0)
			pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->lock);
	if (!queued)
		pep_count(&p->dropped, 1);
	return queued;
}

void policy_pep_set_listener(struct policy_pep *p, policy_pep_listener_fn fn,
			     void *ctx)
{
	pthread_mutex_lock(&p->listener_lock);
	p->listener = fn;
	p->listener_ctx = ctx;
	pthread_mutex_unlock(&p->listener_lock);
}

void policy_pep_stats(struct policy_pep *p, struct policy_pep_stats *out)
{
	out->facts = atomic_load_explicit(&p->facts, memory_order_acquire);
	out->written = atomic_load_explicit(&p->written, memory_order_acquire);
	out->dropped = atomic_load_explicit(&p->dropped, memory_order_acquire);
	out->failed = atomic_load_explicit(&p->failed, memory_order_acquire);
	out->errors = atomic_load_explicit(&p->errors, memory_order_acquire);
}

/* The family and table go into nftables commands: only known families and
 * plain identifiers, so that no configuration can inject a command. */
static bool pep_conf_names(struct policy_pep *p,
			   const struct policy_pep_conf *conf, char *err,
			   size_t errlen)
{
	static const char *const families[] = { "ip", "ip6", "inet", "bridge",
						"netdev" };
	const char *family = conf->family ? conf->family : "inet";
	const char *table = conf->table ? conf->table : "anchord";
	bool known = false;
	for (size_t i = 0; i < ARRAY_SIZE(families); i++)
		known |= strcmp(family, families[i]) == 0;
	if (!known) {
		snprintf(err, errlen, "nftables family \"%s\": not one of ip, "
			 "ip6, inet, bridge, netdev", family);
		return false;
	}
	size_t len = strspn(table, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	if (len == 0 || table[len] != '\0' || len >= sizeof(p->table) ||
	    (table[0] >= '0' && table[0] <= '9')) {
		snprintf(err, errlen, "nftables table \"%s\": letters, digits "
			 "and '_' only, not starting with a digit, at most "
			 "63", table);
		return false;
	}
	snprintf(p->family, sizeof(p->family), "%s", family);
	snprintf(p->table, sizeof(p->table), "%s", table);
	return true;
}

static bool pep_conf(struct policy_pep *p, const struct policy_pep_conf *conf,
		     char *err, size_t errlen)
{
	p->nftables = conf->nftables;
	p->min_timeout = conf->min_timeout ? conf->min_timeout
					   : PEP_MIN_TIMEOUT_DEFAULT;
	p->max_timeout = conf->max_timeout ? conf->max_timeout
					   : PEP_MAX_TIMEOUT_DEFAULT;
	p->cap = conf->queue_size ? conf->queue_size : PEP_QUEUE_DEFAULT;
	if (p->min_timeout > p->max_timeout) {
		snprintf(err, errlen, "PEP min-timeout %u exceeds max-timeout "
			 "%u", p->min_timeout, p->max_timeout);
		return false;
	}
	return pep_conf_names(p, conf, err, errlen);
}

/* Reach nftables now, so that a missing capability or kernel module is a
 * start-up error and not a stream of failures later. */
static bool pep_nft_open(struct policy_pep *p, char *err, size_t errlen)
{
	p->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!p->nft || nft_ctx_buffer_output(p->nft) != 0 ||
	    nft_ctx_buffer_error(p->nft) != 0) {
		snprintf(err, errlen, "nftables: cannot create a context");
		return false;
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "add table %s %s\n", p->family, p->table);
	if (pep_nft_run(p, cmd))
		return true;
	snprintf(err, errlen, "nftables: %s", p->nft_error);
	return false;
}

static bool pep_start_thread(struct policy_pep *p, char *err, size_t errlen)
{
	pthread_condattr_t attr;
	bool ok = pthread_condattr_init(&attr) == 0 &&
		  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
		  pthread_cond_init(&p->wake, &attr) == 0;
	pthread_condattr_destroy(&attr);
	if (!ok) {
		snprintf(err, errlen, "PEP: cannot create a condition variable");
		return false;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->listener_lock, NULL);
	if (pthread_create(&p->thread, NULL, pep_main, p) != 0) {
		snprintf(err, errlen, "PEP: cannot start a thread");
		pthread_mutex_destroy(&p->listener_lock);
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->wake);
		return false;
	}
	return true;
}

/* Everything but the thread and its locks. */
static void pep_release(struct policy_pep *p)
{
	if (p->nft)
		nft_ctx_free(p->nft);
	for (size_t i = 0; i < p->n_devices; i++)
		pep_map_clear(&p->devices[i].expiries);
	free(p->devices);
	pep_map_clear(&p->device_index);
	free(p->cmd.data);
	free(p->ring);
	free(p);
}

struct policy_pep *policy_pep_new(const struct policy_pep_conf *conf,
				  char *err, size_t errlen)
{
	struct policy_pep *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "PEP: out of memory");
		return NULL;
	}
	if (!pep_conf(p, conf, err, errlen) ||
	    (p->nftables && !pep_nft_open(p, err, errlen))) {
		pep_release(p);
		return NULL;
	}
	p->ring = calloc(p->cap, sizeof(*p->ring));
	if (!p->ring) {
		snprintf(err, errlen, "PEP: out of memory for %zu facts",
			 p->cap);
		pep_release(p);
		return NULL;
	}
	p->next_prune_ms = util_now_ms() + PEP_PRUNE_EVERY_MS;
	if (!pep_start_thread(p, err, errlen)) {
		pep_release(p);
		return NULL;
	}
	return p;
}

void policy_pep_free(struct policy_pep *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->listener_lock);
	pep_release(p);
}
