/*  anchord - tests/unit/signzone.h: zones signed in-process with ldns, for
 *  the tests of the validator and of signed local zones. */
#pragma once

#include "test.h"

#include "dns/internal.h"

#include <stdio.h>

struct signed_zone {
	ldns_key_list *keys;
	ldns_rr *dnskey;
	ldns_rr_list *rrs;		/* every record, signatures included */
	struct val_key entry;		/* what a secure chain would give */
};

static inline ldns_key *make_key_alg(const char *zone, ldns_signing_algorithm alg,
				     uint16_t bits, time_t inception,
				     time_t expiration)
{
	ldns_key *k = ldns_key_new_frm_algorithm(alg, bits);
	assert_non_null(k);
	ldns_key_set_pubkey_owner(k, ldns_dname_new_frm_str(zone));
	ldns_key_set_flags(k, LDNS_KEY_ZONE_KEY | LDNS_KEY_SEP_KEY);
	ldns_key_set_inception(k, (uint32_t)inception);
	ldns_key_set_expiration(k, (uint32_t)expiration);
	ldns_rr *rr = ldns_key2rr(k);
	ldns_key_set_keytag(k, ldns_calc_keytag(rr));
	ldns_rr_free(rr);
	return k;
}

static inline ldns_key *make_key(const char *zone, time_t inception,
				 time_t expiration)
{
	return make_key_alg(zone, LDNS_SIGN_ECDSAP256SHA256, 256, inception,
			    expiration);
}

static inline int signzone_keep_new(ldns_rr *sig, void *arg)
{
	return LDNS_SIGNATURE_REMOVE_ADD_NEW;
}

static inline void signzone_collect(struct signed_zone *z,
				    ldns_dnssec_zone *dz)
{
	z->rrs = ldns_rr_list_new();
	ldns_rbnode_t *node = ldns_rbtree_first(dz->names);
	for (; node != LDNS_RBTREE_NULL; node = ldns_rbtree_next(node)) {
		ldns_dnssec_name *name = (ldns_dnssec_name *)node->data;
		for (ldns_dnssec_rrsets *s = name->rrsets; s; s = s->next) {
			for (ldns_dnssec_rrs *r = s->rrs; r; r = r->next)
				ldns_rr_list_push_rr(z->rrs, ldns_rr_clone(r->rr));
			for (ldns_dnssec_rrs *r = s->signatures; r; r = r->next)
				ldns_rr_list_push_rr(z->rrs, ldns_rr_clone(r->rr));
		}
		if (name->nsec) {
			ldns_rr_list_push_rr(z->rrs, ldns_rr_clone(name->nsec));
			for (ldns_dnssec_rrs *r = name->nsec_signatures; r;
			     r = r->next)
				ldns_rr_list_push_rr(z->rrs, ldns_rr_clone(r->rr));
		}
	}
}

/* Sign zone text (n records) with one key (a CSK) valid from inception to
 * expiration; nsec3 chooses the chain (salt abcd). */
static inline void sign_zone(struct signed_zone *z, const char *zone,
			     const char *const *text, size_t n, bool nsec3,
			     uint16_t iterations, bool optout,
			     time_t inception, time_t expiration)
{
	ldns_key *k = make_key(zone, inception, expiration);
	z->keys = ldns_key_list_new();
	ldns_key_list_push_key(z->keys, k);
	z->dnskey = ldns_key2rr(k);
	ldns_dnssec_zone *dz = ldns_dnssec_zone_new();
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr;
		assert_int_equal(ldns_rr_new_frm_str(&rr, text[i], 300, NULL,
						     NULL), LDNS_STATUS_OK);
		assert_int_equal(ldns_dnssec_zone_add_rr(dz, rr), LDNS_STATUS_OK);
	}
	ldns_dnssec_zone_add_rr(dz, ldns_rr_clone(z->dnskey));
	ldns_rr_list *added = ldns_rr_list_new();
	ldns_status st;
	if (nsec3) {
		uint8_t salt[2] = { 0xab, 0xcd };
		st = ldns_dnssec_zone_sign_nsec3(dz, added, z->keys,
						 signzone_keep_new, NULL,
						 LDNS_SHA1, optout ? 1 : 0,
						 iterations, 2, salt);
	} else {
		st = ldns_dnssec_zone_sign(dz, added, z->keys,
					   signzone_keep_new, NULL);
	}
	assert_int_equal(st, LDNS_STATUS_OK);
	signzone_collect(z, dz);
	ldns_dnssec_zone_deep_free(dz);
	ldns_rr_list_free(added);
	z->entry = (struct val_key){
		.status = VAL_SECURE,
		.zone = ldns_dname_new_frm_str(zone),
		.keys = ldns_rr_list_new(),
		.ede = DNS_EDE_NONE,
	};
	ldns_rr_list_push_rr(z->entry.keys, ldns_rr_clone(z->dnskey));
}

static inline void free_zone(struct signed_zone *z)
{
	ldns_key_list_free(z->keys);
	ldns_rr_free(z->dnskey);
	ldns_rr_list_deep_free(z->rrs);
	val_key_clear(&z->entry);
}

/* The zone as a zone file. */
static inline void write_zone(const struct signed_zone *z, const char *path)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	ldns_rr_list_print(f, z->rrs);
	fclose(f);
}
