/*  anchord - policy/policy.h: the interface of the policy subsystem.
 *
 *  Who may resolve what. A client's identity (source subnet, verified
 *  client certificate, DoH client id) selects a profile; a profile allows
 *  and blocks names by lists, and may confine a device to the names of its
 *  MUD file (RFC 8520). The answers a MUD device gets can be exported to
 *  the firewall (nftables sets) and to an event stream, so that the same
 *  ACL holds at the IP level.
 *
 *  Pieces:
 *    domain sets   exact names and whole subtrees, fast with millions
 *    MUD files     parse (jansson), verify the detached CMS signature
 *    PEP export    nftables sets per device, on a thread of its own
 *    policy        profiles, client rules and compiled MUD policies in one
 *                  immutable, reference-counted generation
 */
#pragma once

#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ domain sets */

/** A set of domain names. Each entry is an exact name or a whole subtree
 *  (the name and every name below it). Built on one thread, then only read:
 *  lookups are safe from any number of threads. Names are uncompressed wire
 *  format; ASCII case does not matter (RFC 4343), though a lower-cased
 *  name is looked up without a copy. A lookup costs at most one hash and
 *  one probe per label of the query, whatever the size of the set.
 *  Names are hashed with util_hash: util_hash_init runs before a set is
 *  built, and never again while it lives. */
struct policy_domains;

enum policy_match {
	POLICY_MATCH_EXACT = 0,		/**< this name only */
	POLICY_MATCH_SUBTREE,		/**< this name and all below it */
};

struct policy_domains *policy_domains_new(void);
void policy_domains_free(struct policy_domains *d);

/** Add a wire name. Adding a name twice is harmless; a subtree entry and
 *  an exact entry for the same name make a subtree entry. The root (a
 *  single zero byte) is a name like any other: its subtree is every name.
 *  Returns 0, or -1 when out of memory or when the name breaks the limits
 *  of RFC 1035 (labels of 63 bytes, 255 in all). */
int policy_domains_add(struct policy_domains *d, const uint8_t *name,
		       enum policy_match how);

/** Add a name in text form ("example.com", trailing dot optional, any
 *  case; "." is the root). "*.example.com" means the subtree whatever how
 *  says. Labels hold letters, digits, '-' and '_'. Returns 0, -1 for a
 *  name that is not a valid host name or when out of memory. */
int policy_domains_add_text(struct policy_domains *d, const char *name,
			    enum policy_match how);

/** What loading a list found. */
struct policy_load_report {
	size_t lines;
	size_t added;			/**< entries added (duplicates too) */
	size_t skipped;			/**< malformed lines, not fatal */
	unsigned first_bad_line;	/**< 0: none */
	char first_bad[96];		/**< why that line was skipped */
};

/** Load a blocklist file into d. Each line is one of:
 *    example.com            plain-domain format: the name and its subtree
 *    *.example.com          the same
 *    0.0.0.0 example.com    hosts format (any address, one or more names):
 *                           those exact names ("*.name" among them: the
 *                           subtree)
 *  with '#' comments, blank lines and CRLF endings ignored, and the names
 *  hosts files carry for the machine itself (localhost,
 *  localhost.localdomain, local, broadcasthost, ip6-*, 0.0.0.0) left out
 *  in either format. A malformed line (a bad name, the root, an address
 *  without a name, two names without an address, a line over 4096 bytes)
 *  is skipped whole and reported, never fatal. report (may be NULL) is
 *  filled from zero. Returns 0, or -1 with a reason ("path: ...") in err
 *  when the file cannot be read or memory runs out; d may then hold part
 *  of the file. */
int policy_domains_load(struct policy_domains *d, const char *path,
			struct policy_load_report *report, char *err,
			size_t errlen);

/** Whether a wire name is in the set: an exact entry for it, or a subtree
 *  entry for it or any of its ancestors. A name that breaks the limits of
 *  RFC 1035 is in no set. */
bool policy_domains_match(const struct policy_domains *d,
			  const uint8_t *name);

/** Entries held, and the bytes allocated for them (for status and
 *  benchmarks). */
size_t policy_domains_count(const struct policy_domains *d);
size_t policy_domains_memory(const struct policy_domains *d);

/* ------------------------------------------------------------------ MUD files */

/** What anchord takes from a MUD file (RFC 8520, YANG ietf-mud@2019-01-28
 *  with ietf-acldns). Strings are NUL-terminated and owned by the struct. */
struct policy_mud {
	char *mud_url;			/**< as the file states it */
	char *signature_url;		/**< mud-signature, NULL when absent */
	char *last_update;
	uint32_t cache_validity_hours;	/**< 1..168, default 48 */
	bool is_supported;
	char *systeminfo;		/**< NULL when absent (so are the next) */
	char *mfg_name;
	char *model_name;
	/** Host names the device may reach: ietf-acldns dst-dnsname and
	 *  src-dnsname of the accepting ACEs of the ACLs that the
	 *  from-device-policy names. Lower case, no trailing dot, no
	 *  duplicates, in file order. */
	char **names;
	size_t n_names;
	/** Where the file departs from RFC 8520 and was read anyway (older
	 *  drafts' container names and the like): one line each. */
	char **warnings;
	size_t n_warnings;
};

/** Parse a MUD file. expected_url is the URL it was fetched from: mud-url
 *  must equal it (NULL: not checked). Anything that is not a MUD file, or
 *  whose meaning is not clear, is rejected: NULL, with the reason in err. */
struct policy_mud *policy_mud_parse(const uint8_t *json, size_t len,
				    const char *expected_url, char *err,
				    size_t errlen);
void policy_mud_free(struct policy_mud *m);

/** Trust anchors for MUD file signatures (mud.signers). Immutable once
 *  loaded; safe to share between threads. */
struct policy_mud_signers;

/** Load the certificates of PEM files (each may hold several). Returns
 *  NULL with "file: reason" in err. n == 0 gives an empty set, which
 *  verifies nothing. */
struct policy_mud_signers *policy_mud_signers_load(char *const *pem_files,
						   size_t n, char *err,
						   size_t errlen);
void policy_mud_signers_free(struct policy_mud_signers *s);
size_t policy_mud_signers_count(const struct policy_mud_signers *s);

/** Verify a detached CMS SignedData (DER, RFC 8520 section 13) over the
 *  exact file bytes: the signature verifies, the signer's chain leads to
 *  one of the signers, and the signer certificate allows digitalSignature.
 *  required_signer (DER Name, from a device certificate's mudsigner
 *  extension; NULL: any) must equal the signer's subject. Returns 0, or -1
 *  with the reason in err. signer_out (may be NULL) gets the signer's
 *  subject DN in text form. */
int policy_mud_verify(const struct policy_mud_signers *s, const uint8_t *file,
		      size_t file_len, const uint8_t *p7s, size_t p7s_len,
		      const uint8_t *required_signer, size_t required_len,
		      char *signer_out, size_t signer_cap, char *err,
		      size_t errlen);

/* ------------------------------------------------------------------ PEP export */

/** Policy enforcement point export: the addresses anchord hands a MUD
 *  device for its allowed names go into that device's nftables sets
 *  (libnftables), with the answer's TTL as the element timeout, and out as
 *  JSON events to whoever listens. The work runs on a thread of its own;
 *  callers on worker threads only queue. */
struct policy_pep;

struct policy_pep_conf {
	bool nftables;			/**< write nftables sets */
	char *family;			/**< nftables table family: "inet" */
	char *table;			/**< table name: "anchord" */
	uint32_t min_timeout;		/**< seconds; short TTLs are raised */
	uint32_t max_timeout;		/**< seconds; long TTLs are capped */
};

/** One fact: device may now reach address for ttl seconds because it
 *  resolved name. */
struct policy_pep_fact {
	struct util_addr device;	/**< the device's source address */
	char device_name[64];		/**< enrolled device or "" */
	struct util_addr address;	/**< an A/AAAA answer (port 0) */
	uint32_t ttl;
	char name[256];			/**< the owner name, text */
};

/** A listener gets each fact as one JSON line (no newline), on the PEP
 *  thread; it must copy what it keeps and not block. */
typedef void (*policy_pep_listener_fn)(void *ctx, const char *json_line);

/** Start the export thread. With conf->nftables it creates the table when
 *  missing (sets come per device); failure to reach nftables is an error
 *  here (NULL, reason in err), not later. */
struct policy_pep *policy_pep_new(const struct policy_pep_conf *conf,
				  char *err, size_t errlen);
/** Stop the thread after the queue is written out, and free. */
void policy_pep_free(struct policy_pep *p);
void policy_pep_set_listener(struct policy_pep *p, policy_pep_listener_fn fn,
			     void *ctx);
/** Queue a fact (any thread, never blocks). Returns false when the queue
 *  was full and the fact was dropped (counted). */
bool policy_pep_add(struct policy_pep *p, const struct policy_pep_fact *f);

struct policy_pep_stats {
	uint64_t facts, written, dropped, errors;
};
void policy_pep_stats(struct policy_pep *p, struct policy_pep_stats *out);

/** The set names of a device: "mud4_<address>" and "mud6_<address>" with
 *  the address's '.' and ':' turned into '_' (nftables set names). */
void policy_pep_set_name(const struct util_addr *device, int family,
			 char *out, size_t cap);
