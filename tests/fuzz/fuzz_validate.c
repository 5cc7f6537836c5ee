/*  anchord - tests/fuzz/fuzz_validate.c: the validator's view of upstream
 *  answers.
 *
 *  An upstream answer (the input) is parsed and judged with fixed key
 *  entries: the DNSKEYs of signed.test. and nsec3.test. that signed the
 *  seed corpus (tests/fuzz/make_validate_corpus.py), at a fixed time
 *  inside their signatures' validity; the first byte chooses whether the
 *  zones are secure, insecure or bogus. Both forms of the judged answer
 *  are encoded and must scan again. The same input also goes through the
 *  two steps of a chain of trust: a DS answer judged with the keys, and a
 *  DNSKEY answer judged against DS records made from them.
 */
#include "dns/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define NOW ((time_t)1800000000)	/* 2027-01-15 */

static const char *const dnskeys[] = {
	"signed.test. 300 IN DNSKEY 257 3 13 8RgjuRL3su5ZsPeHa7LJbHBTeCCaQHlj"
	"jCbyTu5a2NYczIXeM1alDly0OrxC1RPVVjtiWW6iXggEVXPH7wrN5A==",
	"nsec3.test. 300 IN DNSKEY 257 3 13 hSLAyShEJKQWMvhYfxx3i1qHpFMgejQL"
	"K9ro+G/4pEFOJA20tvCa+zaXAmCayg4IQKMhQrUKWC9cK5ROUhsORA==",
};

static struct val_key secure[2], insecure, bogus;
static ldns_rr_list *ds[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	util_hash_init();
	for (size_t i = 0; i < 2; i++) {
		ldns_rr *key;
		if (ldns_rr_new_frm_str(&key, dnskeys[i], 300, NULL, NULL) !=
		    LDNS_STATUS_OK)
			abort();
		secure[i] = (struct val_key){
			.status = VAL_SECURE,
			.zone = ldns_rdf_clone(ldns_rr_owner(key)),
			.keys = ldns_rr_list_new(),
			.ede = DNS_EDE_NONE,
		};
		ds[i] = ldns_rr_list_new();
		ldns_rr_list_push_rr(ds[i], ldns_key_rr2ds(key, LDNS_SHA256));
		ldns_rr_list_push_rr(secure[i].keys, key);
	}
	insecure = (struct val_key){ .status = VAL_INSECURE,
				     .ede = DNS_EDE_NONE };
	bogus = (struct val_key){ .status = VAL_BOGUS,
				  .ede = DNS_EDE_DNSKEY_MISSING };
	return 0;
}

/* The key entry for a name: its zone's, in the mode the input chose. */
static const struct val_key *entry(void *ctx, const ldns_rdf *name)
{
	uint8_t mode = *(const uint8_t *)ctx;
	if (mode % 8 == 6)
		return &insecure;
	if (mode % 8 == 7)
		return &bogus;
	for (size_t i = 0; i < 2; i++)
		if (ldns_dname_compare(name, secure[i].zone) == 0 ||
		    ldns_dname_is_subdomain(name, secure[i].zone))
			return &secure[i];
	return mode & 8 ? &insecure : NULL;
}

static void encode_and_rescan(const struct val_msg *m, bool dnssec_rrs)
{
	uint8_t *wire;
	size_t len;
	if (val_msg_encode(m, dnssec_rrs, &wire, &len) != 0)
		return;
	static struct dns_scan s;
	if (len > DNS_MAX_MSG || dns_response_scan(wire, len, &s) != 0)
		abort();	/* what ldns encodes must scan */
	free(wire);
}

static void chain_steps(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < 2; i++) {
		struct val_ds_result r;
		val_ds_step(data, size, secure[i].zone, &secure[i], NOW, &r);
		ldns_rr_list_deep_free(r.ds);
		struct val_key k;
		uint32_t ttl;
		val_dnskey_step(data, size, secure[i].zone, ds[i], NULL, NOW, &k,
				&ttl);
		val_key_clear(&k);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_scan s;
	/* What the forwarder would hand over: it scans first. */
	if (size < 1 || dns_response_scan(data, size, &s) != 0)
		return 0;
	uint8_t mode = data[size - 1];
	struct val_msg *m = val_msg_parse(data, size);
	if (m) {
		val_msg_judge(m, entry, &mode, NOW);
		int ede;
		const char *why;
		enum val_status st = val_msg_status(m, &ede, &why);
		if (st != VAL_SECURE && st != VAL_INSECURE && st != VAL_BOGUS)
			abort();
		encode_and_rescan(m, true);
		encode_and_rescan(m, false);
		val_msg_free(m);
	}
	chain_steps(data, size);
	return 0;
}
