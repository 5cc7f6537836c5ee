/*  anchord - dns/validate.c: judging one upstream answer (RFC 4035 5).
 *
 *  An answer is parsed with ldns once, on the miss path, and cut into
 *  RRsets with the RRSIGs that cover them. Judging needs the key entry of
 *  every zone the answer speaks for: the signer of each signed RRset, or,
 *  for an unsigned one, the zone that holds its owner (which must then be
 *  provably insecure). dns/chain.c finds those entries (fetching DS and
 *  DNSKEY records as needed) and hands them in; everything here is
 *  synchronous and allocation is ldns's.
 *
 *  Signatures are verified by ldns (ldns_verify_rrsig_keylist_time); what
 *  ldns leaves to its caller is checked here: the signer must be the zone
 *  whose keys are used and an ancestor of the owner (a DS RRset is signed
 *  by the parent, a DNSKEY RRset by its own zone), keys must have the zone
 *  flag and must not be revoked, a wildcard expansion needs a proof that
 *  the next closer name does not exist, and a negative answer needs its
 *  denial (dns/denial.c). TTLs of verified RRsets are capped by the
 *  original TTL and the signature expiry (RFC 4035 5.3.3).
 *
 *  The verdict is the worst of the parts: one bogus RRset makes the answer
 *  bogus, one insecure RRset makes it insecure. Unsigned NS records in the
 *  authority section (a referral's, or a parent's) do not spoil an answer;
 *  they are left out of a secure one, and so is additional data that was
 *  not verified, as Unbound's val-clean-additional does.
 */
#include "dns/internal.h"

#include <stdlib.h>
#include <string.h>

#define SECTIONS 3
#define CNAME_HOPS 16
#define BOGUS_TTL 60

struct rrset {
	ldns_rr_list *rrs;		/* not owning: the packet owns records */
	ldns_rr_list *sigs;		/* plausible RRSIGs covering it */
	const ldns_rdf *owner;
	ldns_rr_type type;
	ldns_rr_class rclass;
	unsigned section;
	const ldns_rdf *need;		/* whose key entry judges it */
	enum val_status status;
	bool drop;			/* left out of the answers built */
	bool unsigned_ns;		/* a referral's NS: out of secure answers */
	bool judged;
	unsigned wild_labels;		/* labels of a wildcard expansion, or 0 */
	uint32_t ttl;			/* SECURE: capped TTL */
	int ede;
	const char *why;
};

struct val_msg {
	ldns_pkt *pkt;
	const ldns_rr *question;
	const ldns_rdf *qname;
	ldns_rr_type qtype;
	uint16_t rcode;
	struct rrset *sets;
	size_t n_sets;
	const ldns_rdf *needs[VAL_MAX_NEEDS];
	size_t n_needs;
	bool too_many_needs;
	ldns_rdf *owned[VAL_MAX_NEEDS];	/* names made here for needs */
	size_t n_owned;
	/* the verdict */
	enum val_status status;
	int ede;
	const char *why;
	uint32_t ttl_cap;
	/* what the answer says, found while judging */
	const ldns_rdf *sname;		/* the last name of a CNAME chain */
	bool positive;
	bool denial_checked;
	enum val_proof proof;
	struct val_nodata_info nodata;
};

/* ------------------------------------------------------------------ algorithms */

bool val_algorithm_supported(uint8_t alg)
{
	switch (alg) {
	case LDNS_RSASHA1:
	case LDNS_RSASHA1_NSEC3:
	case LDNS_RSASHA256:
	case LDNS_RSASHA512:
	case LDNS_ECDSAP256SHA256:
	case LDNS_ECDSAP384SHA384:
	case LDNS_ED25519:
	case LDNS_ED448:
		return ldns_key_algo_supported(alg);
	default:
		return false;	/* RSAMD5, DSA, GOST, private: never */
	}
}

bool val_digest_supported(uint8_t digest)
{
	return digest == LDNS_SHA1 || digest == LDNS_SHA256 ||
	       digest == LDNS_SHA384;
}

static uint16_t key_flags(const ldns_rr *key)
{
	const ldns_rdf *f = ldns_rr_rdf(key, 0);
	return f && ldns_rdf_size(f) == 2 ? ldns_rdf2native_int16(f) : 0;
}

static uint8_t rdf_u8(const ldns_rr *rr, size_t i)
{
	const ldns_rdf *f = ldns_rr_rdf(rr, i);
	return f && ldns_rdf_size(f) == 1 ? ldns_rdf2native_int8(f) : 0;
}

/* A DNSKEY that may verify signatures: a zone key (RFC 4034 2.1.1),
 * protocol 3, not revoked (RFC 5011 2.1). */
static bool key_usable(const ldns_rr *key)
{
	uint16_t flags = key_flags(key);
	return ldns_rr_get_type(key) == LDNS_RR_TYPE_DNSKEY &&
	       ldns_rr_rd_count(key) == 4 && (flags & LDNS_KEY_ZONE_KEY) &&
	       !(flags & LDNS_KEY_REVOKE_KEY) && rdf_u8(key, 1) == 3;
}

void val_key_clear(struct val_key *k)
{
	ldns_rdf_deep_free(k->zone);
	ldns_rr_list_deep_free(k->keys);
	*k = (struct val_key){ .ede = DNS_EDE_NONE };
}

/* ------------------------------------------------------------------ parsing */

static bool name_equal(const ldns_rdf *a, const ldns_rdf *b)
{
	return a && b && ldns_dname_compare(a, b) == 0;
}

static bool at_or_below(const ldns_rdf *name, const ldns_rdf *apex)
{
	return name_equal(name, apex) || ldns_dname_is_subdomain(name, apex);
}

static bool is_dnssec_type(ldns_rr_type t)
{
	return t == LDNS_RR_TYPE_RRSIG || t == LDNS_RR_TYPE_NSEC ||
	       t == LDNS_RR_TYPE_NSEC3;
}

static struct rrset *set_find(struct val_msg *m, const ldns_rr *rr,
			      ldns_rr_type type, unsigned section)
{
	for (size_t i = 0; i < m->n_sets; i++) {
		struct rrset *s = &m->sets[i];
		if (s->section == section && s->type == type &&
		    s->rclass == ldns_rr_get_class(rr) &&
		    name_equal(s->owner, ldns_rr_owner(rr)))
			return s;
	}
	return NULL;
}

static struct rrset *set_add(struct val_msg *m, const ldns_rr *rr,
			     unsigned section)
{
	struct rrset *s = realloc(m->sets, (m->n_sets + 1) * sizeof(*s));
	if (!s)
		return NULL;
	m->sets = s;
	s = &m->sets[m->n_sets];
	*s = (struct rrset){
		.rrs = ldns_rr_list_new(),
		.sigs = ldns_rr_list_new(),
		.owner = ldns_rr_owner(rr),
		.type = ldns_rr_get_type(rr),
		.rclass = ldns_rr_get_class(rr),
		.section = section,
		.ede = DNS_EDE_NONE,
	};
	if (!s->rrs || !s->sigs) {
		ldns_rr_list_free(s->rrs);
		ldns_rr_list_free(s->sigs);
		return NULL;
	}
	m->n_sets++;
	return s;
}

static ldns_rr_list *section_list(const ldns_pkt *p, unsigned section)
{
	switch (section) {
	case 0: return ldns_pkt_answer(p);
	case 1: return ldns_pkt_authority(p);
	default: return ldns_pkt_additional(p);
	}
}

/* Whether an RRSIG could be the signature of a set: the signer must hold
 * the owner; DS is signed by the parent, DNSKEY by its own zone. */
static bool sig_plausible(const ldns_rr *sig, const struct rrset *s)
{
	const ldns_rdf *signer = ldns_rr_rrsig_signame(sig);
	const ldns_rdf *labels = ldns_rr_rrsig_labels(sig);
	if (ldns_rr_rd_count(sig) != 9 || !signer || !labels ||
	    ldns_rdf_get_type(signer) != LDNS_RDF_TYPE_DNAME ||
	    !at_or_below(s->owner, signer))
		return false;
	if (s->type == LDNS_RR_TYPE_DS && name_equal(signer, s->owner))
		return false;
	if (s->type == LDNS_RR_TYPE_DNSKEY && !name_equal(signer, s->owner))
		return false;
	return ldns_rdf2native_int8(labels) <= ldns_dname_label_count(s->owner);
}

static void attach_sigs(struct val_msg *m, ldns_rr_list *list,
			unsigned section)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *sig = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_type(sig) != LDNS_RR_TYPE_RRSIG ||
		    m->qtype == LDNS_RR_TYPE_RRSIG)
			continue;
		const ldns_rdf *covered = ldns_rr_rrsig_typecovered(sig);
		if (!covered || ldns_rdf_size(covered) != 2)
			continue;
		struct rrset *s = set_find(m, sig, ldns_rdf2rr_type(covered),
					   section);
		if (s && sig_plausible(sig, s))
			ldns_rr_list_push_rr(s->sigs, sig);
	}
}

static int group_section(struct val_msg *m, unsigned section)
{
	ldns_rr_list *list = section_list(m->pkt, section);
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		if (t == LDNS_RR_TYPE_RRSIG && m->qtype != LDNS_RR_TYPE_RRSIG)
			continue;
		struct rrset *s = set_find(m, rr, t, section);
		if (!s && !(s = set_add(m, rr, section)))
			return -1;
		if (!ldns_rr_list_push_rr(s->rrs, rr))
			return -1;
	}
	attach_sigs(m, list, section);
	return 0;
}

static void add_need(struct val_msg *m, const ldns_rdf *name)
{
	for (size_t i = 0; i < m->n_needs; i++)
		if (name_equal(m->needs[i], name))
			return;
	if (m->n_needs < VAL_MAX_NEEDS)
		m->needs[m->n_needs++] = name;
	else
		m->too_many_needs = true;
}

/* The zone that must vouch for an unsigned set: its owner's, except for DS
 * (the parent's) and NSEC3 (whose owner is a hash below the apex). */
static ldns_rdf *unsigned_need(const struct rrset *s)
{
	if (s->type == LDNS_RR_TYPE_DS || s->type == LDNS_RR_TYPE_NSEC3)
		return ldns_dname_left_chop(s->owner);
	return NULL;
}

static int find_needs(struct val_msg *m)
{
	for (size_t i = 0; i < m->n_sets; i++) {
		struct rrset *s = &m->sets[i];
		if (s->section == 2 || s->type == LDNS_RR_TYPE_RRSIG)
			continue;
		if (ldns_rr_list_rr_count(s->sigs)) {
			s->need = ldns_rr_rrsig_signame(ldns_rr_list_rr(s->sigs, 0));
		} else if (s->section == 1 && s->type == LDNS_RR_TYPE_NS) {
			s->unsigned_ns = true;	/* nothing vouches for it */
			continue;
		} else {
			s->need = s->owner;
			ldns_rdf *up = unsigned_need(s);
			if (up && m->n_owned < VAL_MAX_NEEDS) {
				m->owned[m->n_owned++] = up;
				s->need = up;
			} else if (up) {
				ldns_rdf_deep_free(up);
				m->too_many_needs = true;
			}
		}
		add_need(m, s->need);
	}
	if (m->n_needs == 0)
		add_need(m, m->qname);	/* nothing signed: the name's zone */
	return 0;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* ldns reads rdata by its types' field lists and trusts them over the
 * RDLENGTH; a record whose fields disagree with its length would make it
 * read the rest of the message differently from the wire walk that the
 * cache and the answers rely on. Judging must see exactly the records
 * the wire carries: same types, in the same order. */
static bool same_records(const ldns_pkt *p, const uint8_t *wire, size_t len)
{
	size_t pos = DNS_HEADER_SIZE;
	if (len < DNS_HEADER_SIZE || dns_name_skip(wire, len, &pos) != 0)
		return false;
	pos += 4;
	for (unsigned sec = 0; sec < SECTIONS; sec++) {
		const ldns_rr_list *list = section_list(p, sec);
		size_t n = rd16(wire + 6 + 2 * sec), seen = 0;
		for (size_t i = 0; i < n; i++) {
			if (dns_name_skip(wire, len, &pos) != 0 || pos + 10 > len)
				return false;
			uint16_t type = rd16(wire + pos);
			pos += 10 + (size_t)rd16(wire + pos + 8);
			if (pos > len)
				return false;
			if (sec == 2 && (type == DNS_TYPE_OPT ||
					 type == DNS_TYPE_TSIG))
				continue;	/* ldns keeps these apart */
			if (seen >= ldns_rr_list_rr_count(list) ||
			    ldns_rr_get_type(ldns_rr_list_rr(list, seen)) != type)
				return false;
			seen++;
		}
		if (seen != ldns_rr_list_rr_count(list))
			return false;
	}
	return true;
}

struct val_msg *val_msg_parse(const uint8_t *wire, size_t len)
{
	struct val_msg *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->ttl_cap = UINT32_MAX;
	m->ede = DNS_EDE_NONE;
	if (ldns_wire2pkt(&m->pkt, wire, len) != LDNS_STATUS_OK ||
	    ldns_rr_list_rr_count(ldns_pkt_question(m->pkt)) != 1 ||
	    !same_records(m->pkt, wire, len)) {
		val_msg_free(m);
		return NULL;
	}
	m->question = ldns_rr_list_rr(ldns_pkt_question(m->pkt), 0);
	m->qname = ldns_rr_owner(m->question);
	m->qtype = ldns_rr_get_type(m->question);
	m->rcode = ldns_pkt_get_rcode(m->pkt);
	for (unsigned sec = 0; sec < SECTIONS; sec++)
		if (group_section(m, sec) != 0) {
			val_msg_free(m);
			return NULL;
		}
	if (find_needs(m) != 0) {
		val_msg_free(m);
		return NULL;
	}
	return m;
}

void val_msg_free(struct val_msg *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_sets; i++) {
		ldns_rr_list_free(m->sets[i].rrs);
		ldns_rr_list_free(m->sets[i].sigs);
	}
	free(m->sets);
	for (size_t i = 0; i < m->n_owned; i++)
		ldns_rdf_deep_free(m->owned[i]);
	ldns_pkt_free(m->pkt);
	free(m);
}

const ldns_rdf *val_msg_qname(const struct val_msg *m)
{
	return m->qname;
}

size_t val_msg_needs(const struct val_msg *m, const ldns_rdf *const **names)
{
	*names = m->needs;
	return m->n_needs;
}

/* ------------------------------------------------------------------ verifying */

static void verify_error(ldns_status st, int *ede, const char **why)
{
	switch (st) {
	case LDNS_STATUS_CRYPTO_SIG_EXPIRED:
		*ede = DNS_EDE_SIGNATURE_EXPIRED;
		*why = "signature expired";
		break;
	case LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED:
		*ede = DNS_EDE_SIGNATURE_NOT_YET_VALID;
		*why = "signature not yet valid";
		break;
	case LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY:
	case LDNS_STATUS_CRYPTO_NO_TRUSTED_DNSKEY:
		*ede = DNS_EDE_DNSKEY_MISSING;
		*why = "no DNSKEY matches the signature";
		break;
	default:
		*ede = DNS_EDE_DNSSEC_BOGUS;
		*why = "signature does not verify";
		break;
	}
}

/* How telling a failure is: expiry says most, a missing key least. */
static int error_rank(ldns_status st)
{
	switch (st) {
	case LDNS_STATUS_CRYPTO_SIG_EXPIRED: return 4;
	case LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED: return 3;
	case LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY: return 1;
	default: return 2;
	}
}

static uint32_t rrs_min_ttl(const ldns_rr_list *l)
{
	uint32_t ttl = UINT32_MAX;
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
		ttl = MIN(ttl, ldns_rr_ttl(ldns_rr_list_rr(l, i)));
	return ttl;
}

/* The TTL a verified RRset may keep (RFC 4035 5.3.3). */
static uint32_t sig_ttl(const ldns_rr_list *rrs, const ldns_rr *sig,
			time_t now)
{
	uint32_t orig = ldns_rdf2native_int32(ldns_rr_rrsig_origttl(sig));
	uint32_t expire = ldns_rdf2native_int32(ldns_rr_rrsig_expiration(sig));
	int32_t left = (int32_t)(expire - (uint32_t)now);
	uint32_t ttl = MIN(rrs_min_ttl(rrs), MIN(orig, ldns_rr_ttl(sig)));
	return MIN(ttl, left > 0 ? (uint32_t)left : 0);
}

/* The wildcard expansion an RRSIG shows: its labels field below the owner's
 * count (RFC 4034 3.1.3), not counting a literal "*" owner. */
static unsigned wildcard_labels(const ldns_rr *sig, const ldns_rdf *owner)
{
	unsigned labels = ldns_rdf2native_int8(ldns_rr_rrsig_labels(sig));
	unsigned have = ldns_dname_label_count(owner);
	if (ldns_dname_is_wildcard(owner))
		have--;
	return labels < have ? labels : 0;
}

/* Verify a set with the keys of zone: one good signature by zone is
 * enough. Returns true, or false with the most telling reason. */
static bool verify_set(struct rrset *s, const ldns_rdf *zone,
		       const ldns_rr_list *keys, time_t now)
{
	ldns_status worst = LDNS_STATUS_OK;
	bool by_zone = false;
	for (size_t i = 0; i < ldns_rr_list_rr_count(s->sigs); i++) {
		ldns_rr *sig = ldns_rr_list_rr(s->sigs, i);
		if (!name_equal(ldns_rr_rrsig_signame(sig), zone))
			continue;
		by_zone = true;
		ldns_status st = ldns_verify_rrsig_keylist_time(s->rrs, sig,
								keys, now,
								NULL);
		if (st == LDNS_STATUS_OK) {
			s->ttl = sig_ttl(s->rrs, sig, now);
			s->wild_labels = wildcard_labels(sig, s->owner);
			return true;
		}
		if (worst == LDNS_STATUS_OK || error_rank(st) > error_rank(worst))
			worst = st;
	}
	if (!by_zone) {
		s->ede = ldns_rr_list_rr_count(s->sigs) ? DNS_EDE_DNSSEC_BOGUS
							 : DNS_EDE_RRSIGS_MISSING;
		s->why = ldns_rr_list_rr_count(s->sigs)
				 ? "signer is not the zone's apex"
				 : "RRSIG missing";
	} else {
		verify_error(worst, &s->ede, &s->why);
	}
	return false;
}

/* A CNAME synthesized from a verified DNAME (RFC 6672) is as good as it:
 * owner = prefix + DNAME owner, target = prefix + DNAME target. */
static bool synthesized_from_dname(const struct val_msg *m,
				   const struct rrset *cname)
{
	if (ldns_rr_list_rr_count(cname->rrs) != 1)
		return false;
	const ldns_rdf *target = ldns_rr_rdf(ldns_rr_list_rr(cname->rrs, 0), 0);
	for (size_t i = 0; target && i < m->n_sets; i++) {
		const struct rrset *d = &m->sets[i];
		if (d->type != LDNS_RR_TYPE_DNAME || d->status != VAL_SECURE ||
		    d->section != 0 || !ldns_dname_is_subdomain(cname->owner,
								 d->owner))
			continue;
		const ldns_rdf *dtarget =
			ldns_rr_rdf(ldns_rr_list_rr(d->rrs, 0), 0);
		size_t prefix = ldns_rdf_size(cname->owner) -
				ldns_rdf_size(d->owner);
		if (!dtarget || ldns_rdf_size(target) !=
				prefix + ldns_rdf_size(dtarget))
			continue;
		ldns_rdf *want = ldns_dname_new_frm_data(
			(uint16_t)prefix + 1, ldns_rdf_data(cname->owner));
		/* The prefix labels and a root: want = prefix, then append. */
		if (want) {
			ldns_rdf_data(want)[prefix] = 0;
			if (ldns_dname_cat(want, dtarget) == LDNS_STATUS_OK &&
			    name_equal(want, target)) {
				ldns_rdf_deep_free(want);
				return true;
			}
			ldns_rdf_deep_free(want);
		}
	}
	return false;
}

static void judge_set(struct rrset *s, const struct val_key *key, time_t now)
{
	s->judged = true;
	if (s->type == LDNS_RR_TYPE_RRSIG) {
		s->status = VAL_INSECURE;	/* an RRSIG query: nothing signs it */
		return;
	}
	if (!key) {
		s->status = VAL_BOGUS;
		s->ede = DNS_EDE_DNSSEC_INDETERMINATE;
		s->why = "no key entry";
		return;
	}
	if (key->status != VAL_SECURE) {
		s->status = key->status;
		s->ede = key->ede;
		s->why = key->why;
		return;
	}
	s->status = verify_set(s, key->zone, key->keys, now) ? VAL_SECURE
							     : VAL_BOGUS;
}

static const struct rrset *answer_set(const struct val_msg *m,
				      const ldns_rdf *owner, ldns_rr_type type)
{
	for (size_t i = 0; i < m->n_sets; i++) {
		const struct rrset *s = &m->sets[i];
		if (s->section == 0 && name_equal(s->owner, owner) &&
		    (s->type == type ||
		     (type == LDNS_RR_TYPE_ANY && s->type != LDNS_RR_TYPE_RRSIG)))
			return s;
	}
	return NULL;
}

/* Follow the CNAME chain of the answer from the question name. */
static void find_sname(struct val_msg *m)
{
	const ldns_rdf *name = m->qname;
	m->positive = false;
	for (int hop = 0; hop < CNAME_HOPS; hop++) {
		if (answer_set(m, name, m->qtype)) {
			m->positive = true;
			break;
		}
		const struct rrset *c = answer_set(m, name, LDNS_RR_TYPE_CNAME);
		const ldns_rdf *target = c ? ldns_rr_rdf(ldns_rr_list_rr(c->rrs,
									 0), 0)
					   : NULL;
		if (!target || ldns_rdf_get_type(target) != LDNS_RDF_TYPE_DNAME)
			break;
		name = target;
	}
	m->sname = name;
}

static void worsen(struct val_msg *m, enum val_status st, int ede,
		   const char *why)
{
	if (st == VAL_BOGUS && m->status != VAL_BOGUS) {
		m->status = VAL_BOGUS;
		m->ede = ede;
		m->why = why;
	} else if (st == VAL_INSECURE && m->status == VAL_SECURE) {
		m->status = VAL_INSECURE;
		m->ede = ede;
		m->why = why;
	}
}

/* The secure NSEC/NSEC3 records signed by zone, for a proof. */
static void denial_for(const struct val_msg *m, const ldns_rdf *zone,
		       struct val_denial *d)
{
	d->zone = zone;
	d->nsec = ldns_rr_list_new();
	d->nsec3 = ldns_rr_list_new();
	for (size_t i = 0; i < m->n_sets && d->nsec && d->nsec3; i++) {
		const struct rrset *s = &m->sets[i];
		if (s->section != 1 || s->status != VAL_SECURE ||
		    !name_equal(s->need, zone))
			continue;
		ldns_rr_list *to = s->type == LDNS_RR_TYPE_NSEC ? d->nsec
				   : s->type == LDNS_RR_TYPE_NSEC3 ? d->nsec3
								   : NULL;
		for (size_t j = 0; to && j < ldns_rr_list_rr_count(s->rrs); j++)
			ldns_rr_list_push_rr(to, ldns_rr_list_rr(s->rrs, j));
	}
}

static void denial_free(struct val_denial *d)
{
	ldns_rr_list_free(d->nsec);
	ldns_rr_list_free(d->nsec3);
}

static void apply_proof(struct val_msg *m, enum val_proof p, int bogus_ede,
			const char *why)
{
	switch (p) {
	case VAL_PROOF_OK:
		break;
	case VAL_PROOF_OPTOUT:
		worsen(m, VAL_INSECURE, DNS_EDE_NONE, "NSEC3 opt-out");
		break;
	case VAL_PROOF_ITERATIONS:
		worsen(m, VAL_INSECURE, DNS_EDE_UNSUPPORTED_NSEC3_ITERATIONS,
		       "NSEC3 iterations above the limit");
		break;
	case VAL_PROOF_NONE:
		worsen(m, VAL_BOGUS, bogus_ede, why);
		break;
	}
}

/* Wildcard expansions in the answer need the next closer name denied. */
static void check_wildcards(struct val_msg *m)
{
	for (size_t i = 0; i < m->n_sets; i++) {
		const struct rrset *s = &m->sets[i];
		if (s->section != 0 || s->status != VAL_SECURE ||
		    !s->wild_labels)
			continue;
		struct val_denial d;
		denial_for(m, s->need, &d);
		apply_proof(m, val_deny_wildcard(&d, s->owner, s->wild_labels),
			    DNS_EDE_NSEC_MISSING,
			    "no proof the wildcard was the closest match");
		denial_free(&d);
	}
}

/* The zone that must deny: the SOA's signer (or owner), else the name. */
static const ldns_rdf *denial_zone(const struct val_msg *m)
{
	for (size_t i = 0; i < m->n_sets; i++) {
		const struct rrset *s = &m->sets[i];
		if (s->section == 1 && s->type == LDNS_RR_TYPE_SOA)
			return s->need;
	}
	for (size_t i = 0; i < m->n_sets; i++) {
		const struct rrset *s = &m->sets[i];
		if (s->section == 1 && (s->type == LDNS_RR_TYPE_NSEC ||
					s->type == LDNS_RR_TYPE_NSEC3))
			return s->need;
	}
	return m->needs[0];
}

static void check_denial(struct val_msg *m, val_key_fn lookup, void *ctx)
{
	const ldns_rdf *zone = denial_zone(m);
	const struct val_key *key = zone ? lookup(ctx, zone) : NULL;
	if (!key || key->status != VAL_SECURE) {
		if (key)
			worsen(m, key->status, key->ede, key->why);
		return;
	}
	struct val_denial d;
	denial_for(m, key->zone, &d);
	m->denial_checked = true;
	if (m->rcode == LDNS_RCODE_NXDOMAIN)
		m->proof = val_deny_name(&d, m->sname);
	else
		m->proof = val_deny_type(&d, m->sname, m->qtype, &m->nodata);
	denial_free(&d);
	apply_proof(m, m->proof, DNS_EDE_NSEC_MISSING,
		    "no proof of nonexistence");
}

static const struct val_key *need_key(struct val_msg *m, const ldns_rdf *need,
				      val_key_fn lookup, void *ctx)
{
	for (size_t i = 0; i < m->n_needs; i++)
		if (name_equal(m->needs[i], need))
			return lookup(ctx, need);
	return NULL;
}

static void judge_sets(struct val_msg *m, val_key_fn lookup, void *ctx,
		       time_t now)
{
	/* DNAMEs first, so that the CNAMEs synthesized from them can lean on
	 * their verdict; additional data only when its zone is known. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < m->n_sets; i++) {
			struct rrset *s = &m->sets[i];
			if (s->judged || s->drop || s->unsigned_ns ||
			    (pass == 0) != (s->type == LDNS_RR_TYPE_DNAME))
				continue;
			if (s->section == 2) {
				const ldns_rdf *signer = ldns_rr_list_rr_count(s->sigs)
					? ldns_rr_rrsig_signame(ldns_rr_list_rr(s->sigs, 0))
					: NULL;
				s->need = signer;
				const struct val_key *k = signer
					? need_key(m, signer, lookup, ctx) : NULL;
				if (k)
					judge_set(s, k, now);
				continue;
			}
			judge_set(s, s->need ? lookup(ctx, s->need) : NULL,
				  now);
			if (s->status == VAL_BOGUS &&
			    s->ede == DNS_EDE_RRSIGS_MISSING &&
			    s->type == LDNS_RR_TYPE_CNAME &&
			    synthesized_from_dname(m, s)) {
				s->status = VAL_SECURE;
				s->ttl = rrs_min_ttl(s->rrs);
				s->ede = DNS_EDE_NONE;
			}
		}
	}
}

void val_msg_judge(struct val_msg *m, val_key_fn lookup, void *ctx,
		   time_t now)
{
	m->status = VAL_SECURE;
	m->ede = DNS_EDE_NONE;
	m->why = NULL;
	if (m->too_many_needs) {
		worsen(m, VAL_BOGUS, DNS_EDE_DNSSEC_INDETERMINATE,
		       "answer spans too many zones");
		return;
	}
	judge_sets(m, lookup, ctx, now);
	for (size_t i = 0; i < m->n_sets; i++) {
		struct rrset *s = &m->sets[i];
		if (s->section == 2 || s->drop || !s->judged)
			continue;
		worsen(m, s->status, s->ede, s->why);
		if (s->status == VAL_SECURE)
			m->ttl_cap = MIN(m->ttl_cap, s->ttl);
	}
	find_sname(m);
	if (m->status == VAL_BOGUS)
		return;
	check_wildcards(m);
	if (!m->positive && m->qtype != LDNS_RR_TYPE_RRSIG)
		check_denial(m, lookup, ctx);
	if (m->status == VAL_BOGUS)
		m->ttl_cap = MIN(m->ttl_cap, BOGUS_TTL);
}

enum val_status val_msg_status(const struct val_msg *m, int *ede,
			       const char **why)
{
	if (ede)
		*ede = m->ede;
	if (why)
		*why = m->why;
	return m->status;
}

uint32_t val_msg_ttl_cap(const struct val_msg *m)
{
	return m->ttl_cap;
}

/* ------------------------------------------------------------------ encoding */

static bool keep_set(const struct val_msg *m, const struct rrset *s,
		     bool dnssec_rrs)
{
	if (s->drop)
		return false;
	/* Nothing unverified stays under an AD bit: not additional data,
	 * not a parent's unsigned NS (Unbound's val-clean-additional). */
	if (m->status == VAL_SECURE && (s->unsigned_ns ||
	    (s->section == 2 && s->status != VAL_SECURE)))
		return false;
	if (!dnssec_rrs && is_dnssec_type(s->type) && s->type != m->qtype &&
	    m->qtype != LDNS_RR_TYPE_ANY)
		return false;
	return true;
}

static int push_clone(ldns_pkt *p, unsigned section, const ldns_rr *rr,
		      bool cap, uint32_t ttl)
{
	static const ldns_pkt_section map[] = { LDNS_SECTION_ANSWER,
						LDNS_SECTION_AUTHORITY,
						LDNS_SECTION_ADDITIONAL };
	ldns_rr *c = ldns_rr_clone(rr);
	if (!c)
		return -1;
	if (cap && ldns_rr_ttl(c) > ttl)
		ldns_rr_set_ttl(c, ttl);
	if (!ldns_pkt_push_rr(p, map[section], c)) {
		ldns_rr_free(c);
		return -1;
	}
	return 0;
}

static int encode_sets(const struct val_msg *m, ldns_pkt *out, bool dnssec_rrs)
{
	bool sigs = dnssec_rrs || m->qtype == LDNS_RR_TYPE_RRSIG ||
		    m->qtype == LDNS_RR_TYPE_ANY;
	for (size_t i = 0; i < m->n_sets; i++) {
		const struct rrset *s = &m->sets[i];
		if (!keep_set(m, s, dnssec_rrs))
			continue;
		bool cap = s->status == VAL_SECURE;
		for (size_t j = 0; j < ldns_rr_list_rr_count(s->rrs); j++)
			if (push_clone(out, s->section,
				       ldns_rr_list_rr(s->rrs, j), cap, s->ttl))
				return -1;
		for (size_t j = 0; sigs && j < ldns_rr_list_rr_count(s->sigs); j++)
			if (push_clone(out, s->section,
				       ldns_rr_list_rr(s->sigs, j), cap, s->ttl))
				return -1;
	}
	return 0;
}

int val_msg_encode(const struct val_msg *m, bool dnssec_rrs, uint8_t **wire,
		   size_t *len)
{
	ldns_pkt *out = ldns_pkt_new();
	ldns_rr *q = out ? ldns_rr_clone(m->question) : NULL;
	int ret = -1;
	if (q && ldns_pkt_push_rr(out, LDNS_SECTION_QUESTION, q)) {
		q = NULL;
		ldns_pkt_set_qr(out, true);
		ldns_pkt_set_rcode(out, (uint8_t)m->rcode);
		if (encode_sets(m, out, dnssec_rrs) == 0 &&
		    ldns_pkt2wire(wire, out, len) == LDNS_STATUS_OK)
			ret = 0;
	}
	ldns_rr_free(q);
	ldns_pkt_free(out);
	return ret;
}

/* ------------------------------------------------------------------ chain steps */

static const struct val_key *constant_key(void *ctx, const ldns_rdf *name)
{
	return ctx;
}

static void ds_usable(const struct rrset *s, struct val_ds_result *out)
{
	bool digest_ok = false;
	out->ds = ldns_rr_list_new();
	for (size_t i = 0; out->ds && i < ldns_rr_list_rr_count(s->rrs); i++) {
		const ldns_rr *ds = ldns_rr_list_rr(s->rrs, i);
		if (ldns_rr_rd_count(ds) != 4 ||
		    !val_digest_supported(rdf_u8(ds, 2)))
			continue;
		digest_ok = true;
		if (!val_algorithm_supported(rdf_u8(ds, 1)))
			continue;
		ldns_rr *c = ldns_rr_clone(ds);
		if (!c || !ldns_rr_list_push_rr(out->ds, c))
			ldns_rr_free(c);
	}
	if (out->ds && ldns_rr_list_rr_count(out->ds)) {
		out->kind = VAL_DS_FOUND;
		return;
	}
	/* Nothing usable: the zone is as good as unsigned (RFC 4035 5.2). */
	ldns_rr_list_deep_free(out->ds);
	out->ds = NULL;
	out->kind = VAL_DS_INSECURE;
	out->ede = digest_ok ? DNS_EDE_UNSUPPORTED_DNSKEY_ALG
			     : DNS_EDE_UNSUPPORTED_DS_DIGEST;
	out->why = digest_ok ? "no supported DNSKEY algorithm in the DS RRset"
			     : "no supported digest type in the DS RRset";
}

void val_ds_step(const uint8_t *wire, size_t len, const ldns_rdf *child,
		 const struct val_key *parent, time_t now,
		 struct val_ds_result *out)
{
	*out = (struct val_ds_result){ .kind = VAL_DS_BOGUS,
				       .ede = DNS_EDE_DNSSEC_BOGUS,
				       .ttl = BOGUS_TTL };
	struct val_msg *m = val_msg_parse(wire, len);
	if (!m) {
		out->why = "unparsable DS answer";
		return;
	}
	val_msg_judge(m, constant_key, (void *)parent, now);
	uint32_t ttl = val_msg_ttl_cap(m);
	const struct rrset *ds = answer_set(m, child, LDNS_RR_TYPE_DS);
	if (m->status == VAL_BOGUS) {
		out->ede = m->ede;
		out->why = m->why;
	} else if (ds && m->status == VAL_SECURE) {
		out->ede = DNS_EDE_NONE;
		ds_usable(ds, out);
		out->ttl = ttl;
	} else if (ds) {
		out->kind = VAL_DS_INSECURE;
		out->ede = m->ede;
		out->why = m->why;
		out->ttl = ttl;
	} else if (m->positive || !name_equal(m->sname, child)) {
		out->kind = VAL_DS_NOT_CUT;	/* a CNAME: never a cut */
		out->ttl = ttl;
	} else if (m->status == VAL_INSECURE) {
		out->kind = VAL_DS_INSECURE;	/* an opt-out span */
		out->ede = m->ede;
		out->why = m->why ? m->why : "NSEC3 opt-out";
		out->ttl = ttl;
	} else {
		bool cut = m->rcode != LDNS_RCODE_NXDOMAIN &&
			   m->nodata.delegation;
		out->kind = cut ? VAL_DS_INSECURE : VAL_DS_NOT_CUT;
		out->ede = DNS_EDE_NONE;
		out->why = cut ? "unsigned delegation" : NULL;
		out->ttl = ttl;
	}
	val_msg_free(m);
}

static bool ds_matches(const ldns_rr *key, const ldns_rr *ds)
{
	if (ldns_rr_rd_count(ds) != 4 ||
	    ldns_calc_keytag(key) != ldns_rdf2native_int16(ldns_rr_rdf(ds, 0)) ||
	    rdf_u8(key, 2) != rdf_u8(ds, 1) ||
	    !val_digest_supported(rdf_u8(ds, 2)))
		return false;
	ldns_rr *canon = ldns_rr_clone(key);
	if (!canon)
		return false;
	ldns_rr2canonical(canon);
	ldns_rr *mine = ldns_key_rr2ds(canon, (ldns_hash)rdf_u8(ds, 2));
	bool same = mine && ldns_rr_rd_count(mine) == 4 &&
		    ldns_rdf_compare(ldns_rr_rdf(mine, 3), ldns_rr_rdf(ds, 3)) == 0;
	ldns_rr_free(mine);
	ldns_rr_free(canon);
	return same;
}

static bool key_in(const ldns_rr *key, const ldns_rr_list *anchors)
{
	for (size_t i = 0; anchors && i < ldns_rr_list_rr_count(anchors); i++) {
		const ldns_rr *a = ldns_rr_list_rr(anchors, i);
		if (ldns_rr_rd_count(a) == 4 &&
		    ldns_rdf_compare(ldns_rr_rdf(a, 3), ldns_rr_rdf(key, 3)) == 0 &&
		    rdf_u8(a, 2) == rdf_u8(key, 2))
			return true;
	}
	return false;
}

/* DNSKEYs of the set that the DS records or the anchors vouch for. */
static ldns_rr_list *trusted_keys(const struct rrset *set,
				  const ldns_rr_list *ds,
				  const ldns_rr_list *anchors)
{
	ldns_rr_list *t = ldns_rr_list_new();
	for (size_t i = 0; t && i < ldns_rr_list_rr_count(set->rrs); i++) {
		ldns_rr *key = ldns_rr_list_rr(set->rrs, i);
		if (!key_usable(key))
			continue;
		bool vouched = key_in(key, anchors);
		for (size_t j = 0; !vouched && ds && j < ldns_rr_list_rr_count(ds);
		     j++)
			vouched = ds_matches(key, ldns_rr_list_rr(ds, j));
		if (vouched)
			ldns_rr_list_push_rr(t, key);
	}
	return t;
}

static ldns_rr_list *usable_keys(const struct rrset *set)
{
	ldns_rr_list *keys = ldns_rr_list_new();
	for (size_t i = 0; keys && i < ldns_rr_list_rr_count(set->rrs); i++) {
		const ldns_rr *key = ldns_rr_list_rr(set->rrs, i);
		if (!key_usable(key) || !val_algorithm_supported(rdf_u8(key, 2)))
			continue;
		ldns_rr *c = ldns_rr_clone(key);
		if (!c || !ldns_rr_list_push_rr(keys, c))
			ldns_rr_free(c);
	}
	return keys;
}

static void dnskey_bogus(struct val_key *out, int ede, const char *why)
{
	val_key_clear(out);
	out->status = VAL_BOGUS;
	out->ede = ede;
	out->why = why;
}

void val_dnskey_step(const uint8_t *wire, size_t len, const ldns_rdf *zone,
		     const ldns_rr_list *ds, const ldns_rr_list *anchor_keys,
		     time_t now, struct val_key *out, uint32_t *ttl)
{
	*out = (struct val_key){ .ede = DNS_EDE_NONE };
	*ttl = BOGUS_TTL;
	struct val_msg *m = val_msg_parse(wire, len);
	const struct rrset *set = m ? answer_set(m, zone, LDNS_RR_TYPE_DNSKEY)
				    : NULL;
	if (!set) {
		dnskey_bogus(out, DNS_EDE_DNSKEY_MISSING, "no DNSKEY RRset");
		val_msg_free(m);
		return;
	}
	ldns_rr_list *trusted = trusted_keys(set, ds, anchor_keys);
	struct rrset *s = (struct rrset *)set;
	if (!trusted || ldns_rr_list_rr_count(trusted) == 0) {
		dnskey_bogus(out, DNS_EDE_DNSKEY_MISSING,
			     "no DNSKEY matches the DS or trust anchor");
	} else if (!verify_set(s, zone, trusted, now)) {
		dnskey_bogus(out, s->ede, s->why);
	} else {
		out->status = VAL_SECURE;
		out->zone = ldns_rdf_clone(zone);
		out->keys = usable_keys(set);
		if (out->zone)
			ldns_dname2canonical(out->zone);
		*ttl = s->ttl;
		if (!out->zone || !out->keys)
			dnskey_bogus(out, DNS_EDE_OTHER, "out of memory");
	}
	ldns_rr_list_free(trusted);
	val_msg_free(m);
}
