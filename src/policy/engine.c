/*  anchord - policy/engine.c: profiles, client rules and decisions.
 *
 *  A generation (struct policy) holds a copy of the profiles and client
 *  rules, references to the loaded lists and compiled MUD policies, and
 *  sorted tables of device profiles and MUD bindings. Workers only read
 *  it; the main thread builds a new one whenever something changes.
 */
#include "policy/policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ configuration */

void policy_conf_defaults(struct policy_conf *c)
{
	*c = (struct policy_conf){
		.mud = {
			.require_signature = true,
			.fetch = true,
			.fetch_timeout_ms = 30000,
			.retry_ms = 300000,
			.block_rcode = 3,
		},
	};
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void policy_conf_free(struct policy_conf *c)
{
	for (size_t i = 0; i < c->n_profiles; i++) {
		struct policy_profile_conf *p = &c->profiles[i];
		free(p->name);
		free_strings(p->blocklists, p->n_blocklists);
		free_strings(p->block, p->n_block);
		free_strings(p->allow, p->n_allow);
	}
	free(c->profiles);
	for (size_t i = 0; i < c->n_clients; i++) {
		struct policy_client_conf *r = &c->clients[i];
		free(r->subnets);
		free(r->device);
		free(r->client_id);
		free(r->profile);
	}
	free(c->clients);
	free_strings(c->mud.signers, c->mud.n_signers);
	free_strings(c->mud.fetch_ca, c->mud.n_fetch_ca);
	free(c->mud.nftables_table);
	memset(c, 0, sizeof(*c));
}

int policy_conf_profile(const struct policy_conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_profiles; i++)
		if (strcmp(c->profiles[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------ lists */

struct profile_lists {
	struct policy_domains *block;
	struct policy_domains *allow;
};

struct policy_lists {
	atomic_uint refs;
	size_t n;
	struct profile_lists *profiles;
	size_t blocked;
};

static int add_names(struct policy_domains *d, char *const *names, size_t n,
		     const char *profile, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (policy_domains_add_text(d, names[i],
					    POLICY_MATCH_SUBTREE) != 0) {
			snprintf(err, errlen, "profile %s: '%s' is not a "
				 "domain name", profile, names[i]);
			return -1;
		}
	return 0;
}

static void log_skipped(const char *path, const struct policy_load_report *r)
{
	if (r->skipped)
		log_warning("policy", "%s: %zu malformed line(s) skipped, the "
			    "first at line %u: %s", path, r->skipped,
			    r->first_bad_line, r->first_bad);
}

static int load_profile(const struct policy_profile_conf *pc,
			struct profile_lists *out, char *err, size_t errlen)
{
	out->block = policy_domains_new();
	out->allow = policy_domains_new();
	if (!out->block || !out->allow) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < pc->n_blocklists; i++) {
		struct policy_load_report r;
		if (policy_domains_load(out->block, pc->blocklists[i], &r, err,
					errlen) != 0)
			return -1;
		log_skipped(pc->blocklists[i], &r);
		log_info("policy", "profile %s: %s: %zu names", pc->name,
			 pc->blocklists[i], r.added);
	}
	if (add_names(out->block, pc->block, pc->n_block, pc->name, err,
		      errlen) != 0)
		return -1;
	return add_names(out->allow, pc->allow, pc->n_allow, pc->name, err,
			 errlen);
}

static void lists_free(struct policy_lists *l)
{
	for (size_t i = 0; i < l->n; i++) {
		policy_domains_free(l->profiles[i].block);
		policy_domains_free(l->profiles[i].allow);
	}
	free(l->profiles);
	free(l);
}

struct policy_lists *policy_lists_load(const struct policy_conf *conf,
				       char *err, size_t errlen)
{
	struct policy_lists *l = calloc(1, sizeof(*l));
	if (l)
		l->profiles = calloc(conf->n_profiles + 1, sizeof(*l->profiles));
	if (!l || !l->profiles) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	atomic_init(&l->refs, 1);
	for (size_t i = 0; i < conf->n_profiles; i++) {
		l->n = i + 1;
		if (load_profile(&conf->profiles[i], &l->profiles[i], err,
				 errlen) != 0) {
			lists_free(l);
			return NULL;
		}
		l->blocked += policy_domains_count(l->profiles[i].block);
	}
	return l;
}

void policy_lists_ref(struct policy_lists *l)
{
	atomic_fetch_add(&l->refs, 1);
}

void policy_lists_unref(struct policy_lists *l)
{
	if (l && atomic_fetch_sub(&l->refs, 1) == 1)
		lists_free(l);
}

size_t policy_lists_blocked(const struct policy_lists *l)
{
	return l->blocked;
}

/* ------------------------------------------------------------------ MUD policies */

struct policy_mud_policy {
	atomic_uint refs;
	struct policy_domains *names;
};

struct policy_mud_policy *policy_mud_compile(const struct policy_mud *m)
{
	struct policy_mud_policy *p = calloc(1, sizeof(*p));
	if (!p || !(p->names = policy_domains_new())) {
		free(p);
		return NULL;
	}
	atomic_init(&p->refs, 1);
	for (size_t i = 0; i < m->n_names; i++)
		/* The parser validated the names; a MUD dnsname is one host. */
		if (policy_domains_add_text(p->names, m->names[i],
					    POLICY_MATCH_EXACT) != 0) {
			policy_mud_policy_unref(p);
			return NULL;
		}
	return p;
}

void policy_mud_policy_ref(struct policy_mud_policy *p)
{
	atomic_fetch_add(&p->refs, 1);
}

void policy_mud_policy_unref(struct policy_mud_policy *p)
{
	if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	policy_domains_free(p->names);
	free(p);
}

size_t policy_mud_policy_names(const struct policy_mud_policy *p)
{
	return policy_domains_count(p->names);
}

/* ------------------------------------------------------------------ generations */

struct rule {
	struct util_subnet *subnets;
	size_t n_subnets;
	char *device, *client_id;
	bool certificate_profile, certificate_mud;
	int profile;			/**< -1: the device's stored profile */
};

struct device_row {
	char *name;
	int profile;
};

/* An address as 17 comparable bytes: family, then the address. */
struct binding_row {
	uint8_t key[17];
	int mud;			/**< index into muds */
};

struct mud_row {
	char *url;
	struct policy_mud_policy *policy;
	bool pending;
};

struct profile {
	char *name;
	enum policy_mud_mode mud;
	bool open;			/* no lists, no MUD: allows everything */
};

struct policy {
	atomic_uint refs;
	uint32_t generation;
	unsigned block_rcode;
	struct policy_lists *lists;
	struct profile *profiles;
	size_t n_profiles;
	struct rule *rules;
	size_t n_rules;
	struct device_row *devices;	/**< sorted by name */
	size_t n_devices;
	struct binding_row *bindings;	/**< sorted by key */
	size_t n_bindings;
	struct mud_row *muds;
	size_t n_muds;
};

static atomic_uint generations;

static void policy_free(struct policy *p)
{
	for (size_t i = 0; i < p->n_profiles; i++)
		free(p->profiles[i].name);
	free(p->profiles);
	for (size_t i = 0; i < p->n_rules; i++) {
		free(p->rules[i].subnets);
		free(p->rules[i].device);
		free(p->rules[i].client_id);
	}
	free(p->rules);
	for (size_t i = 0; i < p->n_devices; i++)
		free(p->devices[i].name);
	free(p->devices);
	free(p->bindings);
	for (size_t i = 0; i < p->n_muds; i++) {
		free(p->muds[i].url);
		policy_mud_policy_unref(p->muds[i].policy);
	}
	free(p->muds);
	policy_lists_unref(p->lists);
	free(p);
}

void policy_ref(struct policy *p)
{
	atomic_fetch_add(&p->refs, 1);
}

void policy_unref(struct policy *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1)
		policy_free(p);
}

uint32_t policy_generation(const struct policy *p)
{
	return p->generation;
}

unsigned policy_block_rcode(const struct policy *p)
{
	return p->block_rcode;
}

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* Profiles as configured, plus an empty "default" when none is named so:
 * a client that no rule matches gets it. */
static int copy_profiles(struct policy *p, const struct policy_conf *c)
{
	bool has_default = policy_conf_profile(c, "default") >= 0;
	p->profiles = calloc(c->n_profiles + 1, sizeof(*p->profiles));
	if (!p->profiles)
		return -1;
	bool oom = false;
	for (size_t i = 0; i < c->n_profiles; i++) {
		p->profiles[i].name = dup_or_null(c->profiles[i].name, &oom);
		p->profiles[i].mud = c->profiles[i].mud;
		p->profiles[i].open = c->profiles[i].mud == POLICY_MUD_OFF &&
				      !c->profiles[i].n_blocklists &&
				      !c->profiles[i].n_block;
	}
	p->n_profiles = c->n_profiles;
	if (!has_default) {
		p->profiles[p->n_profiles].open = true;
		p->profiles[p->n_profiles++].name =
			dup_or_null("default", &oom);
	}
	return oom ? -1 : 0;
}

static int profile_index(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_profiles; i++)
		if (strcmp(p->profiles[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int copy_rule(struct policy *p, const struct policy_client_conf *c,
		     struct rule *r, char *err, size_t errlen)
{
	bool oom = false;
	r->device = dup_or_null(c->device, &oom);
	r->client_id = dup_or_null(c->client_id, &oom);
	r->certificate_profile = c->certificate_profile;
	r->certificate_mud = c->certificate_mud;
	if (c->n_subnets) {
		r->subnets = malloc(c->n_subnets * sizeof(*r->subnets));
		if (!r->subnets)
			return -1;
		memcpy(r->subnets, c->subnets, c->n_subnets * sizeof(*r->subnets));
		r->n_subnets = c->n_subnets;
	}
	r->profile = -1;
	if (c->profile && (r->profile = profile_index(p, c->profile)) < 0) {
		snprintf(err, errlen, "clients (line %u): no profile named "
			 "'%s'", c->line, c->profile);
		return -1;
	}
	return oom ? -1 : 0;
}

static int copy_rules(struct policy *p, const struct policy_conf *c,
		      char *err, size_t errlen)
{
	p->rules = calloc(c->n_clients + 1, sizeof(*p->rules));
	if (!p->rules)
		return -1;
	for (size_t i = 0; i < c->n_clients; i++) {
		p->n_rules = i + 1;
		if (copy_rule(p, &c->clients[i], &p->rules[i], err, errlen))
			return -1;
	}
	return 0;
}

static int compare_devices(const void *a, const void *b)
{
	return strcmp(((const struct device_row *)a)->name,
		      ((const struct device_row *)b)->name);
}

static int copy_devices(struct policy *p, const struct policy_facts *f)
{
	p->devices = calloc(f->n_devices + 1, sizeof(*p->devices));
	if (!p->devices)
		return -1;
	for (size_t i = 0; i < f->n_devices; i++) {
		const struct policy_device_profile *d = &f->devices[i];
		int profile = d->profile[0] ? profile_index(p, d->profile) : -1;
		if (profile < 0)
			continue;	/* no stored profile, or not configured */
		struct device_row *row = &p->devices[p->n_devices];
		if (!(row->name = strdup(d->device)))
			return -1;
		row->profile = profile;
		p->n_devices++;
	}
	qsort(p->devices, p->n_devices, sizeof(*p->devices), compare_devices);
	return 0;
}

static int copy_muds(struct policy *p, const struct policy_facts *f)
{
	p->muds = calloc(f->n_muds + 1, sizeof(*p->muds));
	if (!p->muds)
		return -1;
	for (size_t i = 0; i < f->n_muds; i++) {
		struct mud_row *row = &p->muds[i];
		if (!(row->url = strdup(f->muds[i].url)))
			return -1;
		p->n_muds = i + 1;
		row->pending = f->muds[i].pending;
		if ((row->policy = f->muds[i].policy))
			policy_mud_policy_ref(row->policy);
	}
	return 0;
}

static int mud_index(const struct policy *p, const char *url)
{
	for (size_t i = 0; i < p->n_muds; i++)
		if (strcmp(p->muds[i].url, url) == 0)
			return (int)i;
	return -1;
}

/* The key of an address; an IPv4-mapped IPv6 address is its IPv4 form, so
 * that a dual-stack socket's view matches a binding made for IPv4. */
static bool address_key(const struct sockaddr *sa, uint8_t key[17])
{
	memset(key, 0, 17);
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		key[0] = 4;
		memcpy(key + 1, a->s6_addr + 12, 4);
	} else {
		key[0] = 6;
		memcpy(key + 1, a->s6_addr, 16);
	}
	return true;
}

static int compare_bindings(const void *a, const void *b)
{
	return memcmp(((const struct binding_row *)a)->key,
		      ((const struct binding_row *)b)->key, 17);
}

static int copy_bindings(struct policy *p, const struct policy_facts *f)
{
	p->bindings = calloc(f->n_bindings + 1, sizeof(*p->bindings));
	if (!p->bindings)
		return -1;
	for (size_t i = 0; i < f->n_bindings; i++) {
		const struct policy_binding *b = &f->bindings[i];
		struct binding_row *row = &p->bindings[p->n_bindings];
		row->mud = mud_index(p, b->url);
		if (row->mud < 0 || !address_key(
				(const struct sockaddr *)&b->address.ss, row->key))
			continue;	/* the caller lists every bound URL */
		p->n_bindings++;
	}
	qsort(p->bindings, p->n_bindings, sizeof(*p->bindings),
	      compare_bindings);
	return 0;
}

struct policy *policy_build(const struct policy_conf *conf,
			    struct policy_lists *lists,
			    const struct policy_facts *facts, char *err,
			    size_t errlen)
{
	struct policy *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	atomic_init(&p->refs, 1);
	p->generation = atomic_fetch_add(&generations, 1) + 1;
	p->block_rcode = conf->mud.block_rcode;
	policy_lists_ref(lists);
	p->lists = lists;
	snprintf(err, errlen, "out of memory");
	if (copy_profiles(p, conf) != 0 || copy_rules(p, conf, err, errlen) ||
	    copy_devices(p, facts) != 0 || copy_muds(p, facts) != 0 ||
	    copy_bindings(p, facts) != 0) {
		policy_free(p);
		return NULL;
	}
	return p;
}

/* ------------------------------------------------------------------ identity */

static int stored_profile(const struct policy *p, const char *device)
{
	struct device_row key = { .name = (char *)device };
	const struct device_row *row = bsearch(&key, p->devices, p->n_devices,
					       sizeof(key), compare_devices);
	return row ? row->profile : -1;
}

static bool in_subnets(const struct rule *r, const struct sockaddr *sa)
{
	for (size_t i = 0; i < r->n_subnets; i++)
		if (util_subnet_contains(&r->subnets[i], sa))
			return true;
	return false;
}

/* The profile a rule gives the client, or -1 when it does not match. */
static int rule_profile(const struct policy *p, const struct rule *r,
			const struct policy_who *who, const struct sockaddr *sa)
{
	bool cert = who->cert_verified && who->cert_cn;
	if (r->n_subnets && !in_subnets(r, sa))
		return -1;
	if (r->device && (!cert || strcmp(r->device, who->cert_cn) != 0))
		return -1;
	if (r->client_id && (!who->client_id ||
			     strcmp(r->client_id, who->client_id) != 0))
		return -1;
	if (r->certificate_mud && !(who->cert_verified && who->cert_mud_url &&
				    who->cert_mud_url[0]))
		return -1;
	if (!r->certificate_profile)
		return r->profile;
	int stored = cert ? stored_profile(p, who->cert_cn) : -1;
	return stored >= 0 ? stored : -1;
}

/* Subnets are matched on the plain IPv4 form of a mapped address too. */
static const struct sockaddr *plain_address(const struct sockaddr *sa,
					    struct sockaddr_in *v4)
{
	if (sa->sa_family != AF_INET6)
		return sa;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (!IN6_IS_ADDR_V4MAPPED(a))
		return sa;
	*v4 = (struct sockaddr_in){ .sin_family = AF_INET };
	memcpy(&v4->sin_addr, a->s6_addr + 12, 4);
	return (const struct sockaddr *)v4;
}

static int binding_mud(const struct policy *p, const struct sockaddr *sa)
{
	struct binding_row key;
	if (!address_key(sa, key.key))
		return -1;
	const struct binding_row *row = bsearch(&key, p->bindings,
						p->n_bindings, sizeof(key),
						compare_bindings);
	return row ? row->mud : -1;
}

void policy_identify(const struct policy *p, const struct policy_who *who,
		     struct policy_identity *out)
{
	struct sockaddr_in v4;
	const struct sockaddr *sa = plain_address(who->addr, &v4);
	*out = (struct policy_identity){
		.generation = p->generation,
		.profile = (int16_t)profile_index(p, "default"),
		.mud = -1,
	};
	for (size_t i = 0; i < p->n_rules; i++) {
		int profile = rule_profile(p, &p->rules[i], who, sa);
		if (profile >= 0) {
			out->profile = (int16_t)profile;
			break;
		}
	}
	/* A URL in a certificate is authenticated; one from DHCP is not, so
	 * it only counts when no certificate names one. */
	if (who->cert_verified && who->cert_mud_url && who->cert_mud_url[0]) {
		out->mud = (int16_t)mud_index(p, who->cert_mud_url);
		out->mud_url_unknown = out->mud < 0;
	} else {
		out->mud = (int16_t)binding_mud(p, sa);
	}
}

/* ------------------------------------------------------------------ decisions */

/* DDR (RFC 9462) names concern the resolver itself: every client may ask. */
static bool is_resolver_arpa(const uint8_t *qname)
{
	static const uint8_t suffix[] = "\x08" "resolver" "\x04" "arpa";
	size_t len = 0;
	while (qname[len])
		len += qname[len] + 1;
	len++;
	for (size_t pos = 0; qname[pos]; pos += qname[pos] + 1)
		if (len - pos == sizeof(suffix) &&
		    memcmp(qname + pos, suffix, sizeof(suffix)) == 0)
			return true;
	return false;
}

static void decide_mud(const struct policy *p, const struct profile *prof,
		       const struct policy_identity *id, const uint8_t *qname,
		       struct policy_decision *out)
{
	const struct mud_row *m = id->mud >= 0 ? &p->muds[id->mud] : NULL;
	if (m && m->policy) {
		out->confined = true;
		if (policy_domains_match(m->policy->names, qname))
			return;
		out->verdict = POLICY_BLOCK;
		out->reason = "not allowed by the device's MUD file";
		return;
	}
	if (prof->mud != POLICY_MUD_REQUIRED)
		return;
	if ((m && m->pending) || id->mud_url_unknown) {
		out->verdict = POLICY_NOT_READY;
		out->reason = "the device's MUD file is being fetched";
		return;
	}
	out->verdict = POLICY_BLOCK;
	out->reason = m ? "the device's MUD file is not usable"
			: "no MUD file is bound to this device";
}

void policy_decide(const struct policy *p, const struct policy_identity *id,
		   const uint8_t *qname, struct policy_decision *out)
{
	const struct profile *prof = &p->profiles[id->profile];
	const struct profile_lists *lists =
		(size_t)id->profile < p->lists->n ? &p->lists->profiles[id->profile]
						  : NULL;
	*out = (struct policy_decision){
		.verdict = POLICY_ALLOW,
		.profile = prof->name,
	};
	if (prof->open || is_resolver_arpa(qname))
		return;
	if (lists && policy_domains_match(lists->allow, qname))
		return;
	if (lists && policy_domains_match(lists->block, qname)) {
		out->verdict = POLICY_BLOCK;
		out->reason = "blocked by the network's policy";
		return;
	}
	if (prof->mud != POLICY_MUD_OFF)
		decide_mud(p, prof, id, qname, out);
}
