/*  anchord - daemon/daemon.h: the interface of the daemon layer.
 *
 *  Configuration (anchord.conf, YAML) and the workers: one libuv loop per
 *  thread, each with its own SO_REUSEPORT sockets, all sharing one cache.
 */
#pragma once

#include "dns/dns.h"
#include "net/net.h"
#include "policy/policy.h"
#include "util/util.h"

#include <jansson.h>
#include <sys/types.h>
#include <time.h>

/* ------------------------------------------------------------------ configuration */

enum listen_kind {
	LISTEN_DNS = 0,			/**< plain DNS: UDP and TCP */
	LISTEN_DOT,			/**< DNS over TLS (RFC 7858) */
	LISTEN_HTTPS,			/**< DoH and every HTTP service */
};

/** The http section: limits of the HTTPS listeners, and /metrics. */
struct http_conf {
	unsigned max_streams;
	uint64_t buffer_budget;		/**< bytes per worker */
	bool metrics;
	struct util_subnet *metrics_allow;
	size_t n_metrics_allow;
};

/** The tls section. */
struct tls_conf {
	char *certificate;		/**< PEM path; NULL: auto (built-in CA) */
	char *key;			/**< PEM path; NULL: auto */
	struct util_addr *addresses;	/**< IP SANs of the auto certificate */
	size_t n_addresses;
	bool addresses_given;
	enum net_client_cert_mode client_certs;
	uint64_t handshake_timeout_ms;
	bool session_tickets;
	char *ca_certificate;		/**< an imported CA, or NULL: built-in */
	char *ca_key;
	bool publish_tlsa;		/**< TLSA 3 1 1 records in local data */
};

/** The est section. */
struct est_section {
	bool enabled;
	uint32_t validity;		/**< seconds */
	bool manual_approval;
	uint32_t retry_after;		/**< seconds */
	bool require_pop_linking;
	bool basic_auth;
	char **allowed_domains;
	size_t n_allowed_domains;
	char **manufacturer_trust;	/**< PEM files of IDevID issuers */
	size_t n_manufacturer_trust;
	char **masa_ca;			/**< trust for MASAs' HTTPS */
	size_t n_masa_ca;
};

/** The enroll section. */
struct enroll_section {
	bool enabled;
	uint32_t code_ttl;		/**< seconds, for anchorctl code new */
	unsigned max_failures;
	char *backup_pin;		/**< base64 SPKI SHA-256, or NULL */
};

/** The discovery section: DNS-SD records for the EST and enrollment
 *  service (RFC 6763), in local data. */
struct discovery_conf {
	bool dns_sd;
	char *domain;			/**< NULL: the parent of server.name */
	char *instance;			/**< the DNS-SD instance label */
};

struct listen_conf {
	struct util_addr addr;
	enum listen_kind kind;
	unsigned max_connections;	/**< per worker, stream transports */
	int client_certs;		/**< enum net_client_cert_mode, -1: tls's */
	unsigned line;
};

struct anchord_config {
	char *file;
	/* server */
	char *name;			/**< the resolver's name (ADN) */
	char *state_dir;
	char *control;			/**< the control socket's path */
	unsigned workers;
	char *user;			/**< drop privileges to this user */
	bool sandbox;			/**< server.sandbox: auto (Landlock) */
	uint64_t tcp_idle_timeout_ms;
	unsigned max_connections_per_client;
	unsigned max_pipelined;
	/* listen */
	struct listen_conf *listen;
	size_t n_listen;
	struct tls_conf tls;
	struct http_conf http;
	char *doh_path;			/**< doh.path */
	struct est_section est;
	struct enroll_section enroll;
	struct discovery_conf discovery;
	/* upstream, cache, local data, dnssec */
	bool upstream_system;
	bool trust_anchors_given;
	struct dns_conf dns;
	/* log */
	enum log_level log_level;
	bool log_queries;		/**< log.queries */
	char *queries_file;		/**< default <state-dir>/queries.log */
	uint64_t queries_max_size;	/**< bytes; 0: no rotation by size */
	/* profiles, clients, mud */
	struct policy_conf policy;
};

/** Load and validate a configuration file. On error, err holds
 *  "file:line: key: reason" and -1 is returned. */
int config_load(const char *path, struct anchord_config *out, char *err,
		size_t errlen);
/** The same from memory; name stands for the file in messages. */
int config_load_buffer(const char *text, size_t len, const char *name,
		       struct anchord_config *out, char *err, size_t errlen);
void config_free(struct anchord_config *c);
/** Every key the parser knows, "section.key" (NULL-terminated); the tests
 *  check anchord.conf(5) against it. */
extern const char *const config_known_keys[];

/* ------------------------------------------------------------------ workers */

struct daemon_workers;

/** Whether a listener of this kind speaks TLS. */
bool config_listen_is_tls(enum listen_kind kind);
/** Whether some listener speaks TLS. */
bool config_has_tls(const struct anchord_config *c);
/** The distinct ports of the TLS listeners (at most max); the TLSA
 *  records of anchord's certificate live at _port._tcp.<server.name>. */
size_t config_tls_ports(const struct anchord_config *c, uint16_t *ports,
			size_t max);

/** Bind every listener once per worker (before privileges are dropped).
 *  Returns NULL and writes err on failure. */
struct daemon_workers *workers_bind(const struct anchord_config *c,
				    char *err, size_t errlen);
/** Start the worker threads; tls serves the TLS listeners (may be NULL
 *  when there are none). */
int workers_start(struct daemon_workers *ws, struct dns_cache *cache,
		  struct dns_env *env, struct net_tls_server *tls);
/** Hand a new configuration generation to every worker. */
void workers_set_env(struct daemon_workers *ws, struct dns_env *env);
/** New TLS connections use these credentials (a reload); existing ones
 *  keep theirs. */
void workers_set_tls(struct daemon_workers *ws, struct net_tls_server *tls);
/** The policy generation workers decide under: before workers_start it
 *  is the one they start with; after, each worker switches at its next
 *  turn (takes a reference). */
void workers_set_policy(struct daemon_workers *ws, struct policy *p);
/** The policy's callbacks (before workers_start). */
void workers_set_policy_hooks(struct daemon_workers *ws,
			      dns_mud_wanted_fn wanted,
			      dns_confined_fn confined, void *ctx);
/** Stop accepting, answer what is in flight (at most drain_ms), stop the
 *  threads and free everything. */
void workers_stop(struct daemon_workers *ws, uint64_t drain_ms);

/* ------------------------------------------------------------------ policy */

struct store;

/** The policy on the main thread: lists, MUD files (fetched, verified,
 *  saved in the store), bindings and device profiles from the store, the
 *  PEP export; every change becomes a generation for the workers. */
struct policy_host;

/** Whether the configuration has any policy (profiles or clients). */
bool policy_host_needed(const struct anchord_config *c);
/** Load the lists and saved MUD files, start fetching, set the workers'
 *  policy and hooks (before workers_start). conf must outlive the host;
 *  store may be NULL. NULL with a reason in err. */
struct policy_host *policy_host_new(uv_loop_t *loop,
				    const struct anchord_config *conf,
				    struct store *store,
				    struct daemon_workers *workers, char *err,
				    size_t errlen);
/** conf's policy section changed (SIGHUP): reload the lists and publish.
 *  On failure nothing changes (-1, err). */
int policy_host_reload(struct policy_host *h, char *err, size_t errlen);
/** Re-read bindings and devices now (anchorctl changed them). */
void policy_host_refresh(struct policy_host *h);
/** Fetch one MUD URL ("" every one) now rather than when due. 0, or -1
 *  when there is no such URL or fetching is off. */
int policy_host_fetch_now(struct policy_host *h, const char *url);
/** MUD URLs, their state, bindings and PEP counters. */
json_t *policy_host_status(struct policy_host *h);
/** PEP events (one JSON line each) on the main loop; NULL: none. */
typedef void (*policy_host_event_fn)(void *ctx, const char *json_line);
void policy_host_set_event_listener(struct policy_host *h,
				    policy_host_event_fn fn, void *ctx);
/** After the workers have stopped: stop fetching and exporting, close the
 *  handles; closed (may be NULL) runs when all is freed. NULL is fine. */
void policy_host_close(struct policy_host *h, void (*closed)(void *ctx),
		       void *ctx);

/* ------------------------------------------------------------------ query log */

/** The query log (log.queries): a JSON line per answered query, written by
 *  a thread of its own so that workers never wait for the disk. */
struct querylog;

/** Open (create) the file and start the writer; buffers for n_workers.
 *  max_size 0: no rotation by size. NULL and err on failure. */
struct querylog *querylog_open(const char *path, uint64_t max_size,
			       unsigned n_workers, char *err, size_t errlen);
/** Log the answers of a worker's DNS state (before its loop runs). */
void querylog_attach(struct querylog *ql, unsigned worker,
		     struct dns_worker *dns);
/** Reopen the file by name (SIGHUP, after logrotate renamed it). */
void querylog_reopen(struct querylog *ql);
/** Lines lost because the file could not keep up (or not be opened). */
uint64_t querylog_dropped(struct querylog *ql);
/** Write what is buffered, stop the writer, close the file (after the
 *  workers have stopped). NULL is fine. */
void querylog_close(struct querylog *ql);
/** One line, newline included, into out: its length, or 0 when it does
 *  not fit. A pure function, for the tests. */
size_t querylog_format(char *out, size_t cap, const struct dns_answered *a,
		       const struct timespec *now);
/** Give the workers the query log (before workers_start). */
void workers_set_querylog(struct daemon_workers *ws, struct querylog *ql);

/* ------------------------------------------------------------------ enrolled devices */

struct store;

/** Which enrolled device a client is, shared by every worker. */
struct device_directory;

struct device_directory *devices_new(void);
void devices_free(struct device_directory *d);
/** A device just enrolled from address (any thread). */
void devices_add(struct device_directory *d, const char *name,
		 const char *address);
/** Replace the contents with the store's active devices. */
int devices_load(struct device_directory *d, struct store *s);
/** The newest active device enrolled from address (text, no port). */
bool devices_by_address(struct device_directory *d, const char *address,
			char *name, size_t cap);
/** Give the workers the directory (before workers_start). */
void workers_set_devices(struct daemon_workers *ws,
			 struct device_directory *d);

/* ------------------------------------------------------------------ control socket */

/* ------------------------------------------------------------------ privileges */

/** server.user, looked up once while /etc/passwd is at hand. */
struct privileges_user {
	char name[64];
	uid_t uid;
	gid_t gid;
};

/** The state directory 0700 and its secret files 0600: looser modes are
 *  tightened, each with a warning. -1 (logged) when that fails. */
int privileges_secure_state(const char *state_dir);
/** Look server.user up; -1 (logged) if there is no such user. */
int privileges_lookup(const char *user, struct privileges_user *out);
/** Give the state directory, its files and the query log to the user. */
int privileges_hand_over(const struct privileges_user *u,
			 const char *state_dir, const char *querylog);
/** Become the user; only CAP_NET_ADMIN may stay, and only when asked. */
int privileges_drop(const struct privileges_user *u, bool keep_net_admin);
/** server.sandbox: confine filesystem writes with Landlock where the
 *  kernel has it (logs whether it is on). Call before any thread starts.
 *  -1 (logged) when the kernel has Landlock but it could not be set up. */
int sandbox_apply(const struct anchord_config *c);

/** Run one command line; returns the JSON reply (the caller frees it). */
typedef json_t *(*control_fn)(void *ctx, const char *line);

#define CONTROL_MAX_LINE 1024

/** The command line a control client is sending, read in place. */
struct control_line {
	char buf[CONTROL_MAX_LINE + 1];
	size_t len;
	bool overflow;			/**< too long: skipped to its end */
};

enum control_line_state {
	CONTROL_LINE_MORE,		/**< no end of line yet */
	CONTROL_LINE_READY,		/**< buf holds the line, without CR LF */
	CONTROL_LINE_TOO_LONG,		/**< the line ended, but too late */
};

/** Account for n bytes just read into buf + len (at most
 *  CONTROL_MAX_LINE - len of them). */
enum control_line_state control_line_feed(struct control_line *l, size_t n);

struct control;

/** Listen on a Unix socket at path (mode 0600) on loop. A stale socket
 *  file is replaced; one a running daemon answers on is an error. */
struct control *control_start(uv_loop_t *loop, const char *path,
			      control_fn run, void *ctx, char *err,
			      size_t errlen);
/** Stop listening and remove the socket file. */
void control_close(struct control *ctl);
/** Send a line to every client that asked for "events" (NULL is fine). */
void control_broadcast(struct control *ctl, const char *json_line);

struct daemon_workers;
/** What `status` and `stats` answer (the caller frees them). */
json_t *control_status(const struct anchord_config *c,
		       struct daemon_workers *ws, int64_t uptime_s);
json_t *control_stats(struct daemon_workers *ws);

/* ------------------------------------------------------------------ HTTP services */

/** Everything /metrics reports, summed over the workers. */
struct daemon_metrics {
	struct dns_worker_stats dns;
	struct net_stream_stats listeners[3];	/**< by enum listen_kind */
	unsigned connections[3];
	struct dns_cache_stats cache;
	uint64_t querylog_dropped;
};

/** Read the counters of every worker (racy by design: counters are only
 *  ever incremented by their own worker, and a metric read mid-update is
 *  off by one at worst). */
void workers_collect_metrics(struct daemon_workers *ws,
			     struct daemon_metrics *out);

/** The upstreams' health as the workers last published it. */
void workers_collect_health(struct daemon_workers *ws,
			    struct dns_worker_health *out);

/** The certificate file the TLS listeners serve (auto or configured). */
void config_server_cert(const struct anchord_config *c, char *out, size_t size);

/** The HTTP services of one worker: DoH on doh.path, /metrics, EST. */
struct http_services;

struct http_services *http_services_new(uv_loop_t *loop, struct dns_worker *dns,
					const struct anchord_config *c,
					struct daemon_workers *ws,
					struct device_directory *devices);
struct net_http_router *http_services_router(struct http_services *sv);
/** Close the services' handles (the worker is draining); free them once
 *  the loop has ended. */
void http_services_close(struct http_services *sv);
void http_services_free(struct http_services *sv);

/* ------------------------------------------------------------------ discovery */

/** Add the DNS-SD records discovery.dns-sd asks for to c->dns.data (at
 *  load time, after the listeners are known). On error err says why. */
int discovery_add_records(struct anchord_config *c, char *err, size_t errlen);
/** Append a record (zone-file text) to local data, as if configured;
 *  origin names it in messages. Returns 0, or -1 without memory. */
int config_add_record(struct anchord_config *c, const char *text,
		      const char *origin);
/** The DDR records (RFC 9462): _dns.resolver.arpa and _dns.<server.name>
 *  SVCB, one per encrypted listener, DoH first. */
int ddr_add_records(struct anchord_config *c);

/* ------------------------------------------------------------------ DNR (RFC 9463) */

#define DNR_MAX_INSTANCES 8

/** One encrypted DNS endpoint of this resolver, as DNR describes it. */
struct dnr_instance {
	uint16_t priority;
	const char *adn;		/**< authentication domain name, text */
	const char *alpn;		/**< comma-separated ALPN ids: "dot" */
	uint16_t port;
	const char *dohpath;		/**< URI template, NULL when not DoH */
	const struct util_addr *addrs;	/**< both families; each encoder */
	size_t n_addrs;			/**< picks its own */
};

/** The instances of this resolver: one per distinct TLS listener (kind,
 *  port), DoH at priority 1 and DoT at 2 as in its DDR records; dohpath
 *  is filled with doh.path + "{?dns}". Returns how many. */
size_t dnr_instances(const struct anchord_config *c, struct dnr_instance *out,
		     size_t max, char *dohpath, size_t dohpath_size);
/** SvcParams in SVCB wire format (alpn, port, dohpath). Each encoder
 *  returns the bytes written, 0 when no instance has an address of its
 *  family, or -1 when the result does not fit or a field overflows. */
int dnr_svcparams(const struct dnr_instance *d, uint8_t *out, size_t cap);
/** The data of DHCPv4 OPTION_V4_DNR (162): every instance, without the
 *  option's code and length octets. */
int dnr_dhcpv4(const struct dnr_instance *d, size_t n, uint8_t *out,
	       size_t cap);
/** The data of one DHCPv6 OPTION_V6_DNR (144), without code and length. */
int dnr_dhcpv6(const struct dnr_instance *d, uint8_t *out, size_t cap);
/** A whole IPv6 RA DNR option (type 144), padded to 8 octets. */
int dnr_ra(const struct dnr_instance *d, uint32_t lifetime, uint8_t *out,
	   size_t cap);
