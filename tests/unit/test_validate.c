/*  anchord - unit tests of dns/validate.c and dns/denial.c.
 *
 *  A small zone is signed in-process with ldns (NSEC and NSEC3 flavours);
 *  answers are assembled from its records the way an authoritative server
 *  would (the whole NSEC chain goes into the authority section, so that the
 *  validator has to pick the right records itself), then judged.
 */
#include "signzone.h"

#include <stdlib.h>

#define ZONE "signed.test."
#define NOW ((time_t)1800000000)	/* 2027-01-15 */

static const char *const zone_text[] = {
	ZONE " 300 IN SOA ns." ZONE " hostmaster." ZONE " 1 3600 600 604800 60",
	ZONE " 300 IN NS ns." ZONE,
	"ns." ZONE " 300 IN A 127.0.0.53",
	"www." ZONE " 300 IN A 127.0.0.20",
	"*.wild." ZONE " 300 IN A 127.0.0.21",
	"a.b.deep." ZONE " 300 IN TXT \"x\"",
	"alias." ZONE " 300 IN CNAME www." ZONE,
	"sub." ZONE " 300 IN NS ns.sub." ZONE,
	"ns.sub." ZONE " 300 IN A 127.0.0.54",
};

static struct signed_zone nsec_zone, nsec3_zone, optout_zone, heavy_zone;

static void sign(struct signed_zone *z, bool nsec3, uint16_t iterations,
		 bool optout)
{
	sign_zone(z, ZONE, zone_text, ARRAY_SIZE(zone_text), nsec3, iterations,
		  optout, NOW - 3600, NOW + 86400);
}

static int setup(void **state)
{
	sign(&nsec_zone, false, 0, false);
	sign(&nsec3_zone, true, 0, false);
	sign(&optout_zone, true, 0, true);
	sign(&heavy_zone, true, 200, false);
	return 0;
}

static int teardown(void **state)
{
	free_zone(&nsec_zone);
	free_zone(&nsec3_zone);
	free_zone(&optout_zone);
	free_zone(&heavy_zone);
	return 0;
}

/* ------------------------------------------------------------------ building answers */

static bool is_sig_for(const ldns_rr *rr, ldns_rr_type type)
{
	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
	       ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) == type;
}

/* Records (and their signatures) of one owner and type, cloned. */
static void pick(const struct signed_zone *z, ldns_pkt *p,
		 ldns_pkt_section sec, const char *owner, ldns_rr_type type,
		 bool sigs)
{
	ldns_rdf *o = ldns_dname_new_frm_str(owner);
	for (size_t i = 0; i < ldns_rr_list_rr_count(z->rrs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(z->rrs, i);
		if (ldns_dname_compare(ldns_rr_owner(rr), o) != 0)
			continue;
		if (ldns_rr_get_type(rr) == type ||
		    (sigs && is_sig_for(rr, type)))
			ldns_pkt_push_rr(p, sec, ldns_rr_clone(rr));
	}
	ldns_rdf_deep_free(o);
}

/* The whole NSEC or NSEC3 chain with signatures into the authority. */
static void pick_chain(const struct signed_zone *z, ldns_pkt *p)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(z->rrs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(z->rrs, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		if (t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_NSEC3 ||
		    is_sig_for(rr, LDNS_RR_TYPE_NSEC) ||
		    is_sig_for(rr, LDNS_RR_TYPE_NSEC3))
			ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY,
					 ldns_rr_clone(rr));
	}
}

static ldns_pkt *answer(const char *qname, ldns_rr_type qtype,
			ldns_pkt_rcode rcode)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = ldns_rr_new();
	ldns_rr_set_owner(q, ldns_dname_new_frm_str(qname));
	ldns_rr_set_type(q, qtype);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(q, true);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, rcode);
	return p;
}

struct verdict {
	enum val_status status;
	int ede;
	uint32_t ttl_cap;
};

static const struct val_key *entry_of(void *ctx, const ldns_rdf *name)
{
	return ctx;
}

static struct verdict judge_with(ldns_pkt *p, const struct val_key *key)
{
	uint8_t *wire;
	size_t len;
	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	struct val_msg *m = val_msg_parse(wire, len);
	free(wire);
	assert_non_null(m);
	val_msg_judge(m, entry_of, (void *)key, NOW);
	struct verdict v;
	v.status = val_msg_status(m, &v.ede, NULL);
	v.ttl_cap = val_msg_ttl_cap(m);
	val_msg_free(m);
	return v;
}

static struct verdict judge(ldns_pkt *p, const struct signed_zone *z)
{
	return judge_with(p, &z->entry);
}

/* ------------------------------------------------------------------ positive */

static void secure_answer(void **state)
{
	ldns_pkt *p = answer("www." ZONE, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pick(&nsec_zone, p, LDNS_SECTION_ANSWER, "www." ZONE, LDNS_RR_TYPE_A,
	     true);
	struct verdict v = judge(p, &nsec_zone);
	assert_int_equal(v.status, VAL_SECURE);
	assert_int_equal(v.ede, DNS_EDE_NONE);
	assert_true(v.ttl_cap <= 300);
}

static void missing_rrsig_is_bogus(void **state)
{
	ldns_pkt *p = answer("www." ZONE, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pick(&nsec_zone, p, LDNS_SECTION_ANSWER, "www." ZONE, LDNS_RR_TYPE_A,
	     false);
	struct verdict v = judge(p, &nsec_zone);
	assert_int_equal(v.status, VAL_BOGUS);
	assert_int_equal(v.ede, DNS_EDE_RRSIGS_MISSING);
}

static void tampered_signature_is_bogus(void **state)
{
	ldns_pkt *p = answer("www." ZONE, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pick(&nsec_zone, p, LDNS_SECTION_ANSWER, "www." ZONE, LDNS_RR_TYPE_A,
	     true);
	ldns_rr_list *an = ldns_pkt_answer(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG)
			ldns_rdf_data(ldns_rr_rrsig_sig(rr))[5] ^= 0x40;
	}
	struct verdict v = judge(p, &nsec_zone);
	assert_int_equal(v.status, VAL_BOGUS);
	assert_int_equal(v.ede, DNS_EDE_DNSSEC_BOGUS);
}

static void tampered_data_is_bogus(void **state)
{
	ldns_pkt *p = answer("www." ZONE, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pick(&nsec_zone, p, LDNS_SECTION_ANSWER, "www." ZONE, LDNS_RR_TYPE_A,
	     true);
	ldns_rr *a = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
	if (ldns_rr_get_type(a) != LDNS_RR_TYPE_A)
		a = ldns_rr_list_rr(ldns_pkt_answer(p), 1);
	ldns_rdf_data(ldns_rr_rdf(a, 0))[3] = 99;
	assert_int_equal(judge(p, &nsec_zone).status, VAL_BOGUS);
}

static void expired_and_future_signatures(void **state)
{
	struct {
		time_t inception, expiration;
		int ede;
	} cases[] = {
		{ NOW - 7200, NOW - 3600, DNS_EDE_SIGNATURE_EXPIRED },
		{ NOW + 3600, NOW + 7200, DNS_EDE_SIGNATURE_NOT_YET_VALID },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ldns_key *k = make_key(ZONE, cases[i].inception,
				       cases[i].expiration);
		ldns_key_list *kl = ldns_key_list_new();
		ldns_key_list_push_key(kl, k);
		struct val_key entry = { .status = VAL_SECURE,
					 .zone = ldns_dname_new_frm_str(ZONE),
					 .keys = ldns_rr_list_new() };
		ldns_rr_list_push_rr(entry.keys, ldns_key2rr(k));
		ldns_pkt *p = answer("www." ZONE, LDNS_RR_TYPE_A,
				     LDNS_RCODE_NOERROR);
		ldns_rr *a;
		ldns_rr_new_frm_str(&a, "www." ZONE " 300 IN A 127.0.0.20", 0,
				    NULL, NULL);
		ldns_rr_list *set = ldns_rr_list_new();
		ldns_rr_list_push_rr(set, a);
		ldns_rr_list *sigs = ldns_sign_public(set, kl);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, a);
		ldns_pkt_push_rr_list(p, LDNS_SECTION_ANSWER, sigs);
		ldns_rr_list_free(set);
		ldns_rr_list_free(sigs);
		struct verdict v = judge_with(p, &entry);
		assert_int_equal(v.status, VAL_BOGUS);
		assert_int_equal(v.ede, cases[i].ede);
		val_key_clear(&entry);
		ldns_key_list_free(kl);
	}
}

static void every_algorithm(void **state)
{
	static const struct {
		ldns_signing_algorithm alg;
		uint16_t bits;
	} algs[] = {
		{ LDNS_SIGN_RSASHA256, 1024 }, { LDNS_SIGN_RSASHA512, 1024 },
		{ LDNS_SIGN_ECDSAP256SHA256, 256 },
		{ LDNS_SIGN_ECDSAP384SHA384, 384 },
		{ LDNS_SIGN_ED25519, 256 }, { LDNS_SIGN_ED448, 456 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++) {
		assert_true(val_algorithm_supported((uint8_t)algs[i].alg));
		ldns_key *k = make_key_alg(ZONE, algs[i].alg, algs[i].bits,
					   NOW - 60, NOW + 60);
		ldns_key_list *kl = ldns_key_list_new();
		ldns_key_list_push_key(kl, k);
		struct val_key entry = { .status = VAL_SECURE,
					 .zone = ldns_dname_new_frm_str(ZONE),
					 .keys = ldns_rr_list_new() };
		ldns_rr_list_push_rr(entry.keys, ldns_key2rr(k));
		for (int tamper = 0; tamper < 2; tamper++) {
			ldns_pkt *p = answer("www." ZONE, LDNS_RR_TYPE_A,
					     LDNS_RCODE_NOERROR);
			ldns_rr *a;
			ldns_rr_new_frm_str(&a, "www." ZONE " 300 IN A 127.0.0.20",
					    0, NULL, NULL);
			ldns_rr_list *set = ldns_rr_list_new();
			ldns_rr_list_push_rr(set, a);
			ldns_rr_list *sigs = ldns_sign_public(set, kl);
			if (tamper)
				ldns_rdf_data(ldns_rr_rrsig_sig(
					ldns_rr_list_rr(sigs, 0)))[7] ^= 1;
			ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, a);
			ldns_pkt_push_rr_list(p, LDNS_SECTION_ANSWER, sigs);
			ldns_rr_list_free(set);
			ldns_rr_list_free(sigs);
			assert_int_equal(judge_with(p, &entry).status,
					 tamper ? VAL_BOGUS : VAL_SECURE);
		}
		val_key_clear(&entry);
		ldns_key_list_free(kl);
	}
	/* never: RSAMD5, DSA, GOST, private algorithms */
	assert_false(val_algorithm_supported(LDNS_RSAMD5));
	assert_false(val_algorithm_supported(LDNS_DSA));
	assert_false(val_algorithm_supported(LDNS_ECC_GOST));
	assert_false(val_algorithm_supported(253));
}

static void wrong_zone_key_is_bogus(void **state)
{
	/* Signed by the NSEC zone's key, judged with the NSEC3 zone's. */
	ldns_pkt *p = answer("www." ZONE, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pick(&nsec_zone, p, LDNS_SECTION_ANSWER, "www." ZONE, LDNS_RR_TYPE_A,
	     true);
	struct verdict v = judge(p, &nsec3_zone);
	assert_int_equal(v.status, VAL_BOGUS);
	assert_int_equal(v.ede, DNS_EDE_DNSKEY_MISSING);
}

static void insecure_and_bogus_entries(void **state)
{
	struct val_key insecure = { .status = VAL_INSECURE,
				    .ede = DNS_EDE_NONE };
	ldns_pkt *p = answer("www." ZONE, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pick(&nsec_zone, p, LDNS_SECTION_ANSWER, "www." ZONE, LDNS_RR_TYPE_A,
	     false);
	assert_int_equal(judge_with(p, &insecure).status, VAL_INSECURE);
	struct val_key bogus = { .status = VAL_BOGUS,
				 .ede = DNS_EDE_DNSKEY_MISSING };
	p = answer("www." ZONE, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pick(&nsec_zone, p, LDNS_SECTION_ANSWER, "www." ZONE, LDNS_RR_TYPE_A,
	     true);
	struct verdict v = judge_with(p, &bogus);
	assert_int_equal(v.status, VAL_BOGUS);
	assert_int_equal(v.ede, DNS_EDE_DNSKEY_MISSING);
}

static void cname_chain(void **state)
{
	ldns_pkt *p = answer("alias." ZONE, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	pick(&nsec_zone, p, LDNS_SECTION_ANSWER, "alias." ZONE,
	     LDNS_RR_TYPE_CNAME, true);
	pick(&nsec_zone, p, LDNS_SECTION_ANSWER, "www." ZONE, LDNS_RR_TYPE_A,
	     true);
	assert_int_equal(judge(p, &nsec_zone).status, VAL_SECURE);
}

/* ------------------------------------------------------------------ wildcards */

static void wildcard_needs_proof(void **state)
{
	const struct signed_zone *zones[] = { &nsec_zone, &nsec3_zone };
	for (size_t i = 0; i < ARRAY_SIZE(zones); i++) {
		ldns_pkt *p = answer("x.wild." ZONE, LDNS_RR_TYPE_A,
				     LDNS_RCODE_NOERROR);
		pick(zones[i], p, LDNS_SECTION_ANSWER, "*.wild." ZONE,
		     LDNS_RR_TYPE_A, true);
		ldns_rr_list *an = ldns_pkt_answer(p);
		for (size_t j = 0; j < ldns_rr_list_rr_count(an); j++) {
			ldns_rr *rr = ldns_rr_list_rr(an, j);
			ldns_rdf_deep_free(ldns_rr_owner(rr));
			ldns_rr_set_owner(rr, ldns_dname_new_frm_str("x.wild." ZONE));
		}
		ldns_pkt *with = ldns_pkt_clone(p);
		pick_chain(zones[i], with);
		assert_int_equal(judge(with, zones[i]).status, VAL_SECURE);
		struct verdict v = judge(p, zones[i]);
		assert_int_equal(v.status, VAL_BOGUS);
		assert_int_equal(v.ede, DNS_EDE_NSEC_MISSING);
	}
}

/* ------------------------------------------------------------------ negative */

static struct verdict negative(const struct signed_zone *z, const char *qname,
			       ldns_rr_type qtype, ldns_pkt_rcode rcode,
			       bool chain)
{
	ldns_pkt *p = answer(qname, qtype, rcode);
	pick(z, p, LDNS_SECTION_AUTHORITY, ZONE, LDNS_RR_TYPE_SOA, true);
	if (chain)
		pick_chain(z, p);
	return judge(p, z);
}

static void nxdomain_and_nodata(void **state)
{
	const struct signed_zone *zones[] = { &nsec_zone, &nsec3_zone };
	for (size_t i = 0; i < ARRAY_SIZE(zones); i++) {
		const struct signed_zone *z = zones[i];
		assert_int_equal(negative(z, "nothere." ZONE, LDNS_RR_TYPE_A,
					  LDNS_RCODE_NXDOMAIN, true).status,
				 VAL_SECURE);
		struct verdict v = negative(z, "nothere." ZONE, LDNS_RR_TYPE_A,
					    LDNS_RCODE_NXDOMAIN, false);
		assert_int_equal(v.status, VAL_BOGUS);
		assert_int_equal(v.ede, DNS_EDE_NSEC_MISSING);
		assert_int_equal(negative(z, "www." ZONE, LDNS_RR_TYPE_TXT,
					  LDNS_RCODE_NOERROR, true).status,
				 VAL_SECURE);
		/* an existing name cannot be denied */
		assert_int_equal(negative(z, "www." ZONE, LDNS_RR_TYPE_TXT,
					  LDNS_RCODE_NXDOMAIN, true).status,
				 VAL_BOGUS);
		/* nor a type it has */
		assert_int_equal(negative(z, "www." ZONE, LDNS_RR_TYPE_A,
					  LDNS_RCODE_NOERROR, true).status,
				 VAL_BOGUS);
		/* an empty non-terminal exists */
		assert_int_equal(negative(z, "b.deep." ZONE, LDNS_RR_TYPE_A,
					  LDNS_RCODE_NOERROR, true).status,
				 VAL_SECURE);
		/* a wildcard's NODATA */
		assert_int_equal(negative(z, "y.wild." ZONE, LDNS_RR_TYPE_TXT,
					  LDNS_RCODE_NOERROR, true).status,
				 VAL_SECURE);
		/* names below a delegation are the child's to deny */
		assert_int_equal(negative(z, "x.sub." ZONE, LDNS_RR_TYPE_A,
					  LDNS_RCODE_NXDOMAIN, true).status,
				 VAL_BOGUS);
	}
}

static void nsec3_optout_and_iterations(void **state)
{
	/* Opt-out: the span covering the next closer name may hide an
	 * unsigned delegation, so the denial is insecure. */
	struct verdict v = negative(&optout_zone, "nothere." ZONE,
				    LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, true);
	assert_int_equal(v.status, VAL_INSECURE);
	v = negative(&heavy_zone, "nothere." ZONE, LDNS_RR_TYPE_A,
		     LDNS_RCODE_NXDOMAIN, true);
	assert_int_equal(v.status, VAL_INSECURE);
	assert_int_equal(v.ede, DNS_EDE_UNSUPPORTED_NSEC3_ITERATIONS);
}

/* ------------------------------------------------------------------ chain steps */

static uint8_t *wire_of(ldns_pkt *p, size_t *len)
{
	uint8_t *wire;
	assert_int_equal(ldns_pkt2wire(&wire, p, len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	return wire;
}

static enum val_ds_kind ds_step(const struct signed_zone *z, const char *child,
				bool chain)
{
	ldns_pkt *p = answer(child, LDNS_RR_TYPE_DS, LDNS_RCODE_NOERROR);
	pick(z, p, LDNS_SECTION_AUTHORITY, ZONE, LDNS_RR_TYPE_SOA, true);
	if (chain)
		pick_chain(z, p);
	size_t len;
	uint8_t *wire = wire_of(p, &len);
	ldns_rdf *c = ldns_dname_new_frm_str(child);
	struct val_ds_result r;
	val_ds_step(wire, len, c, &z->entry, NOW, &r);
	ldns_rdf_deep_free(c);
	ldns_rr_list_deep_free(r.ds);
	free(wire);
	return r.kind;
}

static void ds_steps(void **state)
{
	const struct signed_zone *zones[] = { &nsec_zone, &nsec3_zone };
	for (size_t i = 0; i < ARRAY_SIZE(zones); i++) {
		assert_int_equal(ds_step(zones[i], "sub." ZONE, true),
				 VAL_DS_INSECURE);
		assert_int_equal(ds_step(zones[i], "www." ZONE, true),
				 VAL_DS_NOT_CUT);
		assert_int_equal(ds_step(zones[i], "deep." ZONE, true),
				 VAL_DS_NOT_CUT);
		assert_int_equal(ds_step(zones[i], "sub." ZONE, false),
				 VAL_DS_BOGUS);
	}
	assert_int_equal(ds_step(&optout_zone, "sub." ZONE, true),
			 VAL_DS_INSECURE);
}

static void ds_found_and_unsupported(void **state)
{
	/* A parent that signs DS records for the child zone sub. */
	const char *texts[] = {
		"sub." ZONE " 300 IN DS 12345 13 2 "
		"0000000000000000000000000000000000000000000000000000000000000000",
		"sub." ZONE " 300 IN DS 12345 13 3 "
		"0000000000000000000000000000000000000000000000000000000000000000",
		"sub." ZONE " 300 IN DS 12345 253 2 "
		"0000000000000000000000000000000000000000000000000000000000000000",
	};
	enum val_ds_kind kinds[] = { VAL_DS_FOUND, VAL_DS_INSECURE,
				     VAL_DS_INSECURE };
	int edes[] = { DNS_EDE_NONE, DNS_EDE_UNSUPPORTED_DS_DIGEST,
		       DNS_EDE_UNSUPPORTED_DNSKEY_ALG };
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		ldns_rr *ds;
		ldns_rr_new_frm_str(&ds, texts[i], 0, NULL, NULL);
		ldns_rr_list *set = ldns_rr_list_new();
		ldns_rr_list_push_rr(set, ds);
		ldns_rr_list *sigs = ldns_sign_public(set, nsec_zone.keys);
		ldns_pkt *p = answer("sub." ZONE, LDNS_RR_TYPE_DS,
				     LDNS_RCODE_NOERROR);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, ds);
		ldns_pkt_push_rr_list(p, LDNS_SECTION_ANSWER, sigs);
		ldns_rr_list_free(set);
		ldns_rr_list_free(sigs);
		size_t len;
		uint8_t *wire = wire_of(p, &len);
		ldns_rdf *c = ldns_dname_new_frm_str("sub." ZONE);
		struct val_ds_result r;
		val_ds_step(wire, len, c, &nsec_zone.entry, NOW, &r);
		assert_int_equal(r.kind, kinds[i]);
		assert_int_equal(r.ede, edes[i]);
		ldns_rdf_deep_free(c);
		ldns_rr_list_deep_free(r.ds);
		free(wire);
	}
}

static void dnskey_step(void **state)
{
	ldns_rr *good = ldns_key_rr2ds(nsec_zone.dnskey, LDNS_SHA256);
	ldns_rr *other = ldns_key_rr2ds(nsec3_zone.dnskey, LDNS_SHA256);
	ldns_rr_list *ds_good = ldns_rr_list_new(), *ds_other = ldns_rr_list_new();
	ldns_rr_list_push_rr(ds_good, good);
	ldns_rr_list_push_rr(ds_other, other);
	ldns_rdf *zone = ldns_dname_new_frm_str(ZONE);
	struct {
		ldns_rr_list *ds;
		bool with_keys;
		enum val_status status;
		int ede;
	} cases[] = {
		{ ds_good, true, VAL_SECURE, DNS_EDE_NONE },
		{ ds_other, true, VAL_BOGUS, DNS_EDE_DNSKEY_MISSING },
		{ ds_good, false, VAL_BOGUS, DNS_EDE_DNSKEY_MISSING },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ldns_pkt *p = answer(ZONE, LDNS_RR_TYPE_DNSKEY,
				     LDNS_RCODE_NOERROR);
		if (cases[i].with_keys)
			pick(&nsec_zone, p, LDNS_SECTION_ANSWER, ZONE,
			     LDNS_RR_TYPE_DNSKEY, true);
		size_t len;
		uint8_t *wire = wire_of(p, &len);
		struct val_key k;
		uint32_t ttl;
		val_dnskey_step(wire, len, zone, cases[i].ds, NULL, NOW, &k,
				&ttl);
		assert_int_equal(k.status, cases[i].status);
		assert_int_equal(k.ede, cases[i].ede);
		if (k.status == VAL_SECURE) {
			assert_int_equal(ldns_rr_list_rr_count(k.keys), 1);
			assert_true(ttl <= 3600 && ttl > 0);
		}
		val_key_clear(&k);
		free(wire);
	}
	/* a DNSKEY trust anchor works the same way */
	ldns_rr_list *anchors = ldns_rr_list_new();
	ldns_rr_list_push_rr(anchors, ldns_rr_clone(nsec_zone.dnskey));
	ldns_pkt *p = answer(ZONE, LDNS_RR_TYPE_DNSKEY, LDNS_RCODE_NOERROR);
	pick(&nsec_zone, p, LDNS_SECTION_ANSWER, ZONE, LDNS_RR_TYPE_DNSKEY, true);
	size_t len;
	uint8_t *wire = wire_of(p, &len);
	struct val_key k;
	uint32_t ttl;
	val_dnskey_step(wire, len, zone, NULL, anchors, NOW, &k, &ttl);
	assert_int_equal(k.status, VAL_SECURE);
	val_key_clear(&k);
	free(wire);
	ldns_rr_list_deep_free(anchors);
	ldns_rdf_deep_free(zone);
	ldns_rr_list_deep_free(ds_good);
	ldns_rr_list_deep_free(ds_other);
}

/* ------------------------------------------------------------------ encoding */

static unsigned count_type(const uint8_t *wire, size_t len, ldns_rr_type t)
{
	ldns_pkt *p;
	assert_int_equal(ldns_wire2pkt(&p, wire, len), LDNS_STATUS_OK);
	unsigned n = 0;
	ldns_rr_list *all = ldns_pkt_all_noquestion(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(all); i++)
		n += ldns_rr_get_type(ldns_rr_list_rr(all, i)) == t;
	ldns_rr_list_deep_free(all);
	ldns_pkt_free(p);
	return n;
}

static void encode_variants(void **state)
{
	ldns_pkt *p = answer("nothere." ZONE, LDNS_RR_TYPE_A,
			     LDNS_RCODE_NXDOMAIN);
	pick(&nsec_zone, p, LDNS_SECTION_AUTHORITY, ZONE, LDNS_RR_TYPE_SOA, true);
	pick_chain(&nsec_zone, p);
	pick(&nsec_zone, p, LDNS_SECTION_AUTHORITY, "sub." ZONE, LDNS_RR_TYPE_NS,
	     false);
	size_t len;
	uint8_t *wire = wire_of(p, &len);
	struct val_msg *m = val_msg_parse(wire, len);
	free(wire);
	val_msg_judge(m, entry_of, &nsec_zone.entry, NOW);
	assert_int_equal(val_msg_status(m, NULL, NULL), VAL_SECURE);
	uint8_t *with, *without;
	size_t wlen, wolen;
	assert_int_equal(val_msg_encode(m, true, &with, &wlen), 0);
	assert_int_equal(val_msg_encode(m, false, &without, &wolen), 0);
	assert_true(count_type(with, wlen, LDNS_RR_TYPE_RRSIG) > 0);
	assert_true(count_type(with, wlen, LDNS_RR_TYPE_NSEC) > 0);
	assert_int_equal(count_type(without, wolen, LDNS_RR_TYPE_RRSIG), 0);
	assert_int_equal(count_type(without, wolen, LDNS_RR_TYPE_NSEC), 0);
	assert_int_equal(count_type(without, wolen, LDNS_RR_TYPE_SOA), 1);
	/* the unsigned NS of the referral is dropped from both */
	assert_int_equal(count_type(with, wlen, LDNS_RR_TYPE_NS), 0);
	/* the records scan like any upstream answer */
	struct dns_scan s;
	assert_int_equal(dns_response_scan(without, wolen, &s), 0);
	assert_true(s.has_soa && !s.has_dnssec);
	free(with);
	free(without);
	val_msg_free(m);
}

static void garbage_does_not_parse(void **state)
{
	uint8_t junk[40] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 9 };
	assert_null(val_msg_parse(junk, sizeof(junk)));
	assert_null(val_msg_parse(junk, 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(secure_answer),
		cmocka_unit_test(missing_rrsig_is_bogus),
		cmocka_unit_test(tampered_signature_is_bogus),
		cmocka_unit_test(tampered_data_is_bogus),
		cmocka_unit_test(expired_and_future_signatures),
		cmocka_unit_test(every_algorithm),
		cmocka_unit_test(wrong_zone_key_is_bogus),
		cmocka_unit_test(insecure_and_bogus_entries),
		cmocka_unit_test(cname_chain),
		cmocka_unit_test(wildcard_needs_proof),
		cmocka_unit_test(nxdomain_and_nodata),
		cmocka_unit_test(nsec3_optout_and_iterations),
		cmocka_unit_test(ds_steps),
		cmocka_unit_test(ds_found_and_unsupported),
		cmocka_unit_test(dnskey_step),
		cmocka_unit_test(encode_variants),
		cmocka_unit_test(garbage_does_not_parse),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
