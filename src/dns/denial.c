/*  anchord - dns/denial.c: authenticated denial of existence.
 *
 *  Given the NSEC or NSEC3 records of one zone that an answer carried and
 *  that the validator has already verified, decide whether they prove that
 *  a name does not exist (RFC 4035 section 5.4, RFC 5155 section 8.4), that
 *  it has no records of a type (RFC 4035 5.4, RFC 5155 8.5 to 8.7), or that
 *  a wildcard answer was the closest match (RFC 4035 5.3.4, RFC 5155 8.8).
 *
 *  Two rules keep proofs honest. An NSEC or NSEC3 at a delegation point
 *  (NS without SOA) or at a DNAME comes from the parent side and says
 *  nothing about names below it (RFC 6840 section 4.1). An NSEC3 opt-out
 *  span may hide unsigned delegations, so what it covers is insecure, not
 *  bogus (RFC 5155 section 9.2). NSEC3 hashing is ldns's; records with an
 *  unknown hash algorithm are ignored (RFC 5155 8.1), and more iterations
 *  than VAL_MAX_NSEC3_ITERATIONS make the answer insecure (RFC 9276 3.2).
 */
#include "dns/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define NSEC3_SHA1 1
#define NSEC3_OPTOUT 0x01
#define HASH_TEXT_MAX 64		/* base32hex of a SHA-1 is 32 */

/* ------------------------------------------------------------------ names */

static bool at_or_below(const ldns_rdf *name, const ldns_rdf *apex)
{
	return ldns_dname_compare(name, apex) == 0 ||
	       ldns_dname_is_subdomain(name, apex);
}

static bool name_equal(const ldns_rdf *a, const ldns_rdf *b)
{
	return ldns_dname_compare(a, b) == 0;
}

/* The rightmost labels of name, as a new name. */
static ldns_rdf *suffix(const ldns_rdf *name, unsigned labels)
{
	unsigned have = ldns_dname_label_count(name);
	if (labels > have)
		return NULL;
	return ldns_dname_clone_from(name, (uint16_t)(have - labels));
}

/* Labels the two names share from the right. */
static unsigned common_labels(const ldns_rdf *a, const ldns_rdf *b)
{
	unsigned la = ldns_dname_label_count(a), lb = ldns_dname_label_count(b);
	unsigned n = MIN(la, lb);
	while (n > 0) {
		ldns_rdf *x = suffix(a, n), *y = suffix(b, n);
		bool same = x && y && name_equal(x, y);
		ldns_rdf_deep_free(x);
		ldns_rdf_deep_free(y);
		if (same)
			break;
		n--;
	}
	return n;
}

static ldns_rdf *wildcard_of(const ldns_rdf *ce)
{
	ldns_rdf *w = ldns_dname_new_frm_str("*");
	if (w && ldns_dname_cat(w, ce) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(w);
		w = NULL;
	}
	return w;
}

static bool has_type(const ldns_rdf *bitmap, ldns_rr_type type)
{
	return bitmap && ldns_nsec_bitmap_covers_type(bitmap, type);
}

/* ------------------------------------------------------------------ NSEC */

static const ldns_rdf *nsec_next(const ldns_rr *nsec)
{
	const ldns_rdf *next = ldns_rr_rdf(nsec, 0);
	return next && ldns_rdf_get_type(next) == LDNS_RDF_TYPE_DNAME ? next
								      : NULL;
}

/* owner < name < next in canonical order, the last NSEC wrapping round. */
static bool nsec_covers(const ldns_rr *nsec, const ldns_rdf *name)
{
	const ldns_rdf *owner = ldns_rr_owner(nsec), *next = nsec_next(nsec);
	if (!next || ldns_dname_compare(owner, name) >= 0)
		return false;
	if (ldns_dname_compare(owner, next) >= 0)
		return true;		/* the last one: everything after owner */
	return ldns_dname_compare(name, next) < 0;
}

/* An NSEC from a delegation point or a DNAME proves nothing below it. */
static bool nsec_usable_for(const ldns_rr *nsec, const ldns_rdf *name)
{
	const ldns_rdf *owner = ldns_rr_owner(nsec);
	const ldns_rdf *bitmap = ldns_rr_rdf(nsec, 1);
	if (!ldns_dname_is_subdomain(name, owner))
		return true;
	if (has_type(bitmap, LDNS_RR_TYPE_DNAME))
		return false;
	return !(has_type(bitmap, LDNS_RR_TYPE_NS) &&
		 !has_type(bitmap, LDNS_RR_TYPE_SOA));
}

static const ldns_rr *nsec_covering(const struct val_denial *d,
				    const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(d->nsec); i++) {
		const ldns_rr *r = ldns_rr_list_rr(d->nsec, i);
		if (nsec_covers(r, name) && nsec_usable_for(r, name))
			return r;
	}
	return NULL;
}

static const ldns_rr *nsec_matching(const struct val_denial *d,
				    const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(d->nsec); i++) {
		const ldns_rr *r = ldns_rr_list_rr(d->nsec, i);
		if (name_equal(ldns_rr_owner(r), name) && nsec_next(r))
			return r;
	}
	return NULL;
}

/* The closest encloser a covering NSEC implies: the longest ancestor the
 * name shares with either end of the span. */
static ldns_rdf *nsec_closest_encloser(const ldns_rr *nsec,
				       const ldns_rdf *name)
{
	unsigned a = common_labels(name, ldns_rr_owner(nsec));
	unsigned b = common_labels(name, nsec_next(nsec));
	return suffix(name, MAX(a, b));
}

/* A type absent from a matching NSEC: for other types than DS the NSEC
 * must not be the parent's at a delegation, for DS not the child's apex. */
static bool bitmap_denies(const ldns_rdf *bitmap, ldns_rr_type type,
			  struct val_nodata_info *info)
{
	bool ns = has_type(bitmap, LDNS_RR_TYPE_NS);
	bool soa = has_type(bitmap, LDNS_RR_TYPE_SOA);
	if (has_type(bitmap, type) || has_type(bitmap, LDNS_RR_TYPE_CNAME))
		return false;
	if (type == LDNS_RR_TYPE_DS ? soa : (ns && !soa))
		return false;
	if (info) {
		info->exists = true;
		info->delegation = ns && !soa;
	}
	return true;
}

static enum val_proof nsec_deny_name(const struct val_denial *d,
				     const ldns_rdf *name)
{
	const ldns_rr *cover = nsec_covering(d, name);
	if (!cover)
		return VAL_PROOF_NONE;
	ldns_rdf *ce = nsec_closest_encloser(cover, name);
	ldns_rdf *wild = ce && at_or_below(ce, d->zone) ? wildcard_of(ce) : NULL;
	bool ok = wild && nsec_covering(d, wild);
	ldns_rdf_deep_free(ce);
	ldns_rdf_deep_free(wild);
	return ok ? VAL_PROOF_OK : VAL_PROOF_NONE;
}

static enum val_proof nsec_deny_type(const struct val_denial *d,
				     const ldns_rdf *name, ldns_rr_type type,
				     struct val_nodata_info *info)
{
	const ldns_rr *match = nsec_matching(d, name);
	if (match)
		return bitmap_denies(ldns_rr_rdf(match, 1), type, info)
			       ? VAL_PROOF_OK : VAL_PROOF_NONE;
	const ldns_rr *cover = nsec_covering(d, name);
	if (!cover)
		return VAL_PROOF_NONE;
	/* An empty non-terminal: the next name is below it. */
	if (ldns_dname_is_subdomain(nsec_next(cover), name)) {
		if (info)
			info->exists = true;
		return VAL_PROOF_OK;
	}
	/* Otherwise a wildcard that lacks the type (RFC 4035 3.1.3.4). */
	ldns_rdf *ce = nsec_closest_encloser(cover, name);
	ldns_rdf *wild = ce && at_or_below(ce, d->zone) ? wildcard_of(ce) : NULL;
	const ldns_rr *wmatch = wild ? nsec_matching(d, wild) : NULL;
	bool ok = wmatch && bitmap_denies(ldns_rr_rdf(wmatch, 1), type, NULL);
	ldns_rdf_deep_free(ce);
	ldns_rdf_deep_free(wild);
	return ok ? VAL_PROOF_OK : VAL_PROOF_NONE;
}

static enum val_proof nsec_deny_wildcard(const struct val_denial *d,
					 const ldns_rdf *owner, unsigned labels)
{
	const ldns_rr *cover = nsec_covering(d, owner);
	if (!cover)
		return VAL_PROOF_NONE;
	ldns_rdf *ce = nsec_closest_encloser(cover, owner);
	bool ok = ce && ldns_dname_label_count(ce) == labels;
	ldns_rdf_deep_free(ce);
	return ok ? VAL_PROOF_OK : VAL_PROOF_NONE;
}

/* ------------------------------------------------------------------ NSEC3 */

struct nsec3 {
	const ldns_rr *rr;
	char hash[HASH_TEXT_MAX], next[HASH_TEXT_MAX];
	size_t hash_len, next_len;
	bool optout;
};

/* The NSEC3 records of a zone with one set of parameters: those of the
 * first usable record (a zone has one NSEC3 chain, RFC 5155 7.1). */
struct nsec3_set {
	struct nsec3 *v;
	size_t n;
	uint16_t iterations;
	uint8_t salt_len;
	uint8_t *salt;
	bool too_many_iterations;
};

static void lower_text(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
}

/* Owner hash (the first label) and next hash, both as base32hex text:
 * that encoding sorts like the hashes themselves. */
static bool nsec3_extract(const ldns_rr *rr, struct nsec3 *out)
{
	const ldns_rdf *owner = ldns_rr_owner(rr);
	const ldns_rdf *next = ldns_rr_rdf(rr, 4);
	if (!next || ldns_rdf_size(owner) < 2 || ldns_rdf_size(next) < 2)
		return false;
	const uint8_t *o = ldns_rdf_data(owner), *n = ldns_rdf_data(next);
	size_t olen = o[0], nlen = n[0];
	if (olen == 0 || olen >= HASH_TEXT_MAX || olen + 1 > ldns_rdf_size(owner) ||
	    nlen == 0 || nlen + 1 != ldns_rdf_size(next) || nlen > 40)
		return false;
	memcpy(out->hash, o + 1, olen);
	out->hash_len = olen;
	int w = ldns_b32_ntop_extended_hex(n + 1, nlen, out->next,
					   sizeof(out->next));
	if (w <= 0)
		return false;
	out->next_len = (size_t)w;
	lower_text(out->hash, out->hash_len);
	lower_text(out->next, out->next_len);
	out->rr = rr;
	out->optout = ldns_nsec3_flags(rr) & NSEC3_OPTOUT;
	return true;
}

static bool same_params(const ldns_rr *rr, const struct nsec3_set *s)
{
	if (ldns_nsec3_iterations(rr) != s->iterations ||
	    ldns_nsec3_salt_length(rr) != s->salt_len)
		return false;
	uint8_t *salt = ldns_nsec3_salt_data(rr);
	bool same = s->salt_len == 0 ||
		    (salt && memcmp(salt, s->salt, s->salt_len) == 0);
	LDNS_FREE(salt);
	return same;
}

static bool nsec3_set_build(const struct val_denial *d, struct nsec3_set *s)
{
	memset(s, 0, sizeof(*s));
	size_t count = ldns_rr_list_rr_count(d->nsec3);
	if (count == 0 || !(s->v = calloc(count, sizeof(*s->v))))
		return false;
	for (size_t i = 0; i < count; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(d->nsec3, i);
		if (ldns_rr_rd_count(rr) < 5 ||
		    ldns_nsec3_algorithm(rr) != NSEC3_SHA1)
			continue;	/* unknown hash: ignored (RFC 5155 8.1) */
		if (s->n == 0) {
			s->iterations = ldns_nsec3_iterations(rr);
			s->salt_len = ldns_nsec3_salt_length(rr);
			s->salt = s->salt_len ? ldns_nsec3_salt_data(rr) : NULL;
			if (s->salt_len && !s->salt)
				return false;
		} else if (!same_params(rr, s)) {
			continue;
		}
		if (nsec3_extract(rr, &s->v[s->n]))
			s->n++;
	}
	s->too_many_iterations = s->iterations > VAL_MAX_NSEC3_ITERATIONS;
	return s->n > 0;
}

static void nsec3_set_free(struct nsec3_set *s)
{
	free(s->v);
	LDNS_FREE(s->salt);
}

/* The hash of a name as lower-case base32hex text. */
static bool nsec3_hash(const struct nsec3_set *s, const ldns_rdf *name,
		       char *out, size_t *len)
{
	ldns_rdf *canon = ldns_rdf_clone(name);
	if (!canon)
		return false;
	ldns_dname2canonical(canon);
	ldns_rdf *h = ldns_nsec3_hash_name(canon, NSEC3_SHA1, s->iterations,
					   s->salt_len, s->salt);
	ldns_rdf_deep_free(canon);
	bool ok = false;
	if (h && ldns_rdf_size(h) >= 2) {
		const uint8_t *p = ldns_rdf_data(h);
		if (p[0] > 0 && p[0] < HASH_TEXT_MAX &&
		    (size_t)p[0] + 1 < ldns_rdf_size(h)) {
			memcpy(out, p + 1, p[0]);
			*len = p[0];
			lower_text(out, *len);
			ok = true;
		}
	}
	ldns_rdf_deep_free(h);
	return ok;
}

static int hash_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, MIN(alen, blen));
	return c ? c : (alen > blen) - (alen < blen);
}

static const struct nsec3 *nsec3_match(const struct nsec3_set *s,
				       const char *h, size_t hlen)
{
	for (size_t i = 0; i < s->n; i++)
		if (hash_cmp(s->v[i].hash, s->v[i].hash_len, h, hlen) == 0)
			return &s->v[i];
	return NULL;
}

static const struct nsec3 *nsec3_cover(const struct nsec3_set *s,
				       const char *h, size_t hlen)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct nsec3 *r = &s->v[i];
		int owner_h = hash_cmp(r->hash, r->hash_len, h, hlen);
		int owner_next = hash_cmp(r->hash, r->hash_len, r->next,
					  r->next_len);
		int h_next = hash_cmp(h, hlen, r->next, r->next_len);
		if (owner_h >= 0 && owner_next < 0)
			continue;
		if (owner_next < 0 ? h_next < 0 : (owner_h < 0 || h_next < 0))
			return r;
	}
	return NULL;
}

static const struct nsec3 *match_name(const struct nsec3_set *s,
				      const ldns_rdf *name)
{
	char h[HASH_TEXT_MAX];
	size_t hlen;
	return nsec3_hash(s, name, h, &hlen) ? nsec3_match(s, h, hlen) : NULL;
}

static const struct nsec3 *cover_name(const struct nsec3_set *s,
				      const ldns_rdf *name)
{
	char h[HASH_TEXT_MAX];
	size_t hlen;
	return nsec3_hash(s, name, h, &hlen) ? nsec3_cover(s, h, hlen) : NULL;
}

static const ldns_rdf *nsec3_bitmap(const struct nsec3 *r)
{
	return ldns_rr_rd_count(r->rr) > 5 ? ldns_rr_rdf(r->rr, 5) : NULL;
}

/* The closest provable encloser of name (RFC 5155 8.3): the deepest
 * ancestor with a matching NSEC3 whose child towards name is covered.
 * *ce receives the encloser, *nc_cover the NSEC3 covering the next closer
 * name. With include_self, name itself may be the encloser. */
static bool closest_encloser(const struct val_denial *d,
			     const struct nsec3_set *s, const ldns_rdf *name,
			     ldns_rdf **ce, const struct nsec3 **nc_cover)
{
	unsigned labels = ldns_dname_label_count(name);
	unsigned apex = ldns_dname_label_count(d->zone);
	for (unsigned n = labels; n-- > apex;) {
		ldns_rdf *cand = suffix(name, n);
		const struct nsec3 *m = cand ? match_name(s, cand) : NULL;
		if (!m) {
			ldns_rdf_deep_free(cand);
			continue;
		}
		const ldns_rdf *bitmap = nsec3_bitmap(m);
		bool parent_side = has_type(bitmap, LDNS_RR_TYPE_DNAME) ||
				   (has_type(bitmap, LDNS_RR_TYPE_NS) &&
				    !has_type(bitmap, LDNS_RR_TYPE_SOA));
		ldns_rdf *next_closer = suffix(name, n + 1);
		const struct nsec3 *c = next_closer && !parent_side
						? cover_name(s, next_closer)
						: NULL;
		ldns_rdf_deep_free(next_closer);
		if (!c) {
			ldns_rdf_deep_free(cand);
			return false;
		}
		*ce = cand;
		*nc_cover = c;
		return true;
	}
	return false;
}

static enum val_proof nsec3_deny_name(const struct val_denial *d,
				      const struct nsec3_set *s,
				      const ldns_rdf *name)
{
	ldns_rdf *ce = NULL;
	const struct nsec3 *nc = NULL;
	if (match_name(s, name) || !closest_encloser(d, s, name, &ce, &nc))
		return VAL_PROOF_NONE;
	ldns_rdf *wild = wildcard_of(ce);
	bool no_wildcard = wild && cover_name(s, wild);
	ldns_rdf_deep_free(wild);
	ldns_rdf_deep_free(ce);
	if (!no_wildcard)
		return VAL_PROOF_NONE;
	return nc->optout ? VAL_PROOF_OPTOUT : VAL_PROOF_OK;
}

static enum val_proof nsec3_deny_type(const struct val_denial *d,
				      const struct nsec3_set *s,
				      const ldns_rdf *name, ldns_rr_type type,
				      struct val_nodata_info *info)
{
	const struct nsec3 *m = match_name(s, name);
	if (m)
		return bitmap_denies(nsec3_bitmap(m), type, info)
			       ? VAL_PROOF_OK : VAL_PROOF_NONE;
	ldns_rdf *ce = NULL;
	const struct nsec3 *nc = NULL;
	if (!closest_encloser(d, s, name, &ce, &nc))
		return VAL_PROOF_NONE;
	enum val_proof r = VAL_PROOF_NONE;
	if (type == LDNS_RR_TYPE_DS) {
		/* No NSEC3 for the name: only an opt-out span may hide an
		 * unsigned delegation (RFC 5155 8.6). */
		if (nc->optout)
			r = VAL_PROOF_OPTOUT;
	} else {
		ldns_rdf *wild = wildcard_of(ce);
		const struct nsec3 *wm = wild ? match_name(s, wild) : NULL;
		if (wm && bitmap_denies(nsec3_bitmap(wm), type, NULL))
			r = VAL_PROOF_OK;
		ldns_rdf_deep_free(wild);
	}
	ldns_rdf_deep_free(ce);
	return r;
}

static enum val_proof nsec3_deny_wildcard(const struct nsec3_set *s,
					  const ldns_rdf *owner,
					  unsigned labels)
{
	ldns_rdf *next_closer = suffix(owner, labels + 1);
	bool ok = next_closer && cover_name(s, next_closer);
	ldns_rdf_deep_free(next_closer);
	return ok ? VAL_PROOF_OK : VAL_PROOF_NONE;
}

/* ------------------------------------------------------------------ API */

/* Which proof to run: NSEC when the answer has NSEC records, else NSEC3. */
enum which {
	WHICH_NAME,
	WHICH_TYPE,
	WHICH_WILDCARD,
};

static enum val_proof run_nsec3(const struct val_denial *d, enum which w,
				const ldns_rdf *name, ldns_rr_type type,
				unsigned labels, struct val_nodata_info *info)
{
	struct nsec3_set s;
	enum val_proof r = VAL_PROOF_NONE;
	if (!nsec3_set_build(d, &s)) {
		nsec3_set_free(&s);
		return r;
	}
	if (s.too_many_iterations) {
		nsec3_set_free(&s);
		return VAL_PROOF_ITERATIONS;
	}
	switch (w) {
	case WHICH_NAME:
		r = nsec3_deny_name(d, &s, name);
		break;
	case WHICH_TYPE:
		r = nsec3_deny_type(d, &s, name, type, info);
		break;
	case WHICH_WILDCARD:
		r = nsec3_deny_wildcard(&s, name, labels);
		break;
	}
	nsec3_set_free(&s);
	return r;
}

static bool usable(const struct val_denial *d, const ldns_rdf *name)
{
	return d && d->zone && name && at_or_below(name, d->zone);
}

enum val_proof val_deny_name(const struct val_denial *d, const ldns_rdf *name)
{
	if (!usable(d, name))
		return VAL_PROOF_NONE;
	if (d->nsec && ldns_rr_list_rr_count(d->nsec))
		return nsec_deny_name(d, name);
	return d->nsec3 ? run_nsec3(d, WHICH_NAME, name, 0, 0, NULL)
			: VAL_PROOF_NONE;
}

enum val_proof val_deny_type(const struct val_denial *d, const ldns_rdf *name,
			     ldns_rr_type type, struct val_nodata_info *info)
{
	if (info)
		*info = (struct val_nodata_info){ 0 };
	if (!usable(d, name))
		return VAL_PROOF_NONE;
	if (d->nsec && ldns_rr_list_rr_count(d->nsec))
		return nsec_deny_type(d, name, type, info);
	return d->nsec3 ? run_nsec3(d, WHICH_TYPE, name, type, 0, info)
			: VAL_PROOF_NONE;
}

enum val_proof val_deny_wildcard(const struct val_denial *d,
				 const ldns_rdf *owner, unsigned labels)
{
	if (!usable(d, owner) || labels >= ldns_dname_label_count(owner))
		return VAL_PROOF_NONE;
	if (d->nsec && ldns_rr_list_rr_count(d->nsec))
		return nsec_deny_wildcard(d, owner, labels);
	return d->nsec3 ? run_nsec3(d, WHICH_WILDCARD, owner, 0, labels, NULL)
			: VAL_PROOF_NONE;
}
