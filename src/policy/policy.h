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
#include <uv.h>

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

/** Parse a MUD file (at most 1 MiB). expected_url is the URL it was
 *  fetched from: mud-url must equal it, byte for byte (NULL: not checked).
 *  Every ACL a policy names must exist, and every ACE of those ACLs must
 *  have a clear action and valid host names, or the whole file is refused;
 *  ACLs no policy names are not read. Anything that is not a MUD file, or
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
 *  exact file bytes: the signature verifies, the signer's chain (with the
 *  intermediates the signature carries) leads to one of the signers, and
 *  the signer certificate allows digitalSignature. required_signer (DER
 *  Name, from a device certificate's mudsigner extension; NULL: any) must
 *  equal the signer's subject, byte for byte. With several SignerInfos one
 *  that passes is enough. Returns 0, or -1 with the reason in err.
 *  signer_out (may be NULL) gets the signer's subject DN in text form,
 *  also on failure once the signer's certificate was found ("" before). */
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
 *  callers on worker threads only queue.
 *
 *  Each device has up to two sets in the table, made when first needed:
 *  policy_pep_set_name() names them, "flags timeout", type ipv4_addr or
 *  ipv6_addr. Firewall rules that use them belong in the same table. An
 *  element's timeout is the TTL clamped to [min_timeout, max_timeout];
 *  a later answer for the same address extends it and never shortens it
 *  (another name of the device may still point there). */
struct policy_pep;

struct policy_pep_conf {
	bool nftables;			/**< write nftables sets */
	char *family;			/**< table family: ip, ip6, inet (NULL:
					     "inet"), bridge or netdev */
	char *table;			/**< table name (NULL: "anchord"):
					     letters, digits, '_', at most 63 */
	uint32_t min_timeout;		/**< seconds; short TTLs are raised
					     (0: 60) */
	uint32_t max_timeout;		/**< seconds; long TTLs are capped
					     (0: 86400) */
	uint32_t queue_size;		/**< facts waiting at most (0: 4096) */
};

/** One fact: device may now reach address for ttl seconds because it
 *  resolved name. IPv4-mapped IPv6 addresses count as IPv4 (a device on
 *  a dual-stack socket reaches them over IPv4). */
struct policy_pep_fact {
	struct util_addr device;	/**< the device's source address */
	char device_name[64];		/**< enrolled device or "" */
	struct util_addr address;	/**< an A/AAAA answer (port 0) */
	uint32_t ttl;
	char name[256];			/**< the owner name, text */
};

/** A listener gets each fact as one JSON line (no newline), on the PEP
 *  thread; it must copy what it keeps and not block, and must not call
 *  policy_pep_set_listener. The line is an object with "event":"pep",
 *  "device", "device_name", "address", "family" (4|6), "ttl" (as
 *  answered), "timeout" (as clamped), "name" and, with nftables, "set".
 *  Every fact taken off the queue is told, whatever nftables said. */
typedef void (*policy_pep_listener_fn)(void *ctx, const char *json_line);

/** Start the export thread. With conf->nftables it creates the table when
 *  missing (sets come per device); failure to reach nftables is an error
 *  here (NULL, reason in err), not later. */
struct policy_pep *policy_pep_new(const struct policy_pep_conf *conf,
				  char *err, size_t errlen);
/** Stop the thread after the queue is written out, and free. No
 *  policy_pep_add may run concurrently or later. */
void policy_pep_free(struct policy_pep *p);
/** Set or (fn NULL) clear the listener, from any thread. When it returns,
 *  the previous listener is not running and will not be called again. */
void policy_pep_set_listener(struct policy_pep *p, policy_pep_listener_fn fn,
			     void *ctx);
/** Queue a fact (any thread, never blocks). Returns false when the queue
 *  was full and the fact was dropped (counted). */
bool policy_pep_add(struct policy_pep *p, const struct policy_pep_fact *f);

/** Counters since start. Once the queue is empty,
 *  facts == written + dropped + failed. A fact is counted written or
 *  failed after its nftables write and its event: whoever sees the count
 *  sees those done. */
struct policy_pep_stats {
	uint64_t facts;			/**< offered to policy_pep_add */
	uint64_t written;		/**< exported (nftables, when on) */
	uint64_t dropped;		/**< the queue was full */
	uint64_t failed;		/**< nftables refused them twice, or
					     not an IPv4/IPv6 address */
	uint64_t errors;		/**< nftables transactions that failed
					     (a retry after re-creating the
					     table and sets included) */
};
void policy_pep_stats(struct policy_pep *p, struct policy_pep_stats *out);

/** Enough for any set name policy_pep_set_name writes. */
#define POLICY_PEP_SET_NAME_MAX 64

/** The set names of a device: "mud4_<address>" and "mud6_<address>"
 *  (family 4 or 6: the family of the set's elements, not of the device)
 *  with the address's '.' and ':' turned into '_' (nftables set names).
 *  An IPv4-mapped device address is named by its IPv4 form. out gets ""
 *  for another family or address, or when cap is too small. */
void policy_pep_set_name(const struct util_addr *device, int family,
			 char *out, size_t cap);

/* ------------------------------------------------------------------ HTTPS fetches */

/** Fetches over HTTPS with libcurl's multi interface driven by a libuv
 *  loop: nothing blocks the loop. Used for MUD files and signatures, and
 *  by the BRSKI registrar for vouchers. */
struct policy_fetcher;

struct policy_fetcher_conf {
	char *const *ca_files;		/**< the trust anchors (PEM), read
					 *   once by policy_fetcher_new; they
					 *   replace the system store, which
					 *   is used when there are none */
	size_t n_ca_files;
	uint64_t timeout_ms;		/**< whole transfer, > 0 */
	size_t max_size;		/**< > 0; a larger body fails the fetch */
};

/** The outcome of one fetch, valid only during the callback. error is
 *  NULL on success (an HTTP 200), else a short reason for the log
 *  ("HTTP 404", "TLS: ...", "larger than 1048576 bytes", "timed out after
 *  5000 ms", "not an https URL", ...). body is never NULL, holds what
 *  arrived (on an error too) and is followed by a NUL not counted in len. */
struct policy_fetch_result {
	const char *url;
	const char *error;
	long http_status;		/**< 0: no HTTP response */
	const uint8_t *body;
	size_t len;
	const char *content_type;	/**< NULL when absent */
};

typedef void (*policy_fetch_done_fn)(void *ctx,
				     const struct policy_fetch_result *r);

/** A fetcher on loop (its thread only). NULL with a reason in err
 *  ("file: reason" for a CA file that cannot be read or holds no PEM
 *  certificate). A libcurl without an asynchronous resolver would block
 *  the loop while it resolves a host name: that is logged here. */
struct policy_fetcher *policy_fetcher_new(uv_loop_t *loop,
					  const struct policy_fetcher_conf *c,
					  char *err, size_t errlen);
/** Start a GET of an https URL with the given Accept header (NULL: curl's
 *  default); done is called exactly once, later, from the loop (also on
 *  immediate failure, never from inside this call); it may start fetches
 *  and may close the fetcher. Only https URLs are fetched, redirects are
 *  not followed, the server's certificate and name are verified. Returns
 *  0, or -1 when the fetch could not even be queued (out of memory, or the
 *  fetcher is closing): then done is never called. */
int policy_fetch(struct policy_fetcher *f, const char *url,
		 const char *accept, policy_fetch_done_fn done, void *ctx);
/** The same with a POST of body (copied) as content_type: a BRSKI
 *  registrar asking a MASA for a voucher. */
int policy_fetch_post(struct policy_fetcher *f, const char *url,
		      const char *accept, const char *content_type,
		      const uint8_t *body, size_t len,
		      policy_fetch_done_fn done, void *ctx);
/** Fetches whose done has not been called yet. */
unsigned policy_fetcher_active(const struct policy_fetcher *f);
/** Cancel what is in flight (their callbacks are not called) and close
 *  the handles; the loop must run afterwards for the closes to finish,
 *  and free_done (may be NULL) is then called with its ctx, from the loop,
 *  once the fetcher is freed. May be called from a done callback. */
void policy_fetcher_close(struct policy_fetcher *f,
			  void (*free_done)(void *ctx), void *ctx);

/* ------------------------------------------------------------------ configuration */

enum policy_mud_mode {
	POLICY_MUD_OFF = 0,		/**< MUD files play no part */
	POLICY_MUD_OPTIONAL,		/**< confine a device that has one */
	POLICY_MUD_REQUIRED,		/**< only what the MUD file allows;
					 *   nothing without one */
};

/** One entry of the profiles section. Names in block and allow cover
 *  their subtrees, as in plain-domain blocklists. */
struct policy_profile_conf {
	char *name;
	char **blocklists;		/**< files, reloaded on SIGHUP */
	size_t n_blocklists;
	char **block;			/**< names given inline */
	size_t n_block;
	char **allow;			/**< exceptions: never blocked */
	size_t n_allow;
	enum policy_mud_mode mud;
	unsigned line;
};

/** One entry of the clients section: every condition given must hold.
 *  The first entry that matches a client names its profile. */
struct policy_client_conf {
	struct util_subnet *subnets;	/**< the source is in one of them */
	size_t n_subnets;
	char *device;			/**< verified certificate of this device */
	char *client_id;		/**< DoH path client id (a hint only) */
	bool certificate_profile;	/**< the profile stored with the
					 *   enrolled device (verified cert) */
	bool certificate_mud;		/**< the verified certificate carries a
					 *   MUD URL */
	char *profile;			/**< NULL: only with certificate-profile */
	unsigned line;
};

/** The mud section. */
struct policy_mud_conf {
	char **signers;			/**< PEM files of trusted MUD signers */
	size_t n_signers;
	bool require_signature;		/**< refuse unsigned MUD files */
	bool fetch;			/**< fetch MUD URLs over HTTPS */
	char **fetch_ca;		/**< extra CAs for those fetches */
	size_t n_fetch_ca;
	uint64_t fetch_timeout_ms;
	uint64_t retry_ms;		/**< after a failed fetch */
	unsigned block_rcode;		/**< 3 NXDOMAIN or 5 REFUSED */
	bool nftables;			/**< PEP export into nftables sets */
	char *nftables_table;		/**< in family inet */
};

/** Everything the policy takes from anchord.conf. */
struct policy_conf {
	struct policy_profile_conf *profiles;
	size_t n_profiles;
	struct policy_client_conf *clients;
	size_t n_clients;
	struct policy_mud_conf mud;
};

void policy_conf_defaults(struct policy_conf *c);
void policy_conf_free(struct policy_conf *c);
/** The index of a profile by name, or -1. */
int policy_conf_profile(const struct policy_conf *c, const char *name);

/* ------------------------------------------------------------------ policy generations */

/** The lists of a configuration: each profile's blocklists, inline names
 *  and exceptions, loaded once per (re)load and shared by the generations
 *  built on it. */
struct policy_lists;

/** Load every list that conf names. On failure NULL and "file: reason" in
 *  err. Skipped lines are logged, not fatal. */
struct policy_lists *policy_lists_load(const struct policy_conf *conf,
				       char *err, size_t errlen);
void policy_lists_ref(struct policy_lists *l);
void policy_lists_unref(struct policy_lists *l);
/** Blocked names over all profiles (for status). */
size_t policy_lists_blocked(const struct policy_lists *l);

/** A compiled MUD policy: the names one MUD file allows, shared by every
 *  device bound to its URL. Immutable and reference counted. */
struct policy_mud_policy;

/** Compile a parsed (and verified) file. NULL when out of memory. */
struct policy_mud_policy *policy_mud_compile(const struct policy_mud *m);
void policy_mud_policy_ref(struct policy_mud_policy *p);
void policy_mud_policy_unref(struct policy_mud_policy *p);
size_t policy_mud_policy_names(const struct policy_mud_policy *p);

/** The facts a generation is built from, besides the configuration. All
 *  are copied. */
struct policy_device_profile {
	const char *device;		/**< enrolled device (certificate CN) */
	const char *profile;		/**< its stored profile ("" none) */
};
struct policy_binding {
	struct util_addr address;	/**< the device's address (port 0) */
	const char *url;		/**< its MUD URL */
};
struct policy_mud_entry {
	const char *url;
	struct policy_mud_policy *policy;	/**< NULL: not (yet) usable */
	bool pending;			/**< the first fetch is under way */
};

struct policy_facts {
	const struct policy_device_profile *devices;
	size_t n_devices;
	const struct policy_binding *bindings;
	size_t n_bindings;
	const struct policy_mud_entry *muds;
	size_t n_muds;
};

/** One generation: configuration, lists and facts. Immutable once built,
 *  so workers read it without locks; reference counted, so a new one
 *  never disturbs requests in flight. */
struct policy;

/** Build a generation (conf is copied, lists and MUD policies are
 *  referenced). NULL when out of memory or a rule names an unknown
 *  profile (err). */
struct policy *policy_build(const struct policy_conf *conf,
			    struct policy_lists *lists,
			    const struct policy_facts *facts, char *err,
			    size_t errlen);
void policy_ref(struct policy *p);
void policy_unref(struct policy *p);
/** Increases with every generation built in this process. */
uint32_t policy_generation(const struct policy *p);
unsigned policy_block_rcode(const struct policy *p);

/* ------------------------------------------------------------------ decisions */

/** Who asks, as the transport knows it. */
struct policy_who {
	const struct sockaddr *addr;
	bool cert_verified;		/**< a client certificate from our CA */
	const char *cert_cn;		/**< its device name, or NULL */
	const char *cert_mud_url;	/**< its MUD URL extension, or NULL */
	const char *client_id;		/**< DoH client id, or NULL */
};

/** The identity of a client under one generation: resolved once per
 *  connection (per query over UDP). Plain data, copied freely. */
struct policy_identity {
	uint32_t generation;		/**< 0: not resolved */
	int16_t profile;		/**< index into the profiles */
	int16_t mud;			/**< index of the device's MUD entry
					 *   in the facts, -1: none */
	bool mud_url_unknown;		/**< a MUD URL that the facts do not
					 *   hold: it needs fetching */
};

void policy_identify(const struct policy *p, const struct policy_who *who,
		     struct policy_identity *out);

enum policy_verdict {
	POLICY_ALLOW = 0,
	POLICY_BLOCK,			/**< answer mud.block-rcode + EDE 15 */
	POLICY_NOT_READY,		/**< the MUD file is not there yet */
};

struct policy_decision {
	enum policy_verdict verdict;
	const char *reason;		/**< static text for EDE and logs */
	const char *profile;		/**< the profile's name */
	bool confined;			/**< under a MUD policy: export the
					 *   answer's addresses (PEP) */
};

/** Decide for a lower-cased wire name. Cheap: a few hash probes. */
void policy_decide(const struct policy *p, const struct policy_identity *id,
		   const uint8_t *qname, struct policy_decision *out);
