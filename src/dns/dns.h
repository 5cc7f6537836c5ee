/*  anchord - dns/dns.h: the interface of the DNS subsystem.
 *
 *  One request travels a transport-independent pipeline:
 *
 *      parse -> local data -> cache -> forwarder (async) -> answer
 *
 *  Transports (daemon/ glues them from net/) hand in a message and a reply
 *  callback; nothing here knows whether it came over UDP, TCP or TLS beyond
 *  the facts in struct dns_client. The hot path (a cache hit) works on wire
 *  format and allocates no ldns objects; ldns is used where records are
 *  built from text (local data, zone files).
 */
#pragma once

#include "net/net.h"
#include "policy/policy.h"
#include "util/util.h"

#include <uv.h>

/* ------------------------------------------------------------------ constants */

#define DNS_HEADER_SIZE 12
#define DNS_MAX_NAME 255		/**< wire length of a name */
#define DNS_MAX_MSG 65535
#define DNS_EDNS_UDP_DEFAULT 1232	/**< DNS flag day 2020 */
#define DNS_HEADROOM 2			/**< room before answer wire for a TCP length */
#define DNS_MAX_KEY (DNS_MAX_NAME + 5)	/**< cache/coalescing key */

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
	DNS_RCODE_BADVERS = 16,		/**< extended: needs OPT */
};

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_DNAME = 39,
	DNS_TYPE_OPT = 41,
	DNS_TYPE_DS = 43,
	DNS_TYPE_RRSIG = 46,
	DNS_TYPE_NSEC = 47,
	DNS_TYPE_DNSKEY = 48,
	DNS_TYPE_NSEC3 = 50,
	DNS_TYPE_TLSA = 52,
	DNS_TYPE_SVCB = 64,
	DNS_TYPE_HTTPS = 65,
	DNS_TYPE_TKEY = 249,
	DNS_TYPE_TSIG = 250,
	DNS_TYPE_IXFR = 251,
	DNS_TYPE_AXFR = 252,
	DNS_TYPE_MAILB = 253,
	DNS_TYPE_MAILA = 254,
	DNS_TYPE_ANY = 255,
};

#define DNS_CLASS_IN 1
#define DNS_CLASS_ANY 255

enum dns_edns_option {
	DNS_OPT_COOKIE = 10,
	DNS_OPT_KEEPALIVE = 11,		/**< RFC 7828 */
	DNS_OPT_PADDING = 12,		/**< RFC 7830 */
	DNS_OPT_EDE = 15,		/**< RFC 8914 */
};

/** Extended DNS Error codes (RFC 8914) that anchord sends. */
enum dns_ede {
	DNS_EDE_NONE = -1,
	DNS_EDE_OTHER = 0,
	DNS_EDE_UNSUPPORTED_DNSKEY_ALG = 1,
	DNS_EDE_UNSUPPORTED_DS_DIGEST = 2,
	DNS_EDE_STALE_ANSWER = 3,
	DNS_EDE_DNSSEC_INDETERMINATE = 5,
	DNS_EDE_DNSSEC_BOGUS = 6,
	DNS_EDE_SIGNATURE_EXPIRED = 7,
	DNS_EDE_SIGNATURE_NOT_YET_VALID = 8,
	DNS_EDE_DNSKEY_MISSING = 9,
	DNS_EDE_RRSIGS_MISSING = 10,
	DNS_EDE_NO_ZONE_KEY_BIT = 11,
	DNS_EDE_NSEC_MISSING = 12,
	DNS_EDE_CACHED_ERROR = 13,
	DNS_EDE_NOT_READY = 14,
	DNS_EDE_BLOCKED = 15,
	DNS_EDE_PROHIBITED = 18,
	DNS_EDE_NOT_AUTHORITATIVE = 20,
	DNS_EDE_NOT_SUPPORTED = 21,
	DNS_EDE_NO_REACHABLE_AUTHORITY = 22,
	DNS_EDE_NETWORK_ERROR = 23,
	DNS_EDE_INVALID_DATA = 24,
	DNS_EDE_UNSUPPORTED_NSEC3_ITERATIONS = 27,	/**< RFC 9276 */
};

/* Header flag bits: byte 2 and byte 3 of the header. */
#define DNS_FLAG1_QR 0x80
#define DNS_FLAG1_AA 0x04
#define DNS_FLAG1_TC 0x02
#define DNS_FLAG1_RD 0x01
#define DNS_FLAG2_RA 0x80
#define DNS_FLAG2_AD 0x20
#define DNS_FLAG2_CD 0x10

/* ------------------------------------------------------------------ wire */

/** What the pipeline needs to know about a query; filled by dns_query_parse
 *  without allocating. */
struct dns_query {
	uint16_t id;
	uint8_t opcode;
	bool rd, cd, ad;
	uint16_t qtype, qclass;
	uint16_t qname_len;		/**< wire length, including the root label */
	uint16_t question_end;		/**< offset just past the question */
	bool edns;			/**< an OPT record was present */
	uint8_t edns_version;
	bool edns_do;
	uint16_t edns_udp;		/**< the requestor's payload size */
	bool edns_padding;		/**< the query carried a padding option */
	bool edns_keepalive;		/**< the query carried edns-tcp-keepalive */
	/* Last: parsing clears everything before it, not the 255 bytes. */
	uint8_t qname[DNS_MAX_NAME];	/**< lower-cased wire name */
};

enum dns_parse_result {
	DNS_PARSE_OK = 0,
	DNS_PARSE_FORMERR,		/**< answer with FORMERR */
	DNS_PARSE_DROP,			/**< not even a header, or a response */
};

/** Parse and check a query. On FORMERR, q->id and q->opcode are valid and
 *  q->question_end is 0 unless the question itself parsed. */
enum dns_parse_result dns_query_parse(const uint8_t *wire, size_t len,
				      struct dns_query *q);

/** Read a possibly compressed name at *pos: lower-cased, uncompressed wire
 *  into out (DNS_MAX_NAME bytes). Pointers must point strictly backwards.
 *  Returns the wire length of the name or -1; *pos moves past it. */
int dns_name_unpack(const uint8_t *wire, size_t len, size_t *pos,
		    uint8_t *out);
/** Skip a possibly compressed name; returns 0 or -1. */
int dns_name_skip(const uint8_t *wire, size_t len, size_t *pos);
/** Lower-case copy of an uncompressed wire name; returns its length or -1. */
int dns_name_lower(const uint8_t *name, size_t max, uint8_t *out);
/** Number of labels of an uncompressed wire name (root = 0). */
unsigned dns_name_labels(const uint8_t *name);
/** Text form ("www.example.") of an uncompressed wire name into buf. */
const char *dns_name_str(const uint8_t *name, char *buf, size_t size);
/** Wire form of a text name into out (DNS_MAX_NAME), lower-cased.
 *  Returns the length or -1. */
int dns_name_from_str(const char *text, uint8_t *out);

/** A TTL field inside a stored message and its value when stored. */
struct dns_ttl_ref {
	uint16_t offset;
	uint32_t ttl;
};

#define DNS_SCAN_MAX_TTLS 256

/** Facts about a response from an upstream, found by dns_response_scan. */
struct dns_scan {
	uint16_t id;
	uint8_t flags1, flags2;
	uint16_t rcode;			/**< with the OPT's extended bits */
	uint16_t an, ns, ar;		/**< counts without the OPT record */
	uint16_t question_end;
	uint16_t records_end;		/**< end of the records, before a final OPT */
	bool has_opt;
	bool opt_last;			/**< OPT is the last record (or absent) */
	bool has_soa;			/**< SOA in the authority section */
	bool has_dnssec;		/**< RRSIG, NSEC or NSEC3 records */
	uint32_t negative_ttl;		/**< min(SOA TTL, SOA MINIMUM) */
	uint32_t min_ttl;		/**< smallest TTL outside the OPT */
	unsigned n_ttl;
	bool too_many_ttls;
	struct dns_ttl_ref ttl[DNS_SCAN_MAX_TTLS];
	uint8_t qname[DNS_MAX_NAME];
	uint16_t qname_len, qtype, qclass;
	bool qname_compressed;
};

/** Walk a response: every name and record is bounds-checked, pointers must
 *  point backwards. Returns 0 or -1 (malformed). */
int dns_response_scan(const uint8_t *wire, size_t len, struct dns_scan *out);
/** Call fn for every A and AAAA record in the answer section of a
 *  message: owner (uncompressed wire), family (4 or 6), the address bytes
 *  and the TTL. Returns 0, or -1 when the message is malformed. */
typedef void (*dns_address_fn)(void *ctx, const uint8_t *owner, int family,
			       const uint8_t *addr, uint32_t ttl);
int dns_answer_addresses(const uint8_t *wire, size_t len, dns_address_fn fn,
			 void *ctx);
/** How long an answer may be cached by HTTP (RFC 8484 5.1): the smallest
 *  TTL of the answer section, or for an answer without records the SOA
 *  minimum of the authority section (RFC 2308); 0 when neither. */
uint32_t dns_answer_max_age(const uint8_t *wire, size_t len);

/* ------------------------------------------------------------------ answers */

/** Builds an answer for a query into a caller buffer. */
struct dns_builder {
	uint8_t *buf;
	size_t cap;			/**< never write past this */
	size_t limit;			/**< the answer must fit; else TC */
	size_t len;
	size_t question_end;
	uint16_t count[3];		/**< answer, authority, additional */
	uint16_t rcode;			/**< extended bits go into the OPT */
	bool overflow;
	const struct dns_query *q;
};

/** EDNS facts for the OPT record of an answer. */
struct dns_answer_edns {
	int ede;			/**< enum dns_ede or DNS_EDE_NONE */
	const char *ede_text;
	bool pad;			/**< pad to the 468-byte block (RFC 8467) */
	bool keepalive;			/**< add edns-tcp-keepalive */
	uint16_t keepalive_100ms;
	uint16_t udp_size;		/**< our payload size */
};

/** Header (ID, RD and CD copied, QR, RA) and the question copied from the
 *  query wire (so the client sees its own case). */
void dns_builder_begin(struct dns_builder *b, uint8_t *buf, size_t cap,
		       size_t limit, const struct dns_query *q,
		       const uint8_t *query_wire);
void dns_builder_set_rcode(struct dns_builder *b, unsigned rcode);
void dns_builder_set_flags(struct dns_builder *b, uint8_t flags1,
			   uint8_t flags2);
/** Append stored records (e.g. a cached upstream answer whose compression
 *  pointers assume the same header and question length) and rewrite their
 *  TTLs: ttl - elapsed, or forced when force_ttl >= 0. */
void dns_builder_put_records(struct dns_builder *b, const uint8_t *rrs,
			     size_t len, uint16_t an, uint16_t ns, uint16_t ar,
			     const struct dns_ttl_ref *ttl, unsigned n_ttl,
			     uint32_t elapsed, int64_t force_ttl);
/** Append one record; owner NULL means "the question name" (compressed). */
void dns_builder_put_rr(struct dns_builder *b, unsigned section,
			const uint8_t *owner, uint16_t type, uint16_t rclass,
			uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);
/** Add the OPT record (when the query had one) and apply the size limit:
 *  an answer that does not fit is cut to the question with TC set.
 *  Returns the final length. */
size_t dns_builder_finish(struct dns_builder *b,
			  const struct dns_answer_edns *edns);

/* ------------------------------------------------------------------ configuration */

enum dns_upstream_transport {
	DNS_UPSTREAM_UDP = 0,		/**< UDP, TCP when truncated */
	DNS_UPSTREAM_TCP,
	DNS_UPSTREAM_DOT,		/**< DNS over TLS (RFC 7858) */
};

#define DNS_MAX_PINS 4

/** An upstream resolver. A DoT upstream is authenticated strictly
 *  (RFC 8310): by an SPKI pin when given, else by PKIX and its name. */
struct dns_upstream_conf {
	struct util_addr addr;
	enum dns_upstream_transport transport;
	char *name;			/**< TLS: SNI and the name verified */
	uint8_t pins[DNS_MAX_PINS][32];	/**< SHA-256 of SubjectPublicKeyInfo */
	unsigned n_pins;
	char *ca_file;			/**< TLS: trust anchors, NULL: system */
	bool dane;			/**< TLS: authenticate by a secure TLSA */
};

enum dns_zone_type {
	DNS_ZONE_STATIC = 0,		/**< answered from local data only */
	DNS_ZONE_TRANSPARENT,		/**< local names answered, others forwarded */
	DNS_ZONE_NXDOMAIN,		/**< every name NXDOMAIN */
	DNS_ZONE_REFUSE,		/**< every query REFUSED */
};

/** Where a configuration value came from, for error messages. */
struct dns_conf_origin {
	const char *file;
	unsigned line;
};

struct dns_local_zone_conf {
	char *name;
	char *file;			/**< zone file, may be NULL */
	enum dns_zone_type type;
	struct dns_conf_origin origin;
};

struct dns_local_data_conf {
	char *text;			/**< one RR in presentation format */
	struct dns_conf_origin origin;
};

/** The dnssec section: validation of forwarded answers. */
struct dns_dnssec_conf {
	bool validation;
	char **trust_anchors;		/**< files of DS/DNSKEY records */
	size_t n_trust_anchors;
	char **negative;		/**< names validation is off below */
	size_t n_negative;
};

/** Everything the DNS pipeline takes from anchord.conf. */
struct dns_conf {
	struct dns_upstream_conf *upstreams;
	size_t n_upstreams;
	struct dns_local_zone_conf *zones;
	size_t n_zones;
	struct dns_local_data_conf *data;
	size_t n_data;
	uint64_t cache_size;		/**< bytes */
	uint32_t serve_stale;		/**< seconds, 0 = off */
	uint32_t min_ttl, max_ttl, max_negative_ttl;	/**< seconds */
	uint16_t edns_udp_size;
	uint16_t tcp_keepalive_100ms;	/**< advertised in keepalive options */
	struct dns_dnssec_conf dnssec;
};

void dns_conf_free(struct dns_conf *conf);
/** Whether two configurations validate the same way (same switch, trust
 *  anchors and negative trust anchors): if not, cached verdicts are void. */
bool dns_conf_same_dnssec(const struct dns_conf *a, const struct dns_conf *b);

/* ------------------------------------------------------------------ environment */

/** One generation of configuration that requests run under: upstreams and
 *  the local-data index. Immutable once built; reference counted, so that a
 *  reload never disturbs requests in flight. */
struct dns_env;

/** Build an environment; on error write "file:line: reason" into err. */
struct dns_env *dns_env_build(const struct dns_conf *conf, char *err,
			      size_t errlen);
void dns_env_ref(struct dns_env *env);
void dns_env_unref(struct dns_env *env);
const struct dns_conf *dns_env_conf(const struct dns_env *env);

/* ------------------------------------------------------------------ cache */

/** The answer cache: response wire with TTL offsets, sharded, LRU-bounded in
 *  bytes, shared by all workers. */
struct dns_cache;

struct dns_cache *dns_cache_new(uint64_t max_bytes);
void dns_cache_free(struct dns_cache *cache);
void dns_cache_set_limit(struct dns_cache *cache, uint64_t max_bytes);
/** Drop everything (or one name and all its types when name != NULL). */
void dns_cache_flush(struct dns_cache *cache, const uint8_t *name);

struct dns_cache_stats {
	uint64_t entries, bytes, limit;
	uint64_t hits, misses, stale_hits, inserts, evictions;
};
void dns_cache_stats(struct dns_cache *cache, struct dns_cache_stats *out);

/* ------------------------------------------------------------------ requests */

enum dns_transport {
	DNS_TRANSPORT_UDP = 0,
	DNS_TRANSPORT_TCP,
	DNS_TRANSPORT_DOT,
	DNS_TRANSPORT_DOH,
	DNS_TRANSPORT_COUNT,
};

/** Who asked and how; the identity that later policy decisions key on. */
struct dns_client {
	struct util_addr addr;		/**< source */
	struct util_addr local;		/**< destination (the listener) */
	int local_ifindex;		/**< UDP: interface the query came in on */
	enum dns_transport transport;
	bool encrypted;
	bool stream;			/**< TCP-like: keepalive applies */
	/* TLS client certificate, resolved once per connection */
	bool cert_present;
	bool cert_verified;		/**< chains to anchord's CA */
	uint8_t cert_spki[32];
	char cert_cn[64];
	char client_id[64];		/**< DoH: /dns-query/<id>, a hint only */
	char cert_mud_url[256];		/**< MUD URL extension of the cert */
	uint8_t cert_mud_signer[NET_MUD_SIGNER_MAX];	/**< its mudsigner */
	uint8_t cert_mud_signer_len;
	/** Resolved by the pipeline under its policy generation; a transport
	 *  that keeps its dns_client per connection lets dns_worker_identify
	 *  resolve it once. */
	struct policy_identity policy;
};

struct dns_request;

/** How the transport takes the answer. wire has DNS_HEADROOM writable bytes
 *  before it. The request is freed right after send returns. A request
 *  that ends without an answer (dropped: not a query, or overload) calls
 *  dropped instead, with req possibly NULL. Orphaned requests call
 *  neither. */
struct dns_reply_ops {
	void (*send)(struct dns_request *req, void *ctx, uint8_t *wire,
		     size_t len);
	void (*dropped)(struct dns_request *req, void *ctx);
};

/** The client of a request, for the transport's send callback. */
const struct dns_client *dns_request_client(const struct dns_request *req);

/** Per-thread DNS state: one per worker loop. */
struct dns_worker;

struct dns_worker *dns_worker_new(uv_loop_t *loop, struct dns_cache *cache,
				  struct dns_env *env);
/** Switch to a new configuration generation (takes a reference). */
void dns_worker_set_env(struct dns_worker *w, struct dns_env *env);
/** Requests accepted and not yet answered or dropped. */
unsigned dns_worker_inflight(const struct dns_worker *w);
/** Close upstream sockets and timers; the loop must then run to finish. */
void dns_worker_shutdown(struct dns_worker *w);
void dns_worker_free(struct dns_worker *w);

/** Upper bounds (seconds) of the upstream latency histogram's buckets;
 *  the last bucket of the counts is +Inf. */
#define DNS_LATENCY_BUCKETS 12
extern const double dns_latency_bounds[DNS_LATENCY_BUCKETS];

/** Counters of one worker; metrics sum them over workers. */
struct dns_worker_stats {
	uint64_t queries[DNS_TRANSPORT_COUNT];
	uint64_t rcodes[24];
	uint64_t cache_hits, cache_misses, stale_answers;
	uint64_t local_answers, formerr_in, dropped;
	uint64_t upstream_queries, upstream_timeouts, upstream_errors;
	uint64_t upstream_mismatches, upstream_tcp_fallbacks;
	uint64_t coalesced;
	uint64_t policy_blocked;	/**< answered with the block rcode */
	uint64_t policy_not_ready;	/**< MUD file not there yet */
	uint64_t upstream_latency[DNS_LATENCY_BUCKETS + 1];
	uint64_t upstream_latency_us;	/**< sum */
	uint64_t upstream_answers;	/**< count */
};
const struct dns_worker_stats *dns_worker_get_stats(const struct dns_worker *w);

#define DNS_HEALTH_MAX 16

/** How an upstream fares, as its worker last saw it. */
struct dns_upstream_health {
	char address[UTIL_ADDR_STRLEN];
	enum dns_upstream_transport transport;
	uint32_t srtt_ms;
	uint32_t failures;		/**< in a row */
	bool down;			/**< being avoided */
};

/** Published by the worker when an upstream's state changes (and at most
 *  once a second for the round-trip time); read by other threads without a
 *  lock, like the counters: a reader may see an entry mid-update. */
struct dns_worker_health {
	struct dns_upstream_health up[DNS_HEALTH_MAX];
	size_t n;
};
const struct dns_worker_health *dns_worker_get_health(const struct dns_worker *w);

/** What a request that ended with an answer tells an observer (the query
 *  log): valid only during the call. */
struct dns_answered {
	const struct dns_client *client;
	const struct dns_query *q;	/**< q->question_end 0: no question */
	unsigned rcode;
	int ede;			/**< enum dns_ede or DNS_EDE_NONE */
	bool cached;			/**< from the cache, fresh or stale */
	bool stale;
	const char *dnssec;		/**< "secure", "insecure", "bogus";
					 *   NULL: not validated */
	uint64_t latency_ns;		/**< from dns_request_start to the answer */
};

typedef void (*dns_answered_fn)(void *ctx, const struct dns_answered *a);

/** Call fn for every answer this worker sends, on the worker's thread,
 *  right before the transport gets it. fn must not block. NULL: none. */
void dns_worker_set_answered(struct dns_worker *w, dns_answered_fn fn,
			     void *ctx);
/** The policy requests run under (takes a reference; NULL: none). Like
 *  the environment, in-flight requests keep what they started with. */
void dns_worker_set_policy(struct dns_worker *w, struct policy *p);
/** Resolve a connection's identity under the current policy, unless it
 *  is resolved under it already (cheap: a generation compare). */
void dns_worker_identify(struct dns_worker *w, struct dns_client *c);

/** A client's certificate names a MUD URL the policy does not know yet,
 *  and maybe (signer_len > 0) the DER Name that must have signed it. */
typedef void (*dns_mud_wanted_fn)(void *ctx, const char *url,
				  const uint8_t *signer, size_t signer_len);
/** An answer for a client under a MUD policy: its addresses go to the PEP.
 *  Called on the worker's thread right before the transport gets it. */
typedef void (*dns_confined_fn)(void *ctx, const struct dns_client *c,
				const uint8_t *wire, size_t len);
void dns_worker_set_policy_hooks(struct dns_worker *w, dns_mud_wanted_fn wanted,
				 dns_confined_fn confined, void *ctx);

/** Mnemonics for logs ("AAAA", "NXDOMAIN"); NULL when there is none. */
const char *dns_type_name(uint16_t type);
const char *dns_rcode_name(unsigned rcode);

/** Start a request for one query message. The answer reaches ops->send,
 *  now or later. client->transport and max_size (0 = no limit beyond 65535)
 *  describe the channel. A transport that can go away before the answer
 *  (a connection) passes a list head: the request stays linked there while
 *  in flight, so that dns_requests_orphan can find it. */
void dns_request_start(struct dns_worker *w, const uint8_t *wire, size_t len,
		       const struct dns_client *client, uint16_t max_size,
		       const struct dns_reply_ops *ops, void *ctx,
		       struct util_list *inflight);
/** The transport goes away: the requests on this list drop their answers. */
void dns_requests_orphan(struct util_list *inflight);
