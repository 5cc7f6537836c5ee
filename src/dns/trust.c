/*  anchord - dns/trust.c: trust anchors and negative trust anchors.
 *
 *  A trust anchor (RFC 4033 section 2) is a DS or DNSKEY RRset configured
 *  for a name, read from files in zone-file format (the root's ships as
 *  etc/root.key). Every name with an anchor is a validation root: below it,
 *  answers are secure, insecure or bogus. A negative trust anchor (RFC 7646)
 *  switches validation off at and below its name. The closest of the two
 *  above a name decides, so an anchor configured below a negative anchor
 *  still validates its own island. Names under neither are outside every
 *  island of security: RFC 4033 section 5 calls them indeterminate, and
 *  they are answered as insecure (data, no AD), which is what every
 *  resolver without a covering anchor does.
 *
 *  Built once per configuration generation and read-only afterwards.
 */
#include "dns/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dns_trust {
	struct val_anchor *points;
	size_t n;
};

static int fail(char *err, size_t errlen, const char *file, int line,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t errlen, const char *file, int line,
		const char *fmt, ...)
{
	int n = line > 0 ? snprintf(err, errlen, "%s:%d: ", file, line)
			 : snprintf(err, errlen, "%s: ", file);
	if (n < 0 || (size_t)n >= errlen)
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

void dns_trust_free(struct dns_trust *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		ldns_rdf_deep_free(t->points[i].name);
		ldns_rr_list_deep_free(t->points[i].ds);
		ldns_rr_list_deep_free(t->points[i].dnskey);
	}
	free(t->points);
	free(t);
}

/* The point for a name, created on first use. */
static struct val_anchor *point_get(struct dns_trust *t, const ldns_rdf *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (ldns_dname_compare(t->points[i].name, name) == 0)
			return &t->points[i];
	struct val_anchor *p = realloc(t->points, (t->n + 1) * sizeof(*p));
	if (!p)
		return NULL;
	t->points = p;
	p = &t->points[t->n];
	*p = (struct val_anchor){
		.name = ldns_rdf_clone(name),
		.ds = ldns_rr_list_new(),
		.dnskey = ldns_rr_list_new(),
	};
	if (!p->name || !p->ds || !p->dnskey) {
		ldns_rdf_deep_free(p->name);
		ldns_rr_list_free(p->ds);
		ldns_rr_list_free(p->dnskey);
		return NULL;
	}
	ldns_dname2canonical(p->name);
	t->n++;
	return p;
}

/* One DS or DNSKEY record of an anchor file; others are refused, since a
 * file of another kind given by mistake would otherwise trust nothing. */
static int add_anchor_rr(struct dns_trust *t, ldns_rr *rr, const char *file,
			 int line, char *err, size_t errlen)
{
	ldns_rr_type type = ldns_rr_get_type(rr);
	if (type != LDNS_RR_TYPE_DS && type != LDNS_RR_TYPE_DNSKEY)
		return fail(err, errlen, file, line, "a trust anchor file holds "
			    "DS and DNSKEY records only");
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
		return fail(err, errlen, file, line, "only class IN");
	if (type == LDNS_RR_TYPE_DNSKEY &&
	    !(ldns_rdf2native_int16(ldns_rr_rdf(rr, 0)) & LDNS_KEY_ZONE_KEY))
		return fail(err, errlen, file, line, "DNSKEY without the zone "
			    "key flag");
	struct val_anchor *p = point_get(t, ldns_rr_owner(rr));
	if (!p || p->negative)
		return fail(err, errlen, file, line, p ? "name is also a "
			    "negative trust anchor" : "out of memory");
	ldns_rr_list *list = type == LDNS_RR_TYPE_DS ? p->ds : p->dnskey;
	ldns_rr *copy = ldns_rr_clone(rr);
	if (!copy || !ldns_rr_list_push_rr(list, copy)) {
		ldns_rr_free(copy);
		return fail(err, errlen, file, line, "out of memory");
	}
	return 0;
}

static int load_file(struct dns_trust *t, const char *file, char *err,
		     size_t errlen)
{
	FILE *fp = fopen(file, "r");
	if (!fp)
		return fail(err, errlen, file, 0, "%s", strerror(errno));
	uint32_t ttl = 3600;
	ldns_rdf *origin = NULL, *prev = NULL;
	int line = 1, ret = 0, records = 0;
	while (ret == 0 && !feof(fp)) {
		ldns_rr *rr = NULL;
		int at = line;
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin,
						      &prev, &line);
		if (st == LDNS_STATUS_OK) {
			ret = add_anchor_rr(t, rr, file, at, err, errlen);
			records++;
		} else if (st != LDNS_STATUS_SYNTAX_EMPTY &&
			   st != LDNS_STATUS_SYNTAX_TTL &&
			   st != LDNS_STATUS_SYNTAX_ORIGIN) {
			/* ldns has counted the line that failed by now,
			 * and skipped blank ones before it. */
			ret = fail(err, errlen, file, MAX(at, line - 1), "%s",
				   ldns_get_errorstr_by_id(st));
		}
		ldns_rr_free(rr);
	}
	fclose(fp);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (ret == 0 && records == 0)
		ret = fail(err, errlen, file, 0, "no DS or DNSKEY records");
	return ret;
}

static int add_negative(struct dns_trust *t, const char *name, char *err,
			size_t errlen)
{
	ldns_rdf *d = ldns_dname_new_frm_str(name);
	if (!d)
		return fail(err, errlen, "dnssec.negative-trust-anchors", 0,
			    "\"%s\" is not a domain name", name);
	struct val_anchor *p = point_get(t, d);
	ldns_rdf_deep_free(d);
	if (!p)
		return fail(err, errlen, "dnssec", 0, "out of memory");
	if (ldns_rr_list_rr_count(p->ds) || ldns_rr_list_rr_count(p->dnskey))
		return fail(err, errlen, "dnssec.negative-trust-anchors", 0,
			    "%s is also a trust anchor", name);
	p->negative = true;
	return 0;
}

struct dns_trust *dns_trust_build(const struct dns_dnssec_conf *c, char *err,
				  size_t errlen)
{
	struct dns_trust *t = calloc(1, sizeof(*t));
	int ret = t ? 0 : fail(err, errlen, "dnssec", 0, "out of memory");
	for (size_t i = 0; ret == 0 && i < c->n_trust_anchors; i++)
		ret = load_file(t, c->trust_anchors[i], err, errlen);
	for (size_t i = 0; ret == 0 && i < c->n_negative; i++)
		ret = add_negative(t, c->negative[i], err, errlen);
	if (ret != 0) {
		dns_trust_free(t);
		return NULL;
	}
	return t;
}

const struct val_anchor *dns_trust_find(const struct dns_trust *t,
					const ldns_rdf *name)
{
	const struct val_anchor *best = NULL;
	for (size_t i = 0; t && i < t->n; i++) {
		const struct val_anchor *p = &t->points[i];
		if (ldns_dname_compare(p->name, name) != 0 &&
		    !ldns_dname_is_subdomain(name, p->name))
			continue;
		if (!best || ldns_dname_label_count(p->name) >
			     ldns_dname_label_count(best->name))
			best = p;
	}
	return best;
}
