/*  anchord - daemon/policy.c: the policy's life on the main thread.
 *
 *  Keeps what a policy generation is built from (the lists of the
 *  configuration, devices' stored profiles, MUD bindings from the store,
 *  one state per MUD URL), fetches and verifies MUD files, and hands each
 *  new generation to the workers. Workers call back from their threads
 *  for two things only: a certificate names a MUD URL we do not know yet
 *  (queued here, fetched on this loop), and an answer to a confined device
 *  (its addresses are queued to the PEP thread).
 */
#include "daemon/daemon.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MUD_MAX_SIZE (1 << 20)		/* RFC 8520 files are a few KiB */
#define SIG_MAX_SIZE (64 << 10)
#define TICK_MS 1000
#define MAX_WANTED 64			/* URLs queued by workers */
#define MAX_MUD_URLS 4096

enum fetch_step { IDLE = 0, FETCHING_FILE, FETCHING_SIGNATURE };

/* One MUD URL: its last good policy and how the next fetch goes. */
struct mud_state {
	char *url;
	struct policy_mud_policy *policy;	/* last good, or NULL */
	size_t n_names;
	bool pending;			/* no verdict yet: first fetch runs */
	enum fetch_step step;
	uint64_t due_ms;		/* loop time of the next fetch */
	int64_t fetched_at, expires_at;	/* wall clock, of the last good */
	char signer[256];
	char error[256];		/* of the last failure, "" none */
	uint8_t *body;			/* the file while its signature comes */
	size_t body_len;
	char *systeminfo;
	size_t n_warnings;
	/* The mudsigner of the certificate that named the URL: only a file
	 * signed by that subject is taken (RFC 8520 section 11). */
	uint8_t required_signer[NET_MUD_SIGNER_MAX];
	size_t required_signer_len;
	struct policy_host *host;
};

/* A URL a worker saw in a client certificate, with its mudsigner. */
struct wanted {
	char *url;
	uint8_t signer[NET_MUD_SIGNER_MAX];
	size_t signer_len;
};

struct policy_host {
	uv_loop_t *loop;
	const struct anchord_config *conf;
	struct store *store;
	struct daemon_workers *workers;
	struct policy_lists *lists;
	struct policy_mud_signers *signers;
	struct policy_fetcher *fetcher;
	struct policy_pep *pep;
	struct policy *current;
	struct mud_state **muds;
	size_t n_muds;
	struct store_mud_binding *bindings;
	size_t n_bindings;
	struct policy_device_profile *devices;
	size_t n_devices;
	int64_t binding_mark, device_mark;
	uv_timer_t tick;
	uv_async_t wake;		/* wanted URLs and PEP events */
	uv_mutex_t lock;		/* guards wanted and events */
	struct wanted wanted[MAX_WANTED];
	size_t n_wanted;
	char **events;
	size_t n_events;
	policy_host_event_fn on_event;
	void *event_ctx;
	int handles;
	void (*closed)(void *ctx);
	void *closed_ctx;
};

static bool uses_mud(const struct policy_conf *c)
{
	for (size_t i = 0; i < c->n_profiles; i++)
		if (c->profiles[i].mud != POLICY_MUD_OFF)
			return true;
	return false;
}

bool policy_host_needed(const struct anchord_config *c)
{
	return c->policy.n_profiles > 0 || c->policy.n_clients > 0;
}

/* ------------------------------------------------------------------ generations */

static void free_devices(struct policy_host *h)
{
	for (size_t i = 0; i < h->n_devices; i++) {
		free((char *)h->devices[i].device);
		free((char *)h->devices[i].profile);
	}
	free(h->devices);
	h->devices = NULL;
	h->n_devices = 0;
}

static int add_device(void *ctx, const struct store_device *d)
{
	struct policy_host *h = ctx;
	if (d->revoked_at || !d->profile[0])
		return 0;
	struct policy_device_profile *arr = realloc(
		h->devices, (h->n_devices + 1) * sizeof(*arr));
	if (!arr)
		return -1;
	h->devices = arr;
	arr[h->n_devices].device = strdup(d->name);
	arr[h->n_devices].profile = strdup(d->profile);
	if (!arr[h->n_devices].device || !arr[h->n_devices].profile) {
		free((char *)arr[h->n_devices].device);
		free((char *)arr[h->n_devices].profile);
		return -1;
	}
	h->n_devices++;
	return 0;
}

static struct mud_state *find_mud(struct policy_host *h, const char *url)
{
	for (size_t i = 0; i < h->n_muds; i++)
		if (strcmp(h->muds[i]->url, url) == 0)
			return h->muds[i];
	return NULL;
}

static struct mud_state *add_mud(struct policy_host *h, const char *url)
{
	struct mud_state *m = find_mud(h, url);
	if (m || h->n_muds >= MAX_MUD_URLS)
		return m;
	struct mud_state **arr = realloc(h->muds,
					 (h->n_muds + 1) * sizeof(*arr));
	if (!arr)
		return NULL;
	h->muds = arr;
	if (!(m = calloc(1, sizeof(*m))) || !(m->url = strdup(url))) {
		free(m);
		return NULL;
	}
	m->host = h;
	m->pending = h->conf->policy.mud.fetch;
	m->due_ms = uv_now(h->loop);
	arr[h->n_muds++] = m;
	return m;
}

static int build_facts(struct policy_host *h, struct policy_facts *f,
		       struct policy_binding **bindings,
		       struct policy_mud_entry **muds)
{
	*bindings = calloc(h->n_bindings + 1, sizeof(**bindings));
	*muds = calloc(h->n_muds + 1, sizeof(**muds));
	if (!*bindings || !*muds)
		return -1;
	size_t nb = 0;
	for (size_t i = 0; i < h->n_bindings; i++) {
		struct policy_binding *b = &(*bindings)[nb];
		if (util_addr_parse(h->bindings[i].address, 0, &b->address))
			continue;	/* anchorctl checked it; be safe */
		b->url = h->bindings[i].url;
		nb++;
	}
	for (size_t i = 0; i < h->n_muds; i++)
		(*muds)[i] = (struct policy_mud_entry){
			.url = h->muds[i]->url,
			.policy = h->muds[i]->policy,
			.pending = h->muds[i]->pending,
		};
	*f = (struct policy_facts){
		.devices = h->devices, .n_devices = h->n_devices,
		.bindings = *bindings, .n_bindings = nb,
		.muds = *muds, .n_muds = h->n_muds,
	};
	return 0;
}

/* A new generation for the workers; the old one lives on in requests
 * that started under it. */
static int publish(struct policy_host *h)
{
	struct policy_facts f;
	struct policy_binding *bindings = NULL;
	struct policy_mud_entry *muds = NULL;
	char err[256] = "out of memory";
	struct policy *p = NULL;
	if (build_facts(h, &f, &bindings, &muds) == 0)
		p = policy_build(&h->conf->policy, h->lists, &f, err,
				 sizeof(err));
	free(bindings);
	free(muds);
	if (!p) {
		log_error("policy", "%s; the previous policy stays", err);
		return -1;
	}
	workers_set_policy(h->workers, p);
	policy_unref(h->current);
	h->current = p;
	return 0;
}

/* ------------------------------------------------------------------ the store */

static int add_binding(void *ctx, const struct store_mud_binding *b)
{
	struct policy_host *h = ctx;
	struct store_mud_binding *arr = realloc(
		h->bindings, (h->n_bindings + 1) * sizeof(*arr));
	if (!arr)
		return -1;
	h->bindings = arr;
	arr[h->n_bindings++] = *b;
	return add_mud(h, b->url) ? 0 : -1;
}

static int load_bindings(struct policy_host *h)
{
	free(h->bindings);
	h->bindings = NULL;
	h->n_bindings = 0;
	if (store_mud_binding_each(h->store, add_binding, h) != 0) {
		log_error("policy", "MUD bindings: %s", store_error(h->store));
		return -1;
	}
	return 0;
}

/* Bindings and devices changed by anchorctl; true when something did. */
static bool reread_store(struct policy_host *h)
{
	int64_t bmark = 0, dmark = 0;
	bool changed = false;
	if (!h->store)
		return false;
	if (store_mud_mark(h->store, &bmark) == 0 && bmark != h->binding_mark &&
	    load_bindings(h) == 0) {
		h->binding_mark = bmark;
		changed = true;
	}
	if (store_device_mark(h->store, &dmark) == 0 && dmark != h->device_mark) {
		free_devices(h);
		if (store_device_each(h->store, add_device, h) == 0)
			h->device_mark = dmark;
		changed = true;
	}
	return changed;
}

/* ------------------------------------------------------------------ MUD files */

static void schedule(struct mud_state *m, uint64_t delay_ms)
{
	m->due_ms = uv_now(m->host->loop) + delay_ms;
}

static void mud_failed(struct mud_state *m, const char *why)
{
	struct policy_host *h = m->host;
	snprintf(m->error, sizeof(m->error), "%s", why);
	log_warning("policy", "MUD file %s: %s; %s", m->url, why,
		    m->policy ? "the previous policy stays in force"
			      : "devices bound to it resolve nothing");
	free(m->body);
	m->body = NULL;
	m->step = IDLE;
	bool was_pending = m->pending;
	m->pending = false;
	schedule(m, h->conf->policy.mud.retry_ms);
	if (was_pending)
		publish(h);
}

/* A parsed, verified file becomes the URL's policy. */
static int mud_accept(struct mud_state *m, const struct policy_mud *parsed,
		      const char *signer, int64_t fetched_at)
{
	struct policy_mud_policy *p = policy_mud_compile(parsed);
	if (!p)
		return -1;
	policy_mud_policy_unref(m->policy);
	m->policy = p;
	m->n_names = parsed->n_names;
	m->n_warnings = parsed->n_warnings;
	m->fetched_at = fetched_at;
	m->expires_at = fetched_at +
			(int64_t)parsed->cache_validity_hours * 3600;
	snprintf(m->signer, sizeof(m->signer), "%s", signer ? signer : "");
	free(m->systeminfo);
	m->systeminfo = parsed->systeminfo ? strdup(parsed->systeminfo) : NULL;
	for (size_t i = 0; i < parsed->n_warnings; i++)
		log_warning("policy", "MUD file %s: %s", m->url,
			    parsed->warnings[i]);
	return 0;
}

static int verify(struct mud_state *m, const uint8_t *body, size_t len,
		  const uint8_t *sig, size_t sig_len, char *signer,
		  size_t signer_cap, char *err, size_t errlen)
{
	return policy_mud_verify(m->host->signers, body, len, sig, sig_len,
				 m->required_signer_len ? m->required_signer
							: NULL,
				 m->required_signer_len, signer, signer_cap,
				 err, errlen);
}

static void mud_finish(struct mud_state *m, const uint8_t *sig, size_t sig_len)
{
	struct policy_host *h = m->host;
	char err[512], signer[256] = "";
	struct policy_mud *parsed = policy_mud_parse(m->body, m->body_len,
						     m->url, err, sizeof(err));
	if (!parsed) {
		mud_failed(m, err);
		return;
	}
	if (sig && verify(m, m->body, m->body_len, sig, sig_len, signer,
			  sizeof(signer), err, sizeof(err)) != 0) {
		policy_mud_free(parsed);
		mud_failed(m, err);
		return;
	}
	int64_t now = time(NULL);
	if (mud_accept(m, parsed, sig ? signer : NULL, now) != 0) {
		policy_mud_free(parsed);
		mud_failed(m, "out of memory");
		return;
	}
	log_info("policy", "MUD file %s: %zu names allowed%s%s%s", m->url,
		 m->n_names, sig ? ", signed by " : ", unsigned",
		 sig ? signer : "", "");
	struct store_mud_file f = {
		.url = m->url, .body = m->body, .body_len = m->body_len,
		.signature = sig, .signature_len = sig ? sig_len : 0,
		.signer = m->signer, .fetched_at = now,
		.expires_at = m->expires_at,
	};
	if (h->store && store_mud_file_put(h->store, &f) != 0)
		log_warning("policy", "MUD file %s: not saved: %s", m->url,
			    store_error(h->store));
	policy_mud_free(parsed);
	m->error[0] = '\0';
	m->pending = false;
	m->step = IDLE;
	free(m->body);
	m->body = NULL;
	schedule(m, (uint64_t)(m->expires_at - now) * 1000);
	publish(h);
}

static void got_signature(void *ctx, const struct policy_fetch_result *r)
{
	struct mud_state *m = ctx;
	char why[512];
	if (r->error) {
		snprintf(why, sizeof(why), "signature %s: %s", r->url, r->error);
		mud_failed(m, why);
		return;
	}
	mud_finish(m, r->body, r->len);
}

static void got_file(void *ctx, const struct policy_fetch_result *r)
{
	struct mud_state *m = ctx;
	struct policy_host *h = m->host;
	char err[512];
	if (r->error) {
		mud_failed(m, r->error);
		return;
	}
	struct policy_mud *parsed = policy_mud_parse(r->body, r->len, m->url,
						     err, sizeof(err));
	if (!parsed) {
		mud_failed(m, err);
		return;
	}
	char *sig_url = parsed->signature_url ? strdup(parsed->signature_url)
					      : NULL;
	bool had_sig = parsed->signature_url != NULL;
	policy_mud_free(parsed);
	free(m->body);
	m->body = malloc(r->len ? r->len : 1);
	if (!m->body || (had_sig && !sig_url)) {
		free(sig_url);
		mud_failed(m, "out of memory");
		return;
	}
	memcpy(m->body, r->body, r->len);
	m->body_len = r->len;
	if (!had_sig) {
		if (h->conf->policy.mud.require_signature)
			mud_failed(m, "the file names no mud-signature, and "
				   "mud.require-signature is on");
		else
			mud_finish(m, NULL, 0);
		return;
	}
	m->step = FETCHING_SIGNATURE;
	if (policy_fetch(h->fetcher, sig_url, "application/pkcs7-signature",
			 got_signature, m) != 0)
		mud_failed(m, "out of memory");
	free(sig_url);
}

static void start_fetch(struct mud_state *m)
{
	struct policy_host *h = m->host;
	if (strncmp(m->url, "https://", 8) != 0) {
		mud_failed(m, "not an https URL");
		return;
	}
	log_debug("policy", "fetching MUD file %s", m->url);
	m->step = FETCHING_FILE;
	if (policy_fetch(h->fetcher, m->url, "application/mud+json", got_file,
			 m) != 0)
		mud_failed(m, "out of memory");
}

static void on_tick(uv_timer_t *t)
{
	struct policy_host *h = t->data;
	if (reread_store(h))
		publish(h);
	if (!h->fetcher)
		return;
	uint64_t now = uv_now(h->loop);
	for (size_t i = 0; i < h->n_muds; i++) {
		struct mud_state *m = h->muds[i];
		if (m->step == IDLE && m->due_ms <= now)
			start_fetch(m);
	}
}

/* The last good copies: a restart needs no network to enforce. */
static int restore_file(void *ctx, const struct store_mud_file *f)
{
	struct policy_host *h = ctx;
	char err[512], signer[256] = "";
	struct mud_state *m = add_mud(h, f->url);
	if (!m)
		return 0;
	struct policy_mud *parsed = policy_mud_parse(f->body, f->body_len,
						     f->url, err, sizeof(err));
	if (parsed && f->signature &&
	    verify(m, f->body, f->body_len, f->signature, f->signature_len,
		   signer, sizeof(signer), err, sizeof(err)) != 0) {
		policy_mud_free(parsed);
		parsed = NULL;
	}
	if (!parsed || (!f->signature &&
			h->conf->policy.mud.require_signature)) {
		log_warning("policy", "saved MUD file %s no longer accepted: "
			    "%s", f->url, parsed ? "unsigned" : err);
		policy_mud_free(parsed);
		return 0;
	}
	if (mud_accept(m, parsed, f->signature ? signer : NULL,
		       f->fetched_at) == 0) {
		m->pending = false;
		int64_t left = m->expires_at - (int64_t)time(NULL);
		schedule(m, left > 0 ? (uint64_t)left * 1000 : 0);
	}
	policy_mud_free(parsed);
	return 0;
}

/* ------------------------------------------------------------------ worker callbacks */

static void wanted_from_worker(void *ctx, const char *url,
			       const uint8_t *signer, size_t signer_len)
{
	struct policy_host *h = ctx;
	uv_mutex_lock(&h->lock);
	bool queued = false;
	for (size_t i = 0; i < h->n_wanted; i++)
		queued |= strcmp(h->wanted[i].url, url) == 0;
	struct wanted *w = &h->wanted[h->n_wanted];
	if (!queued && h->n_wanted < MAX_WANTED && (w->url = strdup(url))) {
		w->signer_len = MIN(signer_len, sizeof(w->signer));
		memcpy(w->signer, signer, w->signer_len);
		h->n_wanted++;
	}
	uv_mutex_unlock(&h->lock);
	uv_async_send(&h->wake);
}

struct confined_ctx {
	struct policy_host *h;
	const struct dns_client *c;
};

static void export_address(void *ctx, const uint8_t *owner, int family,
			   const uint8_t *addr, uint32_t ttl)
{
	const struct confined_ctx *cc = ctx;
	struct policy_pep_fact f = { .device = cc->c->addr, .ttl = ttl };
	snprintf(f.device_name, sizeof(f.device_name), "%s",
		 cc->c->cert_verified ? cc->c->cert_cn : "");
	dns_name_str(owner, f.name, sizeof(f.name));
	if (family == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)&f.address.ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, addr, 4);
		f.address.len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&f.address.ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, addr, 16);
		f.address.len = sizeof(*in6);
	}
	policy_pep_add(cc->h->pep, &f);
}

static void confined_from_worker(void *ctx, const struct dns_client *c,
				 const uint8_t *wire, size_t len)
{
	struct confined_ctx cc = { .h = ctx, .c = c };
	if (cc.h->pep)
		dns_answer_addresses(wire, len, export_address, &cc);
}

/* On the PEP thread: hand the event to the main loop. */
static void pep_event(void *ctx, const char *json_line)
{
	struct policy_host *h = ctx;
	uv_mutex_lock(&h->lock);
	if (h->on_event && h->n_events < 4096) {
		char **arr = realloc(h->events, (h->n_events + 1) * sizeof(*arr));
		if (arr) {
			h->events = arr;
			if ((arr[h->n_events] = strdup(json_line)))
				h->n_events++;
		}
	}
	uv_mutex_unlock(&h->lock);
	uv_async_send(&h->wake);
}

static void take_wanted(struct policy_host *h)
{
	static struct wanted taken[MAX_WANTED];	/* main thread only */
	uv_mutex_lock(&h->lock);
	size_t n = h->n_wanted;
	memcpy(taken, h->wanted, n * sizeof(*taken));
	h->n_wanted = 0;
	uv_mutex_unlock(&h->lock);
	bool added = false;
	for (size_t i = 0; i < n; i++) {
		struct mud_state *m = find_mud(h, taken[i].url) ? NULL
				      : add_mud(h, taken[i].url);
		if (m) {
			memcpy(m->required_signer, taken[i].signer,
			       taken[i].signer_len);
			m->required_signer_len = taken[i].signer_len;
			log_info("policy", "MUD URL %s from a client "
				 "certificate%s", taken[i].url,
				 taken[i].signer_len ? " (with a mudsigner)" : "");
			added = true;
		}
		free(taken[i].url);
	}
	if (added) {
		publish(h);
		on_tick(&h->tick);
	}
}

static void take_events(struct policy_host *h)
{
	uv_mutex_lock(&h->lock);
	char **events = h->events;
	size_t n = h->n_events;
	h->events = NULL;
	h->n_events = 0;
	uv_mutex_unlock(&h->lock);
	for (size_t i = 0; i < n; i++) {
		if (h->on_event)
			h->on_event(h->event_ctx, events[i]);
		free(events[i]);
	}
	free(events);
}

static void on_wake(uv_async_t *a)
{
	take_wanted(a->data);
	take_events(a->data);
}

/* ------------------------------------------------------------------ life */

static int open_parts(struct policy_host *h, char *err, size_t errlen)
{
	const struct policy_mud_conf *mc = &h->conf->policy.mud;
	if (!(h->lists = policy_lists_load(&h->conf->policy, err, errlen)))
		return -1;
	if (!uses_mud(&h->conf->policy))
		return 0;
	if (!(h->signers = policy_mud_signers_load(mc->signers, mc->n_signers,
						   err, errlen)))
		return -1;
	struct policy_fetcher_conf fc = {
		.ca_files = mc->fetch_ca, .n_ca_files = mc->n_fetch_ca,
		.timeout_ms = mc->fetch_timeout_ms, .max_size = MUD_MAX_SIZE,
	};
	if (mc->fetch && !(h->fetcher = policy_fetcher_new(h->loop, &fc, err,
							    errlen)))
		return -1;
	struct policy_pep_conf pc = {
		.nftables = mc->nftables, .family = "inet",
		.table = mc->nftables_table,
	};
	if (!(h->pep = policy_pep_new(&pc, err, errlen)))
		return -1;
	policy_pep_set_listener(h->pep, pep_event, h);
	return 0;
}

struct policy_host *policy_host_new(uv_loop_t *loop,
				    const struct anchord_config *conf,
				    struct store *store,
				    struct daemon_workers *workers, char *err,
				    size_t errlen)
{
	struct policy_host *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*h = (struct policy_host){ .loop = loop, .conf = conf, .store = store,
				   .workers = workers };
	uv_mutex_init(&h->lock);
	uv_timer_init(loop, &h->tick);
	uv_async_init(loop, &h->wake, on_wake);
	h->tick.data = h->wake.data = h;
	h->handles = 2;
	if (open_parts(h, err, errlen) != 0) {
		policy_host_close(h, NULL, NULL);
		return NULL;
	}
	if (store && store_mud_file_each(store, restore_file, h) != 0)
		log_warning("policy", "saved MUD files: %s", store_error(store));
	reread_store(h);
	workers_set_policy_hooks(workers, wanted_from_worker,
				 confined_from_worker, h);
	if (publish(h) != 0) {
		snprintf(err, errlen, "cannot build the policy");
		policy_host_close(h, NULL, NULL);
		return NULL;
	}
	uv_timer_start(&h->tick, on_tick, 0, TICK_MS);
	log_info("policy", "%zu profiles, %zu client rules, %zu blocked names, "
		 "%zu MUD URLs", conf->policy.n_profiles, conf->policy.n_clients,
		 policy_lists_blocked(h->lists), h->n_muds);
	return h;
}

int policy_host_reload(struct policy_host *h, char *err, size_t errlen)
{
	struct policy_lists *lists = policy_lists_load(&h->conf->policy, err,
						       errlen);
	if (!lists)
		return -1;
	policy_lists_unref(h->lists);
	h->lists = lists;
	return publish(h);
}

void policy_host_refresh(struct policy_host *h)
{
	if (reread_store(h))
		publish(h);
	on_tick(&h->tick);
}

int policy_host_fetch_now(struct policy_host *h, const char *url)
{
	if (!h->fetcher)
		return -1;
	reread_store(h);
	bool found = false;
	for (size_t i = 0; i < h->n_muds; i++) {
		struct mud_state *m = h->muds[i];
		if (*url && strcmp(m->url, url) != 0)
			continue;
		found = true;
		if (m->step == IDLE)
			start_fetch(m);
	}
	return found || !*url ? 0 : -1;
}

void policy_host_set_event_listener(struct policy_host *h,
				    policy_host_event_fn fn, void *ctx)
{
	uv_mutex_lock(&h->lock);
	h->on_event = fn;
	h->event_ctx = ctx;
	uv_mutex_unlock(&h->lock);
}

static const char *mud_status(const struct mud_state *m)
{
	if (m->step != IDLE)
		return m->policy ? "refreshing" : "fetching";
	if (m->policy)
		return m->error[0] ? "stale" : "ok";
	return m->pending ? "pending" : "failed";
}

json_t *policy_host_status(struct policy_host *h)
{
	json_t *muds = json_array(), *bindings = json_array();
	for (size_t i = 0; i < h->n_muds; i++) {
		const struct mud_state *m = h->muds[i];
		json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:I}",
				      "url", m->url, "status", mud_status(m),
				      "names", (json_int_t)m->n_names,
				      "fetched_at", (json_int_t)m->fetched_at,
				      "expires_at", (json_int_t)m->expires_at,
				      "signer", m->signer,
				      "warnings", (json_int_t)m->n_warnings);
		if (o && m->error[0])
			json_object_set_new(o, "error", json_string(m->error));
		if (o && m->systeminfo)
			json_object_set_new(o, "systeminfo",
					    json_string(m->systeminfo));
		json_array_append_new(muds, o);
	}
	for (size_t i = 0; i < h->n_bindings; i++)
		json_array_append_new(bindings, json_pack(
			"{s:s, s:s, s:s, s:I}", "address",
			h->bindings[i].address, "url", h->bindings[i].url,
			"source", h->bindings[i].source, "updated_at",
			(json_int_t)h->bindings[i].updated_at));
	struct policy_pep_stats ps = { 0 };
	if (h->pep)
		policy_pep_stats(h->pep, &ps);
	return json_pack("{s:b, s:I, s:o, s:o, s:{s:b, s:I, s:I, s:I, s:I}}",
			 "ok", 1, "blocked_names",
			 (json_int_t)policy_lists_blocked(h->lists), "mud",
			 muds, "bindings", bindings, "pep", "nftables",
			 h->conf->policy.mud.nftables, "facts",
			 (json_int_t)ps.facts, "written",
			 (json_int_t)ps.written, "dropped",
			 (json_int_t)ps.dropped, "errors",
			 (json_int_t)ps.errors);
}

static void free_mud(struct mud_state *m)
{
	policy_mud_policy_unref(m->policy);
	free(m->body);
	free(m->systeminfo);
	free(m->url);
	free(m);
}

static void host_free(struct policy_host *h)
{
	void (*closed)(void *) = h->closed;
	void *ctx = h->closed_ctx;
	for (size_t i = 0; i < h->n_muds; i++)
		free_mud(h->muds[i]);
	free(h->muds);
	free(h->bindings);
	free_devices(h);
	for (size_t i = 0; i < h->n_wanted; i++)
		free(h->wanted[i].url);
	for (size_t i = 0; i < h->n_events; i++)
		free(h->events[i]);
	free(h->events);
	policy_unref(h->current);
	policy_lists_unref(h->lists);
	policy_mud_signers_free(h->signers);
	uv_mutex_destroy(&h->lock);
	free(h);
	if (closed)
		closed(ctx);
}

static void handle_closed(uv_handle_t *handle)
{
	struct policy_host *h = handle->data;
	if (--h->handles == 0)
		host_free(h);
}

static void fetcher_closed(void *ctx)
{
	handle_closed((uv_handle_t *)&((struct policy_host *)ctx)->tick);
}

void policy_host_close(struct policy_host *h, void (*closed)(void *ctx),
		       void *ctx)
{
	if (!h)
		return;
	h->closed = closed;
	h->closed_ctx = ctx;
	/* The PEP thread may call pep_event until it is joined. */
	policy_pep_free(h->pep);
	h->pep = NULL;
	uv_timer_stop(&h->tick);
	if (h->fetcher) {
		h->handles++;
		policy_fetcher_close(h->fetcher, fetcher_closed, h);
		h->fetcher = NULL;
	}
	uv_close((uv_handle_t *)&h->tick, handle_closed);
	uv_close((uv_handle_t *)&h->wake, handle_closed);
}
