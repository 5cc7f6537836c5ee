/*  anchord - dns/localdata.c: names answered locally, never forwarded.
 *
 *  Built once per configuration generation with ldns (local-data strings,
 *  zone files, the built-in zones) into hash tables of wire-format record
 *  sets; answering then only copies wire. Zone types follow Unbound's
 *  vocabulary: static (only local data exists below the apex), transparent
 *  (local names answered, the rest forwarded), nxdomain, refuse.
 *  local-data outside any zone makes a transparent zone at its owner name,
 *  as in Unbound.
 *
 *  A zone file may be signed (ldns-signzone, dnssec-signzone): its RRSIGs
 *  then go out with the RRsets they cover, and negative answers carry the
 *  NSEC or NSEC3 records that prove them, to clients that set DO (RFC 4035
 *  3.1). anchord serves them as an authoritative server would, with AA
 *  and never AD: it does not validate its own data. Proving a negative
 *  from an NSEC3 zone hashes names with ldns when the answer is built.
 */
#include "dns/internal.h"

#include <ctype.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CNAME_CHAIN_MAX 8
#define BUILTIN_SOA_RDATA "localhost. nobody.invalid. 1 3600 1200 604800 10800"

/* Records of one type at one name, each stored without its owner:
 * type, class, TTL, rdlength, rdata. */
struct local_set {
	uint16_t type;
	uint16_t count;
	uint8_t *rrs;
	size_t len;
};

/* Common head of the objects kept in name tables. */
struct name_entry {
	struct name_entry *next;
	uint64_t hash;
	uint16_t name_len;
	uint8_t name[DNS_MAX_NAME];
};

struct local_zone;

struct local_node {
	struct name_entry head;
	struct local_zone *zone;
	struct local_set *sets;
	unsigned n_sets;
	bool hashed;			/* an NSEC3 owner: not a name of the zone */
};

/* The NSEC3 parameters of a signed zone (RFC 5155 3.1). */
struct local_nsec3 {
	uint16_t iterations;
	uint8_t salt_len;
	uint8_t salt[255];
};

struct local_zone {
	struct name_entry head;
	enum dns_zone_type type;
	bool from_config;
	bool has_wildcards;
	bool is_signed;			/* its zone file has RRSIGs */
	unsigned local_data;		/* local-data records added to it */
	struct local_node **nsec;	/* nodes with NSEC, canonical order */
	size_t n_nsec;
	struct local_node **nsec3;	/* nodes with NSEC3, by hash */
	size_t n_nsec3;
	struct local_nsec3 nsec3_params;
};

struct name_table {
	struct name_entry **buckets;
	size_t n_buckets, count;
};

struct dns_local {
	struct name_table zones, nodes;
	uint64_t zone_label_mask[2];	/* label counts that have a zone */
};

/* ------------------------------------------------------------------ tables */

static uint64_t name_hash(const uint8_t *name, size_t len)
{
	return util_hash(name, len);
}

static struct name_entry *table_find(const struct name_table *t,
				     const uint8_t *name, size_t len)
{
	if (!t->n_buckets)
		return NULL;
	uint64_t h = name_hash(name, len);
	for (struct name_entry *e = t->buckets[h & (t->n_buckets - 1)]; e;
	     e = e->next)
		if (e->hash == h && e->name_len == len &&
		    memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

static int table_insert(struct name_table *t, struct name_entry *e)
{
	if (t->count + 1 > t->n_buckets / 2) {
		size_t n = t->n_buckets ? t->n_buckets * 2 : 64;
		struct name_entry **nb = calloc(n, sizeof(*nb));
		if (!nb)
			return -1;
		for (size_t i = 0; i < t->n_buckets; i++) {
			struct name_entry *x = t->buckets[i], *next;
			for (; x; x = next) {
				next = x->next;
				x->next = nb[x->hash & (n - 1)];
				nb[x->hash & (n - 1)] = x;
			}
		}
		free(t->buckets);
		t->buckets = nb;
		t->n_buckets = n;
	}
	e->hash = name_hash(e->name, e->name_len);
	e->next = t->buckets[e->hash & (t->n_buckets - 1)];
	t->buckets[e->hash & (t->n_buckets - 1)] = e;
	t->count++;
	return 0;
}

static void table_free(struct name_table *t, void (*free_fn)(void *))
{
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct name_entry *e = t->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free_fn(e);
		}
	}
	free(t->buckets);
}

static void node_free(void *p)
{
	struct local_node *n = p;
	for (unsigned i = 0; i < n->n_sets; i++)
		free(n->sets[i].rrs);
	free(n->sets);
	free(n);
}

static void zone_free(void *p)
{
	struct local_zone *z = p;
	free(z->nsec);
	free(z->nsec3);
	free(z);
}

void dns_local_free(struct dns_local *local)
{
	if (!local)
		return;
	table_free(&local->zones, zone_free);
	table_free(&local->nodes, node_free);
	free(local);
}

/* ------------------------------------------------------------------ names */

static size_t wire_name_len(const uint8_t *name)
{
	size_t n = 0;
	while (name[n])
		n += name[n] + 1u;
	return n + 1;
}

/* The name with its first label removed. */
static const uint8_t *parent_of(const uint8_t *name)
{
	return name[0] ? name + name[0] + 1 : NULL;
}

static bool is_below_or_at(const uint8_t *name, size_t len,
			   const uint8_t *apex, size_t apex_len)
{
	if (apex_len > len)
		return false;
	const uint8_t *p = name;
	while ((size_t)(name + len - p) > apex_len)
		p += *p + 1;
	return (size_t)(name + len - p) == apex_len &&
	       memcmp(p, apex, apex_len) == 0;
}

/* ------------------------------------------------------------------ building */

struct build_ctx {
	struct dns_local *local;
	char *err;
	size_t errlen;
	ldns_buffer *buf;
};

static int fail(struct build_ctx *b, const struct dns_conf_origin *o,
		const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct build_ctx *b, const struct dns_conf_origin *o,
		const char *fmt, ...)
{
	int n = 0;
	if (o && o->file)
		n = snprintf(b->err, b->errlen, "%s:%u: ", o->file, o->line);
	if (n < 0 || (size_t)n >= b->errlen)
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static struct local_zone *zone_find(const struct dns_local *l,
				    const uint8_t *name, size_t len)
{
	return (struct local_zone *)table_find(&l->zones, name, len);
}

static struct local_node *node_find(const struct dns_local *l,
				    const uint8_t *name, size_t len)
{
	return (struct local_node *)table_find(&l->nodes, name, len);
}

static struct local_zone *zone_add(struct dns_local *l, const uint8_t *name,
				   size_t len, enum dns_zone_type type)
{
	struct local_zone *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	memcpy(z->head.name, name, len);
	z->head.name_len = (uint16_t)len;
	z->type = type;
	if (table_insert(&l->zones, &z->head) != 0) {
		free(z);
		return NULL;
	}
	unsigned labels = dns_name_labels(name);
	l->zone_label_mask[labels / 64] |= 1ULL << (labels % 64);
	return z;
}

/* The zone that holds a name: the closest enclosing one. */
static struct local_zone *zone_for(const struct dns_local *l,
				   const uint8_t *name)
{
	for (const uint8_t *p = name; p; p = parent_of(p)) {
		unsigned labels = dns_name_labels(p);
		if (!(l->zone_label_mask[labels / 64] & (1ULL << (labels % 64))))
			continue;
		struct local_zone *z = zone_find(l, p, wire_name_len(p));
		if (z)
			return z;
	}
	return NULL;
}

static struct local_node *node_get(struct dns_local *l, const uint8_t *name,
				   size_t len, struct local_zone *z)
{
	struct local_node *n = node_find(l, name, len);
	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	memcpy(n->head.name, name, len);
	n->head.name_len = (uint16_t)len;
	n->zone = z;
	if (table_insert(&l->nodes, &n->head) != 0) {
		free(n);
		return NULL;
	}
	if (name[0] == 1 && name[1] == '*')
		z->has_wildcards = true;
	return n;
}

static const struct local_set *set_find_const(const struct local_node *n,
					      uint16_t type)
{
	for (unsigned i = 0; i < n->n_sets; i++)
		if (n->sets[i].type == type)
			return &n->sets[i];
	return NULL;
}

static struct local_set *set_get(struct local_node *n, uint16_t type)
{
	for (unsigned i = 0; i < n->n_sets; i++)
		if (n->sets[i].type == type)
			return &n->sets[i];
	struct local_set *s = realloc(n->sets, (n->n_sets + 1) * sizeof(*s));
	if (!s)
		return NULL;
	n->sets = s;
	s = &n->sets[n->n_sets++];
	*s = (struct local_set){ .type = type };
	return s;
}

/* Append the owner-less wire of rr to the set of its type at its node. */
static int add_rr(struct build_ctx *b, const ldns_rr *rr, struct local_zone *z,
		  const struct dns_conf_origin *o)
{
	const ldns_rdf *owner = ldns_rr_owner(rr);
	uint8_t name[DNS_MAX_NAME];
	int len = dns_name_lower(ldns_rdf_data(owner), ldns_rdf_size(owner), name);
	if (len < 0)
		return fail(b, o, "bad owner name");
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
		return fail(b, o, "only class IN is served");
	if (!is_below_or_at(name, (size_t)len, z->head.name, z->head.name_len))
		return fail(b, o, "record outside its zone");
	ldns_buffer_clear(b->buf);
	if (ldns_rr2buffer_wire(b->buf, rr, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
		return fail(b, o, "cannot encode record");
	size_t skip = ldns_rdf_size(owner);
	size_t rrlen = ldns_buffer_position(b->buf) - skip;
	struct local_node *n = node_get(b->local, name, (size_t)len, z);
	struct local_set *s = n ? set_get(n, (uint16_t)ldns_rr_get_type(rr)) : NULL;
	uint8_t *grown = s ? realloc(s->rrs, s->len + rrlen) : NULL;
	if (!grown)
		return fail(b, o, "out of memory");
	memcpy(grown + s->len, ldns_buffer_begin(b->buf) + skip, rrlen);
	s->rrs = grown;
	s->len += rrlen;
	s->count++;
	return 0;
}

static int parse_rr(struct build_ctx *b, const char *text, ldns_rr **rr,
		    const struct dns_conf_origin *o)
{
	ldns_status st = ldns_rr_new_frm_str(rr, text, 3600, NULL, NULL);
	if (st != LDNS_STATUS_OK)
		return fail(b, o, "local-data \"%s\": %s", text,
			    ldns_get_errorstr_by_id(st));
	return 0;
}

/* local-data: into its enclosing zone, or a transparent zone at its owner. */
static int add_local_data(struct build_ctx *b, const char *text,
			  const struct dns_conf_origin *o)
{
	ldns_rr *rr;
	if (parse_rr(b, text, &rr, o) != 0)
		return -1;
	uint8_t name[DNS_MAX_NAME];
	const ldns_rdf *owner = ldns_rr_owner(rr);
	int len = dns_name_lower(ldns_rdf_data(owner), ldns_rdf_size(owner), name);
	struct local_zone *z = len > 0 ? zone_for(b->local, name) : NULL;
	if (len > 0 && !z)
		z = zone_add(b->local, name, (size_t)len, DNS_ZONE_TRANSPARENT);
	else if (z)
		z->local_data++;
	int ret = z ? add_rr(b, rr, z, o) : fail(b, o, "bad owner name");
	ldns_rr_free(rr);
	return ret;
}

static int load_zone_file(struct build_ctx *b, struct local_zone *z,
			  const struct dns_local_zone_conf *zc)
{
	FILE *fp = fopen(zc->file, "r");
	if (!fp)
		return fail(b, &zc->origin, "zone file %s: %s", zc->file,
			    strerror(errno));
	ldns_rdf *origin = ldns_dname_new_frm_str(zc->name);
	ldns_zone *zone = NULL;
	int line = 1;
	ldns_status st = ldns_zone_new_frm_fp_l(&zone, fp, origin, 3600,
						LDNS_RR_CLASS_IN, &line);
	fclose(fp);
	ldns_rdf_deep_free(origin);
	if (st != LDNS_STATUS_OK) {
		struct dns_conf_origin at = { zc->file, (unsigned)line };
		return fail(b, &at, "%s", ldns_get_errorstr_by_id(st));
	}
	struct dns_conf_origin at = { zc->file, 0 };
	int ret = 0;
	if (ldns_zone_soa(zone))
		ret = add_rr(b, ldns_zone_soa(zone), z, &at);
	ldns_rr_list *rrs = ldns_zone_rrs(zone);
	for (size_t i = 0; ret == 0 && i < ldns_rr_list_rr_count(rrs); i++)
		ret = add_rr(b, ldns_rr_list_rr(rrs, i), z, &at);
	ldns_zone_deep_free(zone);
	return ret;
}

static int add_config_zones(struct build_ctx *b, const struct dns_conf *conf)
{
	for (size_t i = 0; i < conf->n_zones; i++) {
		const struct dns_local_zone_conf *zc = &conf->zones[i];
		uint8_t name[DNS_MAX_NAME];
		int len = dns_name_from_str(zc->name, name);
		if (len < 0)
			return fail(b, &zc->origin, "bad zone name \"%s\"",
				    zc->name);
		if (zone_find(b->local, name, (size_t)len))
			return fail(b, &zc->origin, "zone %s given twice",
				    zc->name);
		struct local_zone *z = zone_add(b->local, name, (size_t)len,
						zc->type);
		if (!z)
			return fail(b, &zc->origin, "out of memory");
		z->from_config = true;
		if (zc->file && load_zone_file(b, z, zc) != 0)
			return -1;
	}
	return 0;
}

/* Zones every resolver serves itself (RFC 6761, 6762, 7686, 9462), unless the
 * configuration names the same zone. */
static const struct builtin_zone {
	const char *name;
	enum dns_zone_type type;
	const char *data[4];
} builtin_zones[] = {
	{ "localhost.", DNS_ZONE_STATIC,
	  { "localhost. 10800 IN A 127.0.0.1", "localhost. 10800 IN AAAA ::1",
	    "*.localhost. 10800 IN A 127.0.0.1",
	    "*.localhost. 10800 IN AAAA ::1" } },
	{ "127.in-addr.arpa.", DNS_ZONE_STATIC,
	  { "1.0.0.127.in-addr.arpa. 10800 IN PTR localhost." } },
	{ "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	  "ip6.arpa.", DNS_ZONE_STATIC,
	  { "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "ip6.arpa. 10800 IN PTR localhost." } },
	/* DDR (RFC 9462): never forwarded; _dns exists (NODATA until the
	 * HTTPS listener publishes its SVCB records). */
	{ "resolver.arpa.", DNS_ZONE_STATIC, { NULL } },
	/* Firefox's canary: NXDOMAIN keeps its default DoH off here. */
	{ "use-application-dns.net.", DNS_ZONE_NXDOMAIN, { NULL } },
	{ "onion.", DNS_ZONE_NXDOMAIN, { NULL } },	/* RFC 7686 */
	{ "invalid.", DNS_ZONE_NXDOMAIN, { NULL } },	/* RFC 6761 6.4 */
};

static int add_builtin_rr(struct build_ctx *b, struct local_zone *z,
			  const char *text)
{
	ldns_rr *rr;
	if (parse_rr(b, text, &rr, NULL) != 0)
		return -1;
	int ret = add_rr(b, rr, z, NULL);
	ldns_rr_free(rr);
	return ret;
}

static int add_builtin_zones(struct build_ctx *b)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtin_zones); i++) {
		const struct builtin_zone *bz = &builtin_zones[i];
		uint8_t name[DNS_MAX_NAME];
		int len = dns_name_from_str(bz->name, name);
		if (zone_find(b->local, name, (size_t)len))
			continue;	/* configured: the operator's zone wins */
		struct local_zone *z = zone_add(b->local, name, (size_t)len,
						bz->type);
		char soa[512];
		snprintf(soa, sizeof(soa), "%s 10800 IN SOA " BUILTIN_SOA_RDATA,
			 bz->name);
		if (!z || add_builtin_rr(b, z, soa) != 0)
			return fail(b, NULL, "built-in zone %s", bz->name);
		for (size_t j = 0; j < ARRAY_SIZE(bz->data) && bz->data[j]; j++)
			if (add_builtin_rr(b, z, bz->data[j]) != 0)
				return -1;
	}
	uint8_t ddr[DNS_MAX_NAME];
	int len = dns_name_from_str("_dns.resolver.arpa.", ddr);
	struct local_zone *z = zone_for(b->local, ddr);
	if (z && z->type == DNS_ZONE_STATIC && !z->from_config &&
	    !node_get(b->local, ddr, (size_t)len, z))
		return fail(b, NULL, "out of memory");
	return 0;
}

/* In static zones, a name whose children exist exists too (empty
 * non-terminal): it answers NODATA, not NXDOMAIN (RFC 8020). */
static int add_empty_non_terminals(struct build_ctx *b)
{
	struct name_table *t = &b->local->nodes;
	size_t n_buckets = t->n_buckets;
	struct name_entry **snapshot = calloc(t->count + 1, sizeof(*snapshot));
	size_t n = 0;
	if (!snapshot)
		return fail(b, NULL, "out of memory");
	for (size_t i = 0; i < n_buckets; i++)
		for (struct name_entry *e = t->buckets[i]; e; e = e->next)
			snapshot[n++] = e;
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct local_node *node = (struct local_node *)snapshot[i];
		struct local_zone *z = node->zone;
		if (z->type != DNS_ZONE_STATIC)
			continue;
		const uint8_t *p = parent_of(node->head.name);
		for (; p && wire_name_len(p) > z->head.name_len; p = parent_of(p))
			if (!node_get(b->local, p, wire_name_len(p), z))
				ret = fail(b, NULL, "out of memory");
	}
	free(snapshot);
	return ret;
}

static int check_cname_exclusive(struct build_ctx *b)
{
	struct name_table *t = &b->local->nodes;
	for (size_t i = 0; i < t->n_buckets; i++) {
		for (struct name_entry *e = t->buckets[i]; e; e = e->next) {
			struct local_node *n = (struct local_node *)e;
			bool cname = false;
			unsigned data = 0, cnames = 0;
			for (unsigned j = 0; j < n->n_sets; j++) {
				uint16_t type = n->sets[j].type;
				cname |= type == DNS_TYPE_CNAME;
				if (type == DNS_TYPE_CNAME)
					cnames = n->sets[j].count;
				/* RRSIG and NSEC may sit next to a CNAME
				 * (RFC 4035 2.5). */
				if (type != DNS_TYPE_RRSIG &&
				    type != DNS_TYPE_NSEC)
					data++;
			}
			if (cname && (data > 1 || cnames > 1)) {
				char text[DNS_MAX_NAME * 4];
				return fail(b, NULL, "%s: CNAME and other data",
					    dns_name_str(e->name, text,
							 sizeof(text)));
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ signed zones */

static inline uint16_t rd16b(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Canonical order of two lower-cased wire names (RFC 4034 6.1): label by
 * label from the root, shorter first. */
static int canonical_cmp(const uint8_t *a, const uint8_t *b)
{
	const uint8_t *la[128], *lb[128];
	int na = 0, nb = 0;
	for (; *a && na < 128; a += *a + 1)
		la[na++] = a;
	for (; *b && nb < 128; b += *b + 1)
		lb[nb++] = b;
	while (na > 0 && nb > 0) {
		const uint8_t *x = la[--na], *y = lb[--nb];
		int c = memcmp(x + 1, y + 1, MIN(*x, *y));
		if (c)
			return c;
		if (*x != *y)
			return *x < *y ? -1 : 1;
	}
	return na - nb;
}

static int cmp_nsec(const void *a, const void *b)
{
	const struct local_node *x = *(struct local_node *const *)a;
	const struct local_node *y = *(struct local_node *const *)b;
	return canonical_cmp(x->head.name, y->head.name);
}

/* NSEC3 owners sort by their first label, the base32hex of the hash. */
static int hash_cmp(const uint8_t *a, const uint8_t *b)
{
	int c = memcmp(a + 1, b + 1, MIN(a[0], b[0]));
	return c ? c : (a[0] > b[0]) - (a[0] < b[0]);
}

static int cmp_nsec3(const void *a, const void *b)
{
	const struct local_node *x = *(struct local_node *const *)a;
	const struct local_node *y = *(struct local_node *const *)b;
	return hash_cmp(x->head.name, y->head.name);
}

static int push_node(struct local_node ***v, size_t *n, struct local_node *x)
{
	struct local_node **a = realloc(*v, (*n + 1) * sizeof(*a));
	if (!a)
		return -1;
	a[(*n)++] = x;
	*v = a;
	return 0;
}

/* Iterations and salt from the first NSEC3 (all share them). */
static void nsec3_params_of(struct local_zone *z, const struct local_set *s)
{
	const uint8_t *p = s->rrs, *end = s->rrs + s->len;
	if (p + 10 > end || p + 10 + rd16b(p + 8) > end || rd16b(p + 8) < 5)
		return;
	const uint8_t *rdata = p + 10;
	uint8_t salt_len = rdata[4];
	if (5u + salt_len > rd16b(p + 8))
		return;
	z->nsec3_params.iterations = rd16b(rdata + 2);
	z->nsec3_params.salt_len = salt_len;
	memcpy(z->nsec3_params.salt, rdata + 5, salt_len);
}

static int index_node(struct build_ctx *b, struct local_node *n)
{
	struct local_zone *z = n->zone;
	bool nsec = false, nsec3 = false, other = false;
	for (unsigned i = 0; i < n->n_sets; i++) {
		uint16_t t = n->sets[i].type;
		if (t == DNS_TYPE_RRSIG)
			z->is_signed = true;
		else if (t == DNS_TYPE_NSEC)
			nsec = true;
		else if (t == DNS_TYPE_NSEC3)
			nsec3 = true;
		else
			other = true;
	}
	if (nsec3) {
		if (z->n_nsec3 == 0)
			nsec3_params_of(z, set_find_const(n, DNS_TYPE_NSEC3));
		n->hashed = !other && !nsec;
	}
	if ((nsec && push_node(&z->nsec, &z->n_nsec, n) != 0) ||
	    (nsec3 && push_node(&z->nsec3, &z->n_nsec3, n) != 0))
		return fail(b, NULL, "out of memory");
	return 0;
}

/* Index the NSEC and NSEC3 records of signed zones for negative answers. */
static int index_signed_zones(struct build_ctx *b)
{
	struct name_table *t = &b->local->nodes;
	for (size_t i = 0; i < t->n_buckets; i++)
		for (struct name_entry *e = t->buckets[i]; e; e = e->next)
			if (index_node(b, (struct local_node *)e) != 0)
				return -1;
	t = &b->local->zones;
	for (size_t i = 0; i < t->n_buckets; i++) {
		for (struct name_entry *e = t->buckets[i]; e; e = e->next) {
			struct local_zone *z = (struct local_zone *)e;
			char text[DNS_MAX_NAME * 4];
			if (z->is_signed && z->local_data)
				log_warning("local", "zone %s is signed, but its "
					    "%u local-data records are served "
					    "without signatures",
					    dns_name_str(z->head.name, text,
							 sizeof(text)),
					    z->local_data);
			if (z->n_nsec)
				qsort(z->nsec, z->n_nsec, sizeof(*z->nsec),
				      cmp_nsec);
			if (z->n_nsec3)
				qsort(z->nsec3, z->n_nsec3, sizeof(*z->nsec3),
				      cmp_nsec3);
		}
	}
	return 0;
}

struct dns_local *dns_local_build(const struct dns_conf *conf, char *err,
				  size_t errlen)
{
	struct build_ctx b = {
		.local = calloc(1, sizeof(struct dns_local)),
		.err = err,
		.errlen = errlen,
		.buf = ldns_buffer_new(DNS_MAX_MSG),
	};
	int ret = (b.local && b.buf) ? 0 : fail(&b, NULL, "out of memory");
	/* Zones first, built-in ones next, so that local-data joins the zone
	 * that holds it (DDR's _dns.resolver.arpa joins the static
	 * resolver.arpa, which is never forwarded). */
	if (ret == 0)
		ret = add_config_zones(&b, conf);
	if (ret == 0)
		ret = add_builtin_zones(&b);
	for (size_t i = 0; ret == 0 && i < conf->n_data; i++)
		ret = add_local_data(&b, conf->data[i].text,
				     &conf->data[i].origin);
	if (ret == 0)
		ret = add_empty_non_terminals(&b);
	if (ret == 0)
		ret = check_cname_exclusive(&b);
	if (ret == 0)
		ret = index_signed_zones(&b);
	if (b.buf)
		ldns_buffer_free(b.buf);
	if (ret != 0) {
		dns_local_free(b.local);
		return NULL;
	}
	return b.local;
}

/* ------------------------------------------------------------------ answering */

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put_set(struct dns_builder *b, unsigned section,
		    const uint8_t *owner, const struct local_set *s,
		    int64_t ttl_cap)
{
	const uint8_t *p = s->rrs, *end = s->rrs + s->len;
	while (p + 10 <= end) {
		uint16_t rdlen = rd16(p + 8);
		uint32_t ttl = rd32(p + 4);
		if (ttl_cap >= 0 && ttl > (uint32_t)ttl_cap)
			ttl = (uint32_t)ttl_cap;
		dns_builder_put_rr(b, section, owner, rd16(p), rd16(p + 2), ttl,
				   p + 10, rdlen);
		p += 10 + rdlen;
	}
}

static const struct local_set *set_find(const struct local_node *n,
					uint16_t type)
{
	for (unsigned i = 0; i < n->n_sets; i++)
		if (n->sets[i].type == type)
			return &n->sets[i];
	return NULL;
}

/* The RRSIGs at node n that cover type. */
static void put_sigs(struct dns_builder *b, unsigned section,
		     const uint8_t *owner, const struct local_node *n,
		     uint16_t covered, int64_t ttl_cap)
{
	const struct local_set *s = set_find(n, DNS_TYPE_RRSIG);
	const uint8_t *p = s ? s->rrs : NULL, *end = s ? s->rrs + s->len : NULL;
	while (p && p + 10 <= end) {
		uint16_t rdlen = rd16(p + 8);
		uint32_t ttl = rd32(p + 4);
		if (p + 10 + rdlen > end)
			break;
		if (ttl_cap >= 0 && ttl > (uint32_t)ttl_cap)
			ttl = (uint32_t)ttl_cap;
		if (rdlen >= 2 && rd16(p + 10) == covered)
			dns_builder_put_rr(b, section, owner, DNS_TYPE_RRSIG,
					   rd16(p + 2), ttl, p + 10, rdlen);
		p += 10 + rdlen;
	}
}

/* DNSSEC records go to clients that set DO, from signed zones; for ANY
 * every set, RRSIGs included, is in the answer already. */
static bool with_dnssec(const struct dns_query *q, const struct local_zone *z)
{
	return q->edns_do && z->is_signed && q->qtype != DNS_TYPE_ANY;
}

/* RFC 2308: the SOA of a negative answer, TTL = min(TTL, MINIMUM). */
static void put_soa(const struct dns_local *l, const struct local_zone *z,
		    const struct dns_query *q, struct dns_builder *b)
{
	const struct local_node *apex = node_find(l, z->head.name,
						  z->head.name_len);
	const struct local_set *soa = apex ? set_find(apex, DNS_TYPE_SOA) : NULL;
	if (!soa || soa->len < 10 + 22)
		return;
	uint32_t minimum = rd32(soa->rrs + soa->len - 4);
	put_set(b, 1, z->head.name, soa, minimum);
	if (with_dnssec(q, z))
		put_sigs(b, 1, z->head.name, apex, DNS_TYPE_SOA, minimum);
}

/* ------------------------------------------------------------------ answering: denial in signed zones */

/* The NSEC or NSEC3 records a negative answer needs, each once. */
struct proof {
	struct dns_builder *b;
	const struct local_zone *z;
	const struct local_node *done[4];
	unsigned n_done;
};

static void prove_with(struct proof *p, const struct local_node *n,
		       uint16_t type)
{
	if (!n || p->n_done == ARRAY_SIZE(p->done))
		return;
	for (unsigned i = 0; i < p->n_done; i++)
		if (p->done[i] == n)
			return;
	p->done[p->n_done++] = n;
	const struct local_set *s = set_find(n, type);
	if (!s)
		return;
	put_set(p->b, 1, n->head.name, s, -1);
	put_sigs(p->b, 1, n->head.name, n, type, -1);
}

/* The NSEC whose owner is at or before name in canonical order: it
 * matches or covers the name (the last one wraps round to the apex). */
static const struct local_node *nsec_for(const struct local_zone *z,
					 const uint8_t *name)
{
	size_t lo = 0, hi = z->n_nsec;
	if (!z->n_nsec)
		return NULL;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (canonical_cmp(z->nsec[mid]->head.name, name) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? z->nsec[lo - 1] : z->nsec[z->n_nsec - 1];
}

/* The hash of name as the first label of an NSEC3 owner would spell it
 * (length byte, lower-case base32hex). */
static bool nsec3_label(const struct local_zone *z, const uint8_t *name,
			uint8_t label[64])
{
	ldns_rdf *d = ldns_dname_new_frm_data((uint16_t)wire_name_len(name),
					      name);
	const struct local_nsec3 *np = &z->nsec3_params;
	ldns_rdf *h = d ? ldns_nsec3_hash_name(d, 1, np->iterations,
					       np->salt_len,
					       (uint8_t *)np->salt) : NULL;
	bool ok = false;
	if (h && ldns_rdf_size(h) > 1) {
		const uint8_t *p = ldns_rdf_data(h);
		if (p[0] > 0 && p[0] < 64 && p[0] + 1u < ldns_rdf_size(h)) {
			label[0] = p[0];
			for (unsigned i = 1; i <= p[0]; i++)
				label[i] = (uint8_t)tolower(p[i]);
			ok = true;
		}
	}
	ldns_rdf_deep_free(d);
	ldns_rdf_deep_free(h);
	return ok;
}

/* The NSEC3 that matches (match true) or covers the hash of name. */
static const struct local_node *nsec3_for(const struct local_zone *z,
					  const uint8_t *name, bool match)
{
	uint8_t h[64];
	if (!z->n_nsec3 || !nsec3_label(z, name, h))
		return NULL;
	size_t lo = 0, hi = z->n_nsec3;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (hash_cmp(z->nsec3[mid]->head.name, h) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct local_node *n = lo ? z->nsec3[lo - 1]
					: z->nsec3[z->n_nsec3 - 1];
	bool equal = hash_cmp(n->head.name, h) == 0;
	if (match)
		return equal ? n : NULL;
	if (!equal)
		return n;
	return NULL;	/* the name exists: nothing covers it */
}

/* The deepest existing ancestor of name in zone z. */
static const uint8_t *closest_encloser(const struct dns_local *l,
				       const struct local_zone *z,
				       const uint8_t *name)
{
	for (const uint8_t *p = parent_of(name); p; p = parent_of(p)) {
		size_t len = wire_name_len(p);
		if (len <= z->head.name_len)
			break;
		const struct local_node *n = node_find(l, p, len);
		if (n && !n->hashed)
			return p;
	}
	return z->head.name;
}

/* The ancestor of name one label below ce (the next closer name). */
static const uint8_t *next_closer(const uint8_t *name, const uint8_t *ce)
{
	unsigned drop = dns_name_labels(name) - dns_name_labels(ce) - 1;
	while (drop--)
		name = parent_of(name);
	return name;
}

static size_t wildcard_at(const uint8_t *ce, uint8_t *out)
{
	size_t len = wire_name_len(ce);
	if (len + 2 > DNS_MAX_NAME)
		return 0;
	out[0] = 1;
	out[1] = '*';
	memcpy(out + 2, ce, len);
	return len + 2;
}

enum denial_case {
	DENY_NAME,		/* NXDOMAIN */
	DENY_TYPE,		/* NODATA at an existing name */
	DENY_WILDCARD_TYPE,	/* NODATA at the wildcard that matched */
	DENY_CLOSER,		/* a wildcard answered: no closer match */
};

/* RFC 4035 3.1.3 and RFC 5155 7.2: the records of each case. */
static void put_denial(const struct dns_local *l, const struct local_zone *z,
		       const struct dns_query *q, struct dns_builder *b,
		       enum denial_case c, const struct local_node *exact)
{
	struct proof p = { .b = b, .z = z };
	const uint8_t *qname = q->qname;
	const uint8_t *ce = closest_encloser(l, z, qname);
	uint8_t wild[DNS_MAX_NAME];
	bool have_wild = wildcard_at(ce, wild) > 0;
	if (z->n_nsec) {
		if (c == DENY_TYPE && exact && set_find(exact, DNS_TYPE_NSEC))
			prove_with(&p, exact, DNS_TYPE_NSEC);
		else
			prove_with(&p, nsec_for(z, qname), DNS_TYPE_NSEC);
		if ((c == DENY_NAME || c == DENY_WILDCARD_TYPE) && have_wild)
			prove_with(&p, nsec_for(z, wild), DNS_TYPE_NSEC);
		return;
	}
	if (!z->n_nsec3)
		return;
	if (c == DENY_TYPE) {
		prove_with(&p, nsec3_for(z, qname, true), DNS_TYPE_NSEC3);
		return;
	}
	const uint8_t *nc = next_closer(qname, ce);
	if (c != DENY_CLOSER)
		prove_with(&p, nsec3_for(z, ce, true), DNS_TYPE_NSEC3);
	prove_with(&p, nsec3_for(z, nc, false), DNS_TYPE_NSEC3);
	if (have_wild && c != DENY_CLOSER)
		prove_with(&p, nsec3_for(z, wild, c == DENY_WILDCARD_TYPE),
			   DNS_TYPE_NSEC3);
}

/* ------------------------------------------------------------------ answering */

static const struct local_node *wildcard_for(const struct dns_local *l,
					     const struct local_zone *z,
					     const uint8_t *qname)
{
	const uint8_t *p = parent_of(qname);
	for (; p && wire_name_len(p) >= z->head.name_len; p = parent_of(p)) {
		size_t plen = wire_name_len(p);
		uint8_t wild[DNS_MAX_NAME];
		if (plen + 2 > DNS_MAX_NAME)
			continue;
		wild[0] = 1;
		wild[1] = '*';
		memcpy(wild + 2, p, plen);
		const struct local_node *w = node_find(l, wild, plen + 2);
		if (w)
			return w;
		if (node_find(l, p, plen))
			return NULL;	/* closest encloser has no wildcard */
	}
	return NULL;
}

/* Answer records of qtype at node n, following local CNAMEs. Returns false
 * when the node has nothing for qtype (NODATA). */
static bool put_answer(const struct dns_local *l, const struct local_node *n,
		       const struct dns_query *q, struct dns_builder *b)
{
	const uint8_t *owner = NULL;	/* the question name */
	for (int hop = 0; n && hop < CNAME_CHAIN_MAX; hop++) {
		bool any = false;
		for (unsigned i = 0; i < n->n_sets; i++) {
			const struct local_set *s = &n->sets[i];
			if (s->type == q->qtype || q->qtype == DNS_TYPE_ANY) {
				put_set(b, 0, owner, s, -1);
				if (with_dnssec(q, n->zone))
					put_sigs(b, 0, owner, n, s->type, -1);
				any = true;
			}
		}
		if (any || q->qtype == DNS_TYPE_CNAME)
			return any || hop > 0;
		const struct local_set *cname = set_find(n, DNS_TYPE_CNAME);
		if (!cname)
			return hop > 0;
		put_set(b, 0, owner, cname, -1);
		if (with_dnssec(q, n->zone))
			put_sigs(b, 0, owner, n, DNS_TYPE_CNAME, -1);
		owner = cname->rrs + 10;	/* the target, uncompressed */
		uint8_t target[DNS_MAX_NAME];
		int tlen = dns_name_lower(owner, cname->len - 10, target);
		n = tlen > 0 ? node_find(l, target, (size_t)tlen) : NULL;
		if (n && n->zone->type != DNS_ZONE_STATIC &&
		    n->zone->type != DNS_ZONE_TRANSPARENT)
			return true;
	}
	return true;
}

static enum dns_local_result answer_in_zone(const struct dns_local *l,
					    const struct local_zone *z,
					    const struct dns_query *q,
					    struct dns_builder *b)
{
	const struct local_node *exact = node_find(l, q->qname, q->qname_len);
	if (exact && exact->hashed)
		exact = NULL;	/* NSEC3 owners are not names of the zone */
	if (!exact && z->type == DNS_ZONE_TRANSPARENT)
		return DNS_LOCAL_NONE;
	const struct local_node *n = exact;
	if (!n && z->has_wildcards)
		n = wildcard_for(l, z, q->qname);
	dns_builder_set_flags(b, DNS_FLAG1_AA, 0);
	bool proofs = with_dnssec(q, z);
	if (!n) {
		dns_builder_set_rcode(b, DNS_RCODE_NXDOMAIN);
		put_soa(l, z, q, b);
		if (proofs)
			put_denial(l, z, q, b, DENY_NAME, NULL);
	} else if (!put_answer(l, n, q, b)) {
		put_soa(l, z, q, b);	/* NODATA */
		if (proofs)
			put_denial(l, z, q, b, exact ? DENY_TYPE
						     : DENY_WILDCARD_TYPE, exact);
	} else if (proofs && !exact) {
		put_denial(l, z, q, b, DENY_CLOSER, NULL);
	}
	return DNS_LOCAL_ANSWERED;
}

enum dns_local_result dns_local_answer(const struct dns_local *l,
				       const struct dns_query *q,
				       struct dns_builder *b, int *ede)
{
	const struct local_zone *z = zone_for(l, q->qname);
	if (!z)
		return DNS_LOCAL_NONE;
	switch (z->type) {
	case DNS_ZONE_REFUSE:
		dns_builder_set_rcode(b, DNS_RCODE_REFUSED);
		*ede = DNS_EDE_BLOCKED;
		return DNS_LOCAL_ANSWERED;
	case DNS_ZONE_NXDOMAIN:
		dns_builder_set_flags(b, DNS_FLAG1_AA, 0);
		dns_builder_set_rcode(b, DNS_RCODE_NXDOMAIN);
		put_soa(l, z, q, b);
		return DNS_LOCAL_ANSWERED;
	default:
		return answer_in_zone(l, z, q, b);
	}
}
